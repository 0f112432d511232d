// Privacy, errors and small screens: another user's job is "not found"; an unreadable
// upload is explained in the wizard; a wrong password is refused in plain words; the
// jobs page fits a phone without sideways scrolling.

import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import {
  apiCreateJob,
  apiSignUp,
  apiUpload,
  apiWaitJob,
  launch,
  newPage,
  SAMPLE,
  screenshot,
  signInWithForm,
  uniqueEmail,
} from './helpers.js';

let browser;
const owner = uniqueEmail('owner');
let ownerToken;
let ownerJob;

before(async () => {
  browser = await launch();
  ownerToken = await apiSignUp(owner);
  const upload = await apiUpload(ownerToken, SAMPLE, 'prospects.csv');
  const created = await apiCreateJob(ownerToken, { file_path: upload.file_path, email_col: 'email', limit: 5 });
  ownerJob = created.job_id;
  await apiWaitJob(ownerToken, ownerJob);
});

after(async () => {
  await browser?.close();
});

test("another user opening a job's URL sees 'not found', and the owner sees it", async () => {
  const stranger = uniqueEmail('stranger');
  await apiSignUp(stranger);
  const page = await newPage(browser);
  await signInWithForm(page, stranger);
  await page.goto(`/jobs/${ownerJob}`);
  await page.getByRole('heading', { name: 'Job not found' }).waitFor();
  assert.equal(await page.locator('#job-not-found').count(), 1);
  assert.equal(await page.getByText('prospects.csv').count(), 0, 'nothing of the job leaks');
  await page.goto('/jobs');
  await page.getByText('No jobs yet.').waitFor();
  await screenshot(page, '10-not-found');
  await page.context().close();

  const ownerPage = await newPage(browser);
  await signInWithForm(ownerPage, owner);
  await ownerPage.goto(`/jobs/${ownerJob}`);
  await ownerPage.getByRole('heading', { name: /prospects\.csv/ }).waitFor();
  await ownerPage.locator('.pill', { hasText: 'Completed' }).first().waitFor();
  await ownerPage.context().close();
});

test('an unreadable upload (a text file named .xlsx) is explained in step 1', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'outreach-web-'));
  const fake = join(dir, 'leads.xlsx');
  writeFileSync(fake, 'this is plain text, not a workbook\n');
  const page = await newPage(browser);
  await signInWithForm(page, owner);
  await page.goto('/upload');
  await page.setInputFiles('input[type=file]', fake);
  const step = page.locator('section', { has: page.getByRole('heading', { name: '1. Choose a file' }) });
  const alert = step.getByRole('alert');
  await alert.waitFor();
  const text = await alert.textContent();
  assert.match(text, /could not read “leads\.xlsx”/i);
  assert.match(text, /not a valid XLSX workbook/i);
  assert.ok(await page.getByRole('button', { name: 'Next: columns' }).isDisabled(), 'cannot go on');
  await screenshot(page, '11-upload-unreadable');

  // A type the server does not take is stopped before uploading, with the same clarity.
  const txt = join(dir, 'notes.txt');
  writeFileSync(txt, 'email\nx@y.com\n');
  await page.setInputFiles('input[type=file]', txt);
  await step.getByRole('alert').filter({ hasText: 'is not a .csv or .xlsx file' }).waitFor();
  await page.context().close();
});

