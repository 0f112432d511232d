// "Send to …" on a finished job's page, against the stand-in for Instantly API v2
// (web-tests/fake-instantly.mjs, started by scripts/test-browser.sh, 1 s per request):
// the key saved on the settings page, a do-not-contact entry added there, a job run,
// the push's live progress, each row's result, and a second push that creates nothing.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';

import {
  apiCreateJob,
  apiGet,
  apiSignUp,
  apiUpload,
  apiWaitJob,
  BASE_URL,
  launch,
  newPage,
  PASSWORD,
  readCsv,
  SAMPLE,
  screenshot,
  screenshotOf,
  signInWithForm,
  uniqueEmail,
  unexpectedConsoleErrors,
} from './helpers.js';

const FAKE_INSTANTLY = process.env.OUTREACH_FAKE_INSTANTLY_URL;
const SUPPRESSED = 'jane.doe@northwind-logistics.com';

let browser;
// One account for the file (the server allows 10 sign-ups an hour per client address):
// first without a destination, then with Instantly saved.
let email;
let token;
let smallJob; // 3 rows, run by the first test

before(async () => {
  browser = await launch();
  email = uniqueEmail('push');
  token = await apiSignUp(email);
});

after(async () => {
  await browser?.close();
});

async function fakeCampaign(id) {
  const response = await fetch(`${FAKE_INSTANTLY}/__fake/campaigns/${encodeURIComponent(id)}`);
  return response.json();
}

/** The sample's emails by data row (1-based), trimmed, as the push reads them. */
function sampleEmails() {
  const [header, ...rows] = readCsv(readFileSync(SAMPLE, 'utf8'));
  const col = header.indexOf('email');
  return rows.map((r) => (r[col] || '').trim());
}

const plausible = (e) => /^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(e);

/** The result table as [{row, email, status, reason}]. */
const resultRows = (page) =>
  page.locator('#push-results tbody tr').evaluateAll((trs) => trs.map((tr) => ({
    row: Number(tr.dataset.row),
    email: tr.querySelector('td.email').textContent,
    status: tr.querySelector('td.push-status').dataset.status,
    reason: tr.querySelector('td.reason').textContent,
  })));

/** Records every text the push's live region shows, with the region's status. */
async function watchProgress(page) {
  await page.evaluate(() => {
    window.__pushSeen = [];
    const region = document.getElementById('push-progress');
    const record = () => window.__pushSeen.push({ status: region.dataset.status || '', text: region.textContent, hidden: region.hidden });
    new MutationObserver(record).observe(region, { subtree: true, childList: true, characterData: true, attributes: true });
  });
}

test('with no destination saved, "Send to …" is disabled and links to the settings', async () => {
  const upload = await apiUpload(token, SAMPLE, 'prospects.csv');
  const job = await apiCreateJob(token, { file_path: upload.file_path, limit: 3 });
  await apiWaitJob(token, job.job_id);
  smallJob = job.job_id;
  const page = await newPage(browser);
  await signInWithForm(page, email, PASSWORD);
  await page.goto(`/jobs/${job.job_id}`);
  const setup = page.locator('#push-setup');
  await setup.waitFor();
  assert.ok(await page.locator('#push-start').isDisabled());
  assert.ok(await page.getByLabel('Destination').isDisabled());
  assert.equal(await page.locator('#push-start').getAttribute('aria-describedby'), 'push-setup');
  await setup.getByRole('link', { name: 'Save an API key in Settings' }).click();
  await page.getByRole('heading', { name: 'Settings', level: 1 }).waitFor();
  assert.deepEqual(unexpectedConsoleErrors(page), []);
  await page.close();
});

