// The wizard's email-template step (live preview rendered by the server, errors with
// line and column, A/B variants, the drafts in the result), the evidence of every
// fact on the job page, and progress watched live on a job slow enough to show values
// between 0 and 100.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import {
  apiCreateJob,
  apiSignUp,
  apiUpload,
  apiWaitJob,
  launch,
  newPage,
  PASSWORD,
  SAMPLE,
  screenshot,
  signInWithForm,
  SLOW_BASE_URL,
  uniqueEmail,
} from './helpers.js';

let browser;

before(async () => {
  browser = await launch();
});

after(async () => {
  await browser?.close();
});

async function toTemplateStep(page) {
  await page.goto('/upload');
  await page.getByRole('heading', { name: 'New upload' }).waitFor();
  await page.locator('#file').setInputFiles(SAMPLE);
  await page.locator('#file-summary').waitFor();
  await page.getByRole('button', { name: 'Next: columns' }).click();
  await page.getByRole('button', { name: 'Next: your offer' }).click();
  await page.getByRole('button', { name: 'Next: email template (optional)' }).click();
  await page.getByRole('heading', { name: '4. Email template (optional)' }).waitFor();
}

test('the template step previews drafts rendered by the server, and shows errors with line and column', async () => {
  const email = uniqueEmail('templates');
  await apiSignUp(email);
  const page = await newPage(browser);
  await signInWithForm(page, email, PASSWORD);
  await toTemplateStep(page);

  await page.getByLabel('Subject template').first().fill('Hello {{ first_name | default("there") }}');
  await page.getByLabel('Body template').first().fill('Hi,\n\n{{ sif_personalized }}\n\nBest');
  const drafts = page.locator('#template-preview .draft-preview');
  await drafts.first().waitFor();
  assert.equal(await drafts.count(), 3, 'the first three rows');
  const subject = (await drafts.first().locator('.draft-subject').textContent()).trim();
  assert.match(subject, /^Hello \S/, subject);
  const body = await drafts.first().locator('.draft-body').textContent();
  assert.ok(body.includes('[the researched opener for this row]'), body);

  // A typo: the server's error, with its place, and no drafts.
  await page.getByLabel('Body template').first().fill('Hi,\n\n{{ sif_personalised }}');
  const problem = page.locator('#template-error');
  await problem.waitFor({ state: 'visible' });
  const text = await problem.textContent();
  assert.match(text, /body template, line 3, column \d+/, text);
  assert.match(text, /sif_personalised/);
  assert.equal(await problem.getAttribute('data-line'), '3');
  assert.equal(await drafts.count(), 0);

  // Fixed, plus a variant B: every row is rendered by one of the two.
  await page.getByLabel('Body template').first().fill('Hi,\n\n{{ sif_personalized }}');
  await page.getByRole('button', { name: 'Add an A/B variant' }).click();
  await page.locator('#tpl-b-subject').fill('B: {{ first_name | default("there") }}');
  await page.locator('#tpl-b-body').fill('Variant B body');
  await page.waitForFunction(() => document.querySelectorAll('#template-preview .draft-preview').length === 3
    && [...document.querySelectorAll('#template-preview .small')].every((e) => /variant [AB]/.test(e.textContent)));
  await screenshot(page, 'upload-template-step');

  // Run it: the job carries the templates.
  await page.getByRole('button', { name: 'Run the whole file with these templates' }).click();
  await page.getByRole('heading', { name: 'Jobs', exact: true }).waitFor();
  assert.deepEqual(page.consoleErrors, []);
  await page.close();
});

test('the job page shows each row\'s status and the evidence of every fact, as text and links', async () => {
  const email = uniqueEmail('evidence');
  const token = await apiSignUp(email);
  const upload = await apiUpload(token, SAMPLE, 'prospects.csv');
  const job = await apiCreateJob(token, { file_path: upload.file_path, limit: 5 });
  await apiWaitJob(token, job.job_id);
  const page = await newPage(browser);
  await signInWithForm(page, email, PASSWORD);
  await page.goto(`/jobs/${job.job_id}`);
  const sample = page.getByRole('region', { name: 'Sample of the result rows' });
  await sample.locator('tbody tr').first().waitFor();
  assert.equal(await sample.locator('tbody tr').count(), 5);
  // A status per row, as words and as the code.
  const statuses = await sample.locator('td.row-status').evaluateAll((cells) => cells.map((c) => c.dataset.status));
  assert.equal(statuses.length, 5);
  for (const s of statuses) assert.match(s, /^[a-z_]+$/, s);
  // Evidence: fact, quote and an http(s) source link for researched rows.
  const items = sample.locator('ul.evidence li.evidence-item');
  const enriched = statuses.filter((s) => s === 'enriched').length;
  assert.ok(enriched >= 1, `some rows are researched: ${statuses}`);
  assert.ok((await items.count()) >= enriched, 'evidence under every researched row');
  const first = items.first();
  assert.ok((await first.locator('.fact').textContent()).trim().length > 0);
  assert.ok((await first.locator('q.quote').textContent()).trim().length > 0);
  const href = await first.locator('a.source').getAttribute('href');
  assert.match(href, /^https?:\/\//);
  assert.equal(await first.locator('a.source').getAttribute('rel'), 'noopener noreferrer nofollow');
  // Text, never markup: no element came from the research JSON.
  assert.equal(await sample.locator('ul.evidence script, ul.evidence img, ul.evidence iframe').count(), 0);
  await screenshot(page, 'job-evidence');
  assert.deepEqual(page.consoleErrors, []);
  await page.close();
});

test('the progress bar moves live through values between 0 and 100 (slow providers)', async () => {
  assert.ok(SLOW_BASE_URL, 'OUTREACH_SLOW_BASE_URL is set by scripts/test-browser.sh');
  const email = uniqueEmail('progress');
  const token = await apiSignUp(email, PASSWORD, SLOW_BASE_URL);
  const upload = await apiUpload(token, SAMPLE, 'prospects.csv', SLOW_BASE_URL);
  const page = await newPage(browser, { baseURL: SLOW_BASE_URL });
  await signInWithForm(page, email, PASSWORD);
  const job = await apiCreateJob(token, { file_path: upload.file_path }, SLOW_BASE_URL);
  await page.goto(`/jobs/${job.job_id}`);
  const bar = page.locator('[role=progressbar]').first();
  await bar.waitFor();
  // Every value the bar shows, recorded in the page as it changes.
  await page.evaluate(() => {
    window.__seen = [];
    const watch = () => {
      const b = document.querySelector('[role=progressbar]');
      if (b) window.__seen.push(Number(b.getAttribute('aria-valuenow')));
    };
    watch();
    new MutationObserver(watch).observe(document.querySelector('main') || document.body, { subtree: true, attributes: true, childList: true });
  });
  await page.locator('[role=progressbar][aria-valuenow="100"]').first().waitFor({ timeout: 90_000 });
  const seen = await page.evaluate(() => window.__seen);
  const distinct = [...new Set(seen)];
  console.log(`progress values seen: ${distinct.join(', ')}`);
  const between = distinct.filter((v) => v > 0 && v < 100);
  assert.ok(between.length >= 1, `values between 0 and 100 were shown live: ${distinct}`);
  // Never backwards.
  for (let i = 1; i < seen.length; i++) assert.ok(seen[i] >= seen[i - 1], `went back: ${seen}`);
  assert.equal(seen[seen.length - 1], 100);
  await page.close();
});
