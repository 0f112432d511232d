// The main path, as a user does it: sign up, confirm the email from the mailed link,
// upload the sample, pick the column,
// preview 3 rows, run the file, watch the progress reach 100%, download the XLSX and
// check its rows, then see the deductions on the dashboard.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';

import { apiGet, launch, mailedLink, newPage, PASSWORD, readCsv, readXlsx, SAMPLE, screenshot, uniqueEmail } from './helpers.js';

let browser;
let page;
const email = uniqueEmail('ada');
const sample = readCsv(readFileSync(SAMPLE, 'utf8'));
const sampleHeaders = sample[0];
const sampleRows = sample.slice(1);
let jobId;

before(async () => {
  browser = await launch();
  page = await newPage(browser);
});

after(async () => {
  await browser?.close();
});

test('a protected page sends a signed-out visitor to sign in', async () => {
  await page.goto('/upload');
  await page.waitForURL(/\/login\?next=%2Fupload/);
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  await screenshot(page, '01-login');
});

test('sign up with email and password', async () => {
  await page.getByRole('tab', { name: 'Create account' }).click();
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password', { exact: true }).fill('short');
  await page.getByRole('button', { name: 'Create account' }).last().click();
  await page.getByText('at least 10 characters', { exact: false }).first().waitFor();
  await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await page.getByRole('button', { name: 'Create account' }).last().click();
  // Back where the visitor wanted to go.
  await page.waitForURL(/\/upload$/);
  await page.getByRole('heading', { name: 'New upload' }).waitFor();
  const session = await page.evaluate(() => JSON.parse(localStorage.getItem('outreach.session')));
  assert.equal(session.user.email, email);
  assert.match(session.access_token, /^ey/);
  // No free credits before the email is confirmed; the page says how to get them.
  await page.locator('#verify-banner').filter({ hasText: '500 free credits' }).waitFor();
  assert.equal((await apiGet('/me', session.access_token)).credits_remaining, 0);
});

test('the mailed link confirms the email and grants the free credits once', async () => {
  const link = await mailedLink(email, '/verify');
  await page.goto(link);
  await page.locator('#verify-status').filter({ hasText: '500 free credits were added' }).waitFor();
  assert.equal(new URL(page.url()).search, '', 'the token leaves the address bar');
  await screenshot(page, '01b-verified');
  // A second click grants nothing.
  await page.goto(link);
  await page.locator('#verify-status').filter({ hasText: 'confirmed already' }).waitFor();
  const session = await page.evaluate(() => JSON.parse(localStorage.getItem('outreach.session')));
  assert.equal((await apiGet('/me', session.access_token)).credits_remaining, 500);
  await page.goto('/upload');
  await page.getByRole('heading', { name: 'New upload' }).waitFor();
  assert.equal(await page.locator('#verify-banner').count(), 0, 'no banner once confirmed');
});

test('upload the sample: headers, rows, cost and balance before any charge', async () => {
  await page.setInputFiles('input[type=file]', SAMPLE);
  const summary = page.locator('#file-summary');
  await summary.waitFor();
  assert.equal(await page.locator('#summary-rows').textContent(), String(sampleRows.length));
  assert.equal(await page.locator('#summary-cost').textContent(), String(sampleRows.length));
  assert.equal(await page.locator('#summary-balance').textContent(), '500');
  for (const header of sampleHeaders) {
    await page.getByRole('list', { name: 'Columns in the file' }).getByText(header, { exact: true }).waitFor();
  }
  await page.getByText('Nothing has been charged yet.').waitFor();
  await screenshot(page, '02-upload-file');
  await page.getByRole('button', { name: 'Next: columns' }).click();
});

