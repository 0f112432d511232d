// The account's own pages: "forgot your password" (the mailed reset link, read from the
// servers' outbox file), the account page (a new password, sign out everywhere), and
// that the tokens of ended sessions are refused by the API afterwards.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { apiSignUp, BASE_URL, launch, mailCount, mailedLink, newPage, PASSWORD, screenshot, signInWithForm, uniqueEmail } from './helpers.js';

let browser;
let page;
const email = uniqueEmail('forgetful');
let apiToken;

/** The API's status for `token` on GET /me (no throw on 401). */
async function meStatus(token) {
  const response = await fetch(new URL('/api/me', BASE_URL), { headers: { authorization: `Bearer ${token}` } });
  return response.status;
}

const sessionToken = () => page.evaluate(() => JSON.parse(localStorage.getItem('outreach.session')).access_token);

before(async () => {
  browser = await launch();
  page = await newPage(browser);
  apiToken = await apiSignUp(email);
});

after(async () => {
  await browser?.close();
});

test('forgot password: the mailed link sets a new one and ends the old sessions', async () => {
  await page.goto('/login');
  await page.getByRole('link', { name: 'Forgot your password?' }).click();
  await page.getByRole('heading', { name: 'Reset your password' }).waitFor();
  const before = mailCount(email, '/reset');
  await page.getByLabel('Email').fill(email.toUpperCase());
  await page.getByRole('button', { name: 'Send the link' }).click();
  await page.getByText('a link to choose a new password is on its way', { exact: false }).waitFor();
  await screenshot(page, '30-reset-asked');
  // An unknown email gets the very same answer (and no mail).
  await page.getByLabel('Email').fill(uniqueEmail('nobody'));
  await page.getByRole('button', { name: 'Send the link' }).click();
  await page.getByText('nobody', { exact: false }).first().waitFor();

  const link = await mailedLink(email, '/reset', { after: before });
  await page.goto(link);
  await page.getByRole('heading', { name: 'Choose a new password' }).waitFor();
  assert.equal(new URL(page.url()).search, '', 'the token leaves the address bar');
  await page.getByLabel('New password', { exact: true }).fill('walnut prism harbor');
  await page.getByRole('button', { name: 'Set the new password' }).click();
  await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
  assert.equal(await meStatus(apiToken), 401, 'the session from before the reset is over');
  assert.equal(await meStatus(await sessionToken()), 200);

  // The link works once.
  await page.goto(link);
  await page.getByLabel('New password', { exact: true }).fill('another fine password');
  await page.getByRole('button', { name: 'Set the new password' }).click();
  await page.getByRole('alert').filter({ hasText: 'used already or has expired' }).waitFor();
  await screenshot(page, '31-reset-link-used');
});

test('the account page changes the password and signs out everywhere', async () => {
  await signInWithForm(page, email, 'walnut prism harbor');
  const otherDevice = await (async () => {
    const r = await fetch(new URL('/api/auth/login', BASE_URL), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password: 'walnut prism harbor' }),
    });
    return (await r.json()).access_token;
  })();
  await page.getByRole('link', { name: 'Account' }).click();
  await page.getByRole('heading', { name: 'Account' }).waitFor();
  await page.locator('#account-address').filter({ hasText: email }).waitFor();
  assert.equal(await page.locator('#verify-note').count(), 0, 'confirmed: no reminder');

  await page.getByLabel('Current password', { exact: true }).fill('not the password');
  await page.getByLabel('New password', { exact: true }).fill(PASSWORD);
  await page.getByRole('button', { name: 'Change password' }).click();
  await page.getByRole('alert').filter({ hasText: 'current password is not right' }).waitFor();
  await page.getByLabel('Current password', { exact: true }).fill('walnut prism harbor');
  await page.getByRole('button', { name: 'Change password' }).click();
  await page.getByText('Password changed. Other devices are signed out.').waitFor();
  await screenshot(page, '32-account');
  assert.equal(await meStatus(otherDevice), 401, 'the other device is signed out');
  const current = await sessionToken();
  assert.equal(await meStatus(current), 200, 'this browser stays signed in');

  await page.getByRole('button', { name: 'Sign out everywhere' }).click();
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  assert.equal(await meStatus(current), 401, 'signed out on the server, not only here');
});

test('an unconfirmed account is reminded and can ask for the link again', async () => {
  const fresh = uniqueEmail('unconfirmed');
  const p = await newPage(browser);
  await p.goto('/login?mode=signup');
  await p.getByLabel('Email').fill(fresh);
  await p.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await p.getByRole('button', { name: 'Create account' }).last().click();
  await p.locator('#verify-banner').waitFor();
  await p.getByRole('link', { name: 'Send it again' }).click();
  await p.getByRole('heading', { name: 'Account' }).waitFor();
  const before = mailCount(fresh, '/verify');
  await p.getByRole('button', { name: 'Send the link again' }).click();
  await p.getByText('A new link is on its way').waitFor();
  const link = await mailedLink(fresh, '/verify', { after: before });
  await p.goto(link);
  await p.locator('#verify-status').filter({ hasText: 'free credits were added' }).waitFor();
  await p.close();
});
