// The settings page: a destination's API key is write-only (never in a page, a form
// field or any API answer after saving), the do-not-contact list takes a CSV upload and
// shows its count, entries are added and removed, the webhook's signing secret is
// shown once, and the API's errors are shown in plain words.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';

import { apiGet, apiSignUp, launch, newPage, PASSWORD, screenshot, signInWithForm, SLOW_BASE_URL, uniqueEmail, unexpectedConsoleErrors } from './helpers.js';

let browser;
// One account for the whole file: the server allows 10 sign-ups an hour per client
// address, and the suite signs up from one address. Each test leaves the parts of the
// settings the others look at as it found them.
let email;
let token;

before(async () => {
  browser = await launch();
  email = uniqueEmail('settings');
  token = await apiSignUp(email);
});

after(async () => {
  await browser?.close();
});

/** Every answer of the API the page received, as text (for "never in any response"). */
function recordApiAnswers(page) {
  const answers = [];
  page.on('response', async (response) => {
    if (!new URL(response.url()).pathname.startsWith('/api/')) return;
    try {
      answers.push({ url: response.url(), text: await response.text() });
    } catch {
      // a redirect or an aborted request has no body
    }
  });
  return answers;
}

/** The page's markup plus every form field's current value. */
const pageText = (page) =>
  page.evaluate(() => document.documentElement.outerHTML + [...document.querySelectorAll('input, textarea')].map((i) => i.value).join('\n'));

test('a saved destination key is never shown again: not in the page, the form, or any API answer', async () => {
  const page = await newPage(browser);
  const answers = recordApiAnswers(page);
  await signInWithForm(page, email, PASSWORD);
  await page.getByRole('link', { name: 'Settings' }).click();
  await page.getByRole('heading', { name: 'Settings', level: 1 }).waitFor();
  const card = page.locator('#destination-instantly');
  assert.match(await card.locator('.dest-status').textContent(), /Not set up/);

  const key = `ik_${randomBytes(18).toString('hex')}`;
  await page.getByLabel('Instantly API key').fill(key);
  await page.locator('#campaign-instantly').fill('camp-settings-1');
  await page.getByRole('button', { name: 'Save Instantly' }).click();
  await card.locator('.dest-status[data-saved="true"]').waitFor();
  const status = await card.locator('.dest-status').textContent();
  assert.match(status, /Saved/);
  assert.match(status, /camp-settings-1/);
  assert.match(await card.getByRole('status').textContent(), /will not be shown again/);
  assert.equal(await page.getByLabel('Instantly API key').inputValue(), '', 'the field is emptied');
  assert.ok(!(await pageText(page)).includes(key), 'the key is not in the page');

  // A reload: the saved state comes from the server, the key still nowhere.
  await page.reload();
  await card.locator('.dest-status[data-saved="true"]').waitFor();
  assert.ok(!(await pageText(page)).includes(key), 'the key is not in the page after a reload');
  assert.equal(await page.locator('#campaign-instantly').inputValue(), 'camp-settings-1');
  await screenshot(page, 'settings-destination-saved');

  // Changing the campaign without the key: the page asks for the key (never shown back).
  await page.locator('#campaign-instantly').fill('camp-settings-2');
  await page.getByRole('button', { name: 'Save Instantly' }).click();
  assert.match(await card.getByRole('alert').textContent(), /Enter the Instantly API key again/);

  // And the API itself: the list shows a hint of four characters at most.
  const listed = await apiGet('/api/destinations', token);
  assert.equal(listed.destinations.length, 1);
  assert.equal(listed.destinations[0].to, 'instantly');
  assert.ok(!JSON.stringify(listed).includes(key));
  assert.ok(answers.length >= 3, `the page called the API: ${answers.map((a) => a.url)}`);
  for (const a of answers) assert.ok(!a.text.includes(key), `the key came back from ${a.url}`);

  // Removed: back to "Not set up".
  page.once('dialog', (d) => d.accept());
  await page.getByRole('button', { name: 'Remove Instantly' }).click();
  await card.locator('.dest-status[data-saved="false"]').waitFor();
  assert.deepEqual((await apiGet('/api/destinations', token)).destinations, []);
  assert.deepEqual(unexpectedConsoleErrors(page), []);
  await page.close();
});