test('the email column is pre-selected from the guess', async () => {
  const select = page.getByLabel('Email column', { exact: true });
  assert.equal(await select.inputValue(), 'email');
  await select.selectOption('email');
  // Every column stays in the result by default.
  const boxes = page.locator('.checks input[type=checkbox]');
  assert.equal(await boxes.count(), sampleHeaders.length + 2);
  await screenshot(page, '03-upload-columns');
  await page.getByRole('button', { name: 'Next: your offer' }).click();
});

test('preview the first 3 rows before committing', async () => {
  await page.getByLabel('Core offer').waitFor();
  assert.ok((await page.getByLabel('Core offer').inputValue()).length > 0, 'defaults are filled in');
  await page.getByLabel('Call to action').fill('a 20-minute demo');
  await page.getByText('costs 3 credits', { exact: false }).waitFor();
  await page.getByRole('button', { name: /Preview the first 3 rows/ }).click();
  const rows = page.locator('#preview-results .preview-row');
  await rows.first().waitFor({ timeout: 60_000 });
  assert.equal(await rows.count(), 3);
  for (let i = 0; i < 3; i++) {
    const row = rows.nth(i);
    assert.equal((await row.locator('.small.muted').first().textContent()).trim(), sampleRows[i][sampleHeaders.indexOf('email')]);
    const opener = (await row.locator('.opener').textContent()).trim();
    assert.ok(opener.length > 10, `an opener for row ${i}: ${opener}`);
    assert.ok(!opener.startsWith('SIF personalized line unavailable'), opener);
    assert.ok((await row.locator('li').count()) >= 1, 'research lines');
  }
  await screenshot(page, '04-upload-preview');
});

test('run the whole file and land on the jobs page', async () => {
  await page.getByRole('button', { name: `Run all ${sampleRows.length} rows (${sampleRows.length} credits)` }).click();
  await page.waitForURL(/\/jobs$/);
  await page.getByRole('heading', { name: 'Jobs', exact: true }).waitFor();
  const jobs = page.locator('article.job');
  await jobs.first().waitFor();
  assert.equal(await jobs.count(), 2, 'the preview job and the full job');
  jobId = await jobs.first().getAttribute('data-job-id');
  assert.ok(jobId);
});

test('the progress bar reaches 100% live, with the status pill', async () => {
  const card = page.locator(`article.job[data-job-id="${jobId}"]`);
  // Every value the bar shows, recorded in the page as it changes.
  await page.evaluate((id) => {
    window.__seen = [];
    const watch = () => {
      const bar = document.querySelector(`article.job[data-job-id="${id}"] [role=progressbar]`);
      if (bar) window.__seen.push(Number(bar.getAttribute('aria-valuenow')));
    };
    watch();
    new MutationObserver(watch).observe(document.getElementById('job-list'), { subtree: true, attributes: true, childList: true });
  }, jobId);
  await card.locator('[role=progressbar][aria-valuenow="100"]').waitFor({ timeout: 60_000 });
  await card.locator('.pill', { hasText: 'Completed' }).waitFor();
  await card.getByRole('button', { name: /^Download/ }).waitFor();
  const seen = await page.evaluate(() => window.__seen);
  console.log(`progress values seen: ${[...new Set(seen)].join(', ')}`);
  assert.equal(seen[seen.length - 1], 100);
  await page.getByRole('heading', { name: 'Today' }).waitFor();
  await screenshot(page, '05-jobs');
});