test('not enough credits: the wizard says how many are needed and available', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'outreach-web-'));
  const big = join(dir, 'big list.csv');
  const lines = ['name,email'];
  for (let i = 0; i < 600; i++) lines.push(`Person ${i},person${i}@company${i % 9}.com`);
  writeFileSync(big, `${lines.join('\n')}\n`);
  const page = await newPage(browser);
  const email = uniqueEmail('short');
  await apiSignUp(email);
  await signInWithForm(page, email);
  await page.goto('/upload');
  await page.setInputFiles('input[type=file]', big);
  await page.locator('#file-summary').waitFor();
  // Warned before anything is charged…
  await page.getByText('This file needs 600 credits and you have 500.').waitFor();
  await page.getByRole('button', { name: 'Next: columns' }).click();
  await page.getByRole('button', { name: 'Next: your offer' }).click();
  await page.getByRole('button', { name: 'Run all 600 rows (600 credits)' }).click();
  // …and refused with the numbers, next to the step.
  const step = page.locator('section', { has: page.getByRole('heading', { name: '3. Describe your offer' }) });
  await step.getByRole('alert').filter({ hasText: 'Not enough credits: this needs 600 credits and you have 500.' }).waitFor();
  assert.match(page.url(), /\/upload$/, 'stays on the wizard');
  await screenshot(page, '15-upload-not-enough-credits');
  await page.context().close();
});

test('a wrong password is refused in plain words', async () => {
  const page = await newPage(browser);
  await page.goto('/login');
  await page.getByLabel('Email').fill(owner);
  await page.getByLabel('Password', { exact: true }).fill('not the password');
  await page.getByRole('button', { name: 'Sign in', exact: true }).last().click();
  await page.getByRole('alert').filter({ hasText: 'Wrong email or password.' }).waitFor();
  assert.match(page.url(), /\/login/);
  await screenshot(page, '12-login-wrong-password');
  await page.context().close();
});

test('a pasted token (as from `outreach token`) signs in', async () => {
  const page = await newPage(browser);
  await page.goto('/login');
  await page.getByText('Have a token from').click();
  await page.getByLabel('Access token').fill('not a token');
  await page.getByRole('button', { name: 'Use this token' }).click();
  await page.getByRole('alert').filter({ hasText: 'does not look like a token' }).waitFor();
  await page.getByLabel('Access token').fill(ownerToken);
  await page.getByRole('button', { name: 'Use this token' }).click();
  await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
  assert.equal(await page.locator('#who').textContent(), owner);
  await page.context().close();
});

test('the jobs page fits a phone screen (no sideways scrolling)', async () => {
  const page = await newPage(browser, { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
  await signInWithForm(page, owner);
  await page.goto('/jobs');
  await page.locator(`article.job[data-job-id="${ownerJob}"]`).waitFor();
  const { scrollWidth, clientWidth } = await page.evaluate(() => ({
    scrollWidth: document.documentElement.scrollWidth,
    clientWidth: document.documentElement.clientWidth,
  }));
  assert.ok(scrollWidth <= clientWidth, `page is ${scrollWidth}px wide in a ${clientWidth}px viewport`);
  // Buttons stay visible and large enough to tap.
  const download = page.getByRole('button', { name: /^Download/ }).first();
  const box = await download.boundingBox();
  assert.ok(box && box.x >= 0 && box.x + box.width <= clientWidth && box.height >= 32, JSON.stringify(box));
  await screenshot(page, '13-jobs-phone');

  await page.goto(`/jobs/${ownerJob}`);
  await page.getByRole('heading', { name: 'Credits and times' }).waitFor();
  const detail = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.ok(detail <= 0, `job page overflows by ${detail}px`);
  await screenshot(page, '14-job-phone');
  await page.context().close();
});

test('keyboard only: tab to the upload link and follow it', async () => {
  const page = await newPage(browser);
  await signInWithForm(page, owner);
  await page.goto('/');
  await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
  // The first Tab reaches the skip link, then the brand and the navigation.
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.textContent.trim()), 'Skip to content');
  let found = false;
  for (let i = 0; i < 8 && !found; i++) {
    await page.keyboard.press('Tab');
    found = await page.evaluate(() => document.activeElement.getAttribute('href') === '/upload');
  }
  assert.ok(found, 'the Upload link is reachable with Tab');
  const outline = await page.evaluate(() => getComputedStyle(document.activeElement).boxShadow);
  assert.notEqual(outline, 'none', 'a visible focus style');
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { name: 'New upload' }).waitFor();
  await page.context().close();
});