test('Send to Instantly: progress, then each row\'s result; a second push creates nothing', async () => {
  assert.ok(FAKE_INSTANTLY, 'OUTREACH_FAKE_INSTANTLY_URL is set by scripts/test-browser.sh');
  const page = await newPage(browser);
  await signInWithForm(page, email, PASSWORD);

  // Settings: the Instantly key and campaign, and one person not to contact.
  const key = `ik_${randomBytes(16).toString('hex')}`;
  const campaign = `camp-${randomBytes(6).toString('hex')}`;
  await page.goto('/settings');
  await page.getByLabel('Instantly API key').fill(key);
  await page.locator('#campaign-instantly').fill(campaign);
  await page.getByRole('button', { name: 'Save Instantly' }).click();
  await page.locator('#destination-instantly .dest-status[data-saved="true"]').waitFor();
  await page.getByLabel('Add emails or domains').fill(SUPPRESSED.toUpperCase());
  await page.getByRole('button', { name: 'Add to the list' }).click();
  await page.waitForFunction(() => /^1 entry/.test(document.getElementById('dnc-count').textContent));

  // A job over the whole sample (50 rows), run after the entry was added, with two
  // email variants: the leads must arrive with their subject, body and variant.
  const upload = await apiUpload(token, SAMPLE, 'prospects.csv');
  const job = await apiCreateJob(token, {
    file_path: upload.file_path,
    variants: [
      { name: 'A', subject: 'A: hello {{ first_name | default("there") }}', body: 'A body. {{ sif_personalized }}' },
      { name: 'B', subject: 'B: hi {{ first_name | default("there") }}', body: 'B body. {{ sif_personalized }}' },
    ],
  });
  const done = await apiWaitJob(token, job.job_id, 120_000);
  assert.equal(done.status, 'succeeded', JSON.stringify(done));

  await page.goto(`/jobs/${job.job_id}`);
  const card = page.getByRole('region', { name: 'Send to a sequencer or CRM' });
  await card.waitFor();
  const start = page.locator('#push-start');
  await page.waitForFunction(() => document.getElementById('push-start')?.textContent === 'Send to Instantly');
  assert.equal(await page.getByLabel('Destination').inputValue(), 'instantly');
  assert.equal(await page.getByLabel('Campaign ID').inputValue(), campaign, 'the saved campaign by default');
  assert.ok(await start.isEnabled());
  assert.equal(await page.locator('#push-history tbody tr').count(), 0, 'no pushes yet');

  await watchProgress(page);
  await start.click();
  await page.locator('#push-progress[data-status="succeeded"]').waitFor({ timeout: 30_000 });
  const seen = await page.evaluate(() => window.__pushSeen);
  const running = seen.filter((s) => s.status === 'running' && !s.hidden);
  assert.ok(running.length >= 1, `the push was shown running: ${JSON.stringify(seen)}`);
  assert.match(running[0].text, new RegExp(`Sending to Instantly \\(campaign ${campaign}\\)… \\d+ of 50 rows`));
  assert.equal(await page.locator('#push-progress').getAttribute('aria-live'), 'polite');
  assert.equal(await page.locator('#push-progress [role=progressbar]').getAttribute('aria-valuenow'), '100');

  // Each row's result: the suppressed one skipped, rows without an address rejected,
  // every other row pushed.
  const emails = sampleEmails();
  const rows = await resultRows(page);
  assert.equal(rows.length, 50);
  for (const r of rows) {
    const expected = emails[r.row - 1].toLowerCase() === SUPPRESSED ? 'skipped' : plausible(emails[r.row - 1]) ? 'pushed' : 'rejected';
    assert.equal(r.status, expected, `row ${r.row} ${r.email}: ${r.status} (${r.reason})`);
    if (expected === 'skipped') assert.equal(r.reason, 'suppressed');
    if (expected === 'rejected') assert.ok(r.reason.length > 0, `row ${r.row} says why`);
  }
  const pushedCount = rows.filter((r) => r.status === 'pushed').length;
  assert.ok(pushedCount >= 45, `most rows pushed: ${pushedCount}`);
  assert.match(await page.locator('#push-status-text').textContent(), new RegExp(`${pushedCount} pushed · 1 skipped · ${50 - pushedCount - 1} rejected`));
  let fake = await fakeCampaign(campaign);
  assert.equal(fake.created.length, pushedCount, 'the fake created exactly the pushed leads');
  assert.ok(!fake.created.includes(SUPPRESSED), 'the suppressed person was never sent');
  assert.deepEqual(fake.keys, [key], 'the saved key was the one used');
  // Every lead carries its draft and variant as custom variables, and its opener.
  const variantsSeen = new Set();
  for (const address of fake.created) {
    const lead = fake.sent[address];
    const vars = lead.custom_variables || {};
    assert.match(vars.variant || '', /^[AB]$/, `${address}: ${JSON.stringify(vars)}`);
    variantsSeen.add(vars.variant);
    assert.ok(vars.email_subject.startsWith(`${vars.variant}: `), `${address}: ${vars.email_subject}`);
    assert.ok(vars.email_body.startsWith(`${vars.variant} body. `), `${address}: ${vars.email_body}`);
    assert.ok(vars.email_body.includes(vars.sif_personalized), `${address}: the body holds the opener`);
  }
  assert.deepEqual([...variantsSeen].sort(), ['A', 'B'], 'both variants were sent');
  assert.equal(await page.locator('#push-history tbody tr').count(), 1);
  assert.ok(await start.isEnabled(), 'ready for another push');
  await screenshot(page, 'job-push-results');
  await screenshotOf(card, 'job-push-card');

  // Only the rejected ones, through the filter.
  await page.getByLabel('Show', { exact: true }).selectOption('rejected');
  assert.ok((await resultRows(page)).every((r) => r.status === 'rejected'));
  await page.getByLabel('Show', { exact: true }).selectOption('');

  // Again: nothing new is created; every sent row comes back skipped as a duplicate.
  await start.click();
  await page.locator('#push-history tbody tr').nth(1).waitFor({ timeout: 30_000 });
  await page.waitForFunction(() => document.querySelectorAll('#push-history tbody tr[data-status="running"]').length === 0);
  await page.locator('#push-progress[data-status="succeeded"]').waitFor();
  const again = await resultRows(page);
  assert.equal(again.length, 50);
  assert.equal(again.filter((r) => r.status === 'pushed').length, 0, 'nothing pushed twice');
  assert.equal(again.filter((r) => r.status === 'skipped').length, pushedCount + 1);
  assert.ok(again.filter((r) => r.status === 'skipped' && r.email.toLowerCase() !== SUPPRESSED).every((r) => /duplicate/.test(r.reason)));
  fake = await fakeCampaign(campaign);
  assert.equal(fake.created.length, pushedCount, 'the fake received no duplicate leads');
  assert.equal(new Set(fake.created).size, fake.created.length);
  assert.equal(fake.requests, 2);

  // The API agrees, newest first; the history shows both.
  const pushes = (await apiGet(`/api/jobs/${job.job_id}/pushes`, token)).pushes;
  assert.equal(pushes.length, 2);
  assert.deepEqual([pushes[0].pushed, pushes[1].pushed], [0, pushedCount]);
  const historyCells = await page.locator('#push-history tbody tr').first().locator('td').allTextContents();
  assert.equal(historyCells[1], 'Instantly');
  assert.equal(historyCells[4], '0');

  // An earlier push's rows, from the history.
  await page.locator('#push-history tbody tr').nth(1).getByRole('button').click();
  await page.waitForFunction((n) => [...document.querySelectorAll('#push-results td.push-status')].filter((td) => td.dataset.status === 'pushed').length === n, pushedCount);
  assert.deepEqual(unexpectedConsoleErrors(page), []);
  await page.close();
});