test('download the XLSX: every input row, in order, with research and opener', async () => {
  const card = page.locator(`article.job[data-job-id="${jobId}"]`);
  const [download] = await Promise.all([page.waitForEvent('download'), card.getByRole('button', { name: /^Download/ }).click()]);
  assert.equal(download.suggestedFilename(), 'prospects.enriched.xlsx');
  const path = await download.path();
  const rows = readXlsx(readFileSync(path));
  assert.deepEqual(rows[0], [...sampleHeaders, 'sif_research', 'sif_personalized', 'sif_status']);
  assert.equal(rows.length - 1, sampleRows.length, 'one output row per input row');
  const emailAt = sampleHeaders.indexOf('email');
  let researched = 0;
  for (const [i, row] of rows.slice(1).entries()) {
    assert.equal(row[emailAt], sampleRows[i][emailAt], `row ${i + 1} keeps its place`);
    const research = row[sampleHeaders.length];
    const opener = row[sampleHeaders.length + 1];
    if (/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(sampleRows[i][emailAt].trim())) {
      const parsed = JSON.parse(research);
      assert.ok(parsed.person || parsed.company, `row ${i + 1} has research`);
      assert.ok(opener.length > 10 && !opener.startsWith('SIF personalized line unavailable'), `row ${i + 1}: ${opener}`);
      researched += 1;
    } else {
      // The sample has a few broken addresses on purpose: they keep their row, with the fallback.
      assert.equal(research, 'Research unavailable: invalid email.', `row ${i + 1}`);
    }
  }
  assert.ok(researched >= sampleRows.length - 5, `${researched} rows researched`);
});

test('the job page shows credits, timings, logs and a sample of the results', async () => {
  await page.locator(`article.job[data-job-id="${jobId}"]`).getByRole('link', { name: 'Details' }).click();
  await page.waitForURL(new RegExp(`/jobs/${jobId}$`));
  await page.getByRole('heading', { name: 'Credits and times' }).waitFor();
  await page.getByRole('heading', { name: 'Log' }).waitFor();
  const sample = page.getByRole('region', { name: 'Sample of the result rows' });
  await sample.waitFor();
  assert.equal(await sample.locator('tbody tr').count(), 10);
  await page.getByText('Total time').waitFor();
  assert.ok((await page.locator('ol.logs li').count()) > 0, 'log lines');
  await screenshot(page, '06-job-detail');
});

test('the dashboard shows the deductions and the balance', async () => {
  await page.getByRole('link', { name: 'Dashboard', exact: true }).click();
  await page.getByRole('heading', { name: 'Recent activity' }).waitFor();
  const token = await page.evaluate(() => JSON.parse(localStorage.getItem('outreach.session')).access_token);
  const me = await apiGet('/me', token);
  // Rows that delivered nothing (the sample's broken addresses) are refunded.
  const emailAt = sampleHeaders.indexOf('email');
  const broken = (rows) => rows.filter((r) => !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(r[emailAt].trim())).length;
  assert.equal(me.credits_remaining, 500 - 3 - sampleRows.length + broken(sampleRows.slice(0, 3)) + broken(sampleRows));
  assert.equal(await page.locator('#credits-remaining').getAttribute('data-credits'), String(me.credits_remaining));
  const deductions = page.locator('tr[data-kind="deduction"]');
  assert.equal(await deductions.count(), 2);
  await deductions.filter({ hasText: `-${sampleRows.length}` }).waitFor();
  await deductions.filter({ hasText: '-3' }).waitFor();
  await page.locator('tr[data-kind="free credits"]').filter({ hasText: '+500' }).waitFor();
  await screenshot(page, '07-dashboard');
});

test('billing lists the plans and credit packs from the server', async () => {
  await page.getByRole('link', { name: 'Billing', exact: true }).click();
  await page.getByRole('heading', { name: 'Your subscription' }).waitFor();
  const config = await apiGet('/ui/config.json');
  for (const plan of config.billing.plans) {
    await page.getByRole('article', { name: new RegExp(`^${plan.name} plan$`, 'i') }).getByText(plan.price).waitFor();
  }
  for (const addon of config.billing.addons) {
    await page.getByRole('article', { name: new RegExp(`^${addon.name} credit pack$`, 'i') }).waitFor();
  }
  // Stripe is not configured here: the page says so and the buttons are off.
  await page.getByText('Online payment is not set up on this server').waitFor();
  await screenshot(page, '08-billing');
});

test('no script errors in the console', () => {
  assert.deepEqual(page.consoleErrors, []);
});