test('the do-not-contact list: a CSV upload shows the count; entries are added, found and removed', async () => {
  const page = await newPage(browser);
  await signInWithForm(page, email, PASSWORD);
  await page.goto('/settings');
  const count = page.locator('#dnc-count');
  await page.waitForFunction(() => /empty/.test(document.getElementById('dnc-count')?.textContent || ''));

  // A CSV with an email column: three entries (one twice, in other case), one bad line.
  const csv = 'name,email\nJane,jane@acme.com\nBob,BOB@Corp.io\nJane again,Jane@ACME.com\nNobody,not an address\nWhole domain,@blocked.example\n';
  await page.locator('#dnc-file').setInputFiles({ name: 'do-not-contact.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) });
  await page.getByRole('button', { name: 'Upload the file' }).click();
  await page.waitForFunction(() => /^3 entries/.test(document.getElementById('dnc-count').textContent));
  const message = await page.locator('#do-not-contact .alert.ok').textContent();
  assert.match(message, /do-not-contact\.csv: Added 3 new entries/);
  const shown = await page.locator('#dnc-list td.dnc-entry').allTextContents();
  assert.deepEqual(shown.sort(), ['@blocked.example', 'bob@corp.io', 'jane@acme.com']);
  const api = await apiGet('/api/suppression', token);
  assert.equal(api.count, 3);
  await screenshot(page, 'settings-do-not-contact');

  // Typed entries, one of them not an entry at all: the page says which line.
  await page.getByLabel('Add emails or domains').fill('carol@example.net\nnorthwind.test\nhello world');
  await page.getByRole('button', { name: 'Add to the list' }).click();
  await page.waitForFunction(() => /^5 entries/.test(document.getElementById('dnc-count').textContent));
  assert.match(await page.locator('#do-not-contact .alert.ok').textContent(), /Added 2 new entries.*line 3 “hello world”/);

  // Find and remove one.
  await page.getByLabel('Find an entry').fill('carol');
  assert.deepEqual(await page.locator('#dnc-list td.dnc-entry').allTextContents(), ['carol@example.net']);
  await page.getByRole('button', { name: 'Remove carol@example.net' }).click();
  await page.waitForFunction(() => /^4 entries/.test(document.getElementById('dnc-count').textContent));
  assert.equal((await apiGet('/api/suppression', token)).count, 4);
  assert.ok(!(await apiGet('/api/suppression', token)).entries.includes('carol@example.net'));
  assert.equal(await count.getAttribute('aria-live'), 'polite');
  assert.deepEqual(unexpectedConsoleErrors(page), []);
  await page.close();
});

test('the webhook\'s signing secret is shown once, on saving', async () => {
  const page = await newPage(browser);
  const answers = recordApiAnswers(page);
  await signInWithForm(page, email, PASSWORD);
  await page.goto('/settings');
  await page.locator('#webhook-current').filter({ hasText: 'No webhook is set.' }).waitFor();
  await page.getByLabel('Webhook URL').fill('https://hooks.example.com/outreach');
  await page.getByRole('button', { name: 'Save webhook' }).click();
  const secret = (await page.locator('#webhook-secret-value').textContent()).trim();
  assert.match(secret, /^whsec_[0-9a-f]{48}$/);
  assert.match(await page.locator('#webhook-secret').textContent(), /shown only this once/);
  assert.match(await page.locator('#webhook-current').textContent(), /https:\/\/hooks\.example\.com\/outreach/);
  await page.reload();
  await page.locator('#webhook-current').filter({ hasText: 'hooks.example.com' }).waitFor();
  assert.ok(!(await pageText(page)).includes(secret), 'not shown again after a reload');
  assert.ok(!JSON.stringify(await apiGet('/api/webhook', token)).includes(secret));
  // Only the PUT answered it.
  const withSecret = answers.filter((a) => a.text.includes(secret));
  assert.equal(withSecret.length, 1, withSecret.map((a) => a.url).join(', '));
  assert.deepEqual(unexpectedConsoleErrors(page), []);
  await page.close();
});

test('the API\'s errors are shown in plain words (a server without OUTREACH_SECRETS_KEY)', async () => {
  assert.ok(SLOW_BASE_URL, 'OUTREACH_SLOW_BASE_URL is set by scripts/test-browser.sh');
  const email = uniqueEmail('settings-nokey');
  await apiSignUp(email, PASSWORD, SLOW_BASE_URL);
  const page = await newPage(browser, { baseURL: SLOW_BASE_URL });
  await signInWithForm(page, email, PASSWORD);
  await page.goto('/settings');
  await page.getByLabel('Smartlead API key').fill('sl-key-1234');
  await page.getByRole('button', { name: 'Save Smartlead' }).click();
  // Client-side first: Smartlead needs a campaign.
  const alert = page.locator('#destination-smartlead [role=alert]');
  assert.match(await alert.textContent(), /Enter the default campaign ID/);
  await page.locator('#campaign-smartlead').fill('12345');
  await page.getByRole('button', { name: 'Save Smartlead' }).click();
  await alert.filter({ hasText: 'OUTREACH_SECRETS_KEY' }).waitFor();
  assert.match(await alert.textContent(), /^Set OUTREACH_SECRETS_KEY on the server to store destination keys\.$/);
  assert.match(await page.locator('#destination-smartlead .dest-status').textContent(), /Not set up/);
  await page.close();
});

test('the settings page fits a phone screen (no sideways scrolling)', async () => {
  const page = await newPage(browser, { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
  await signInWithForm(page, email, PASSWORD);
  await page.goto('/settings');
  await page.locator('#destination-hubspot').waitFor();
  await page.waitForFunction(() => !/Loading/.test(document.getElementById('dnc-count').textContent));
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.ok(overflow <= 0, `the settings page overflows by ${overflow}px`);
  const save = page.getByRole('button', { name: 'Save Instantly' });
  const box = await save.boundingBox();
  assert.ok(box && box.height >= 32, `a button big enough to tap: ${JSON.stringify(box)}`);
  await screenshot(page, 'settings-phone');
  await page.close();
});