test('leaving the page stops following a push; a refused key or a destination removed meanwhile is explained', async () => {
  assert.ok(smallJob, 'the first test ran a job');
  const page = await newPage(browser);
  await signInWithForm(page, email, PASSWORD);
  const polls = [];
  page.on('request', (r) => {
    if (/\/api\/jobs\/[^/]+\/pushes\/push_/.test(new URL(r.url()).pathname)) polls.push(Date.now());
  });

  // A push of the small job (the fake answers after 1 s); leave at once.
  await page.goto(`/jobs/${smallJob}`);
  await page.waitForFunction(() => document.getElementById('push-start')?.textContent === 'Send to Instantly');
  await page.locator('#push-start').click();
  await page.locator('#push-progress[data-status="running"]').waitFor();
  await page.getByRole('link', { name: 'All jobs' }).click();
  await page.getByRole('heading', { name: 'Jobs', exact: true }).waitFor();
  const left = Date.now();
  await new Promise((r) => setTimeout(r, 2500));
  assert.equal(polls.filter((t) => t > left + 100).length, 0, `no polling after leaving: ${polls.map((t) => t - left)}`);

  // Back on the page, the ended push is in the history.
  await page.goto(`/jobs/${smallJob}`);
  await page.locator('#push-history tbody tr[data-status="succeeded"]').waitFor();

  // A key Instantly refuses (the fake answers 401 "Invalid API key").
  await page.goto('/settings');
  await page.getByLabel('Instantly API key').fill('invalid-key-0000');
  await page.locator('#campaign-instantly').fill('camp-refused');
  await page.getByRole('button', { name: 'Save Instantly' }).click();
  await page.locator('#destination-instantly .dest-status').filter({ hasText: 'camp-refused' }).waitFor();
  await page.goto(`/jobs/${smallJob}`);
  await page.waitForFunction(() => document.getElementById('push-campaign')?.value === 'camp-refused');
  await page.locator('#push-start').click();
  await page.locator('#push-progress[data-status="failed"]').waitFor({ timeout: 30_000 });
  const error = await page.locator('#push-error').textContent();
  assert.match(error, /rejected the API key \(HTTP 401\)/, error);
  assert.equal(await page.locator('#push-error').getAttribute('role'), 'alert');
  assert.equal(await page.locator('#push-error a').getAttribute('href'), '/settings');
  assert.equal((await fakeCampaign('camp-refused')).created.length, 0);
  await screenshotOf(page.locator('#push'), 'job-push-refused-key');

  const errorsBefore = unexpectedConsoleErrors(page);
  assert.deepEqual(errorsBefore, []);

  // The destination removed elsewhere (another tab, the API) after the page loaded: the
  // API's 409 becomes a sentence with the way out.
  const removed = await fetch(new URL('/api/destinations/instantly', BASE_URL), { method: 'DELETE', headers: { authorization: `Bearer ${token}` } });
  assert.equal(removed.status, 204);
  await page.locator('#push-start').click();
  const refusal = page.locator('#push [role=alert]').filter({ hasText: 'No Instantly API key is saved' });
  await refusal.waitFor();
  assert.equal(await refusal.locator('a').getAttribute('href'), '/settings');
  // Chromium's one note is about that 409.
  assert.deepEqual(unexpectedConsoleErrors(page).slice(errorsBefore.length).map((e) => /status of 409/.test(e)), [true]);
  await page.close();
});
