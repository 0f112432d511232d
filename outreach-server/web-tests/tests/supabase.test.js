// Signing in through Supabase Auth: the second server of scripts/test-browser.sh has
// SUPABASE_URL + SUPABASE_ANON_KEY set and points at a stand-in for Supabase's REST API
// (fake-supabase.mjs). The browser talks to "Supabase" directly and sends its JWT to the
// API; the server's own sign-up is off.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { launch, newPage, PASSWORD, screenshot, uniqueEmail } from './helpers.js';

const BASE = process.env.OUTREACH_SUPABASE_BASE_URL;
if (!BASE) throw new Error('OUTREACH_SUPABASE_BASE_URL is not set: run these tests through scripts/test-browser.sh');

let browser;
let page;
const email = uniqueEmail('supa');

before(async () => {
  browser = await launch();
  page = await newPage(browser, { baseURL: BASE });
});

after(async () => {
  await browser?.close();
});

const session = () => page.evaluate(() => JSON.parse(localStorage.getItem('outreach.session')));

test('sign up through Supabase Auth and use the API with its token', async () => {
  const config = await (await fetch(new URL('/ui/config.json', BASE))).json();
  assert.equal(config.auth.mode, 'supabase');
  const calls = [];
  page.on('request', (r) => {
    if (r.url().startsWith(config.auth.supabase_url) && r.method() === 'POST') calls.push({ url: r.url(), apikey: r.headers().apikey });
  });
  await page.goto('/login?next=%2Fbilling');
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  assert.equal(await page.getByText('Have a token from', { exact: false }).count(), 0, 'no local tokens with Supabase');
  await page.getByRole('tab', { name: 'Create account' }).click();
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await page.getByRole('button', { name: 'Create account' }).last().click();
  await page.waitForURL(/\/billing$/);
  await page.getByRole('heading', { name: 'Your subscription' }).waitFor();
  assert.deepEqual(calls, [{ url: `${config.auth.supabase_url}/auth/v1/signup`, apikey: 'fake-anon-key' }]);
  const s = await session();
  assert.equal(s.mode, 'supabase');
  assert.ok(s.refresh_token);
  // The API accepted Supabase's token: the account exists with the free credits.
  const me = await (await fetch(new URL('/me', BASE), { headers: { authorization: `Bearer ${s.access_token}` } })).json();
  assert.equal(me.email, email);
  assert.equal(me.credits_remaining, 500);
  await screenshot(page, '20-supabase-billing');
});

test('an access token about to expire is refreshed with the refresh token', async () => {
  const before = await session();
  await page.evaluate(() => {
    const s = JSON.parse(localStorage.getItem('outreach.session'));
    s.expires_at = Date.now() + 5_000; // inside the refresh margin
    localStorage.setItem('outreach.session', JSON.stringify(s));
  });
  await page.goto('/');
  await page.getByRole('heading', { name: 'Recent activity' }).waitFor();
  const after = await session();
  assert.notEqual(after.refresh_token, before.refresh_token, 'a new refresh token');
  assert.ok(after.expires_at > Date.now() + 3_000_000, 'a fresh hour');
});

test("sign out, then sign in; Supabase's error is shown for a wrong password", async () => {
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  assert.equal(await session(), null);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password', { exact: true }).fill('wrong password');
  await page.getByRole('button', { name: 'Sign in', exact: true }).last().click();
  await page.getByRole('alert').filter({ hasText: 'Invalid login credentials' }).waitFor();
  await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in', exact: true }).last().click();
  await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
  assert.deepEqual(page.consoleErrors.filter((e) => !e.includes('400 (Bad Request)')), []);
});

test("the server's own sign-up is off", async () => {
  const r = await fetch(new URL('/auth/signup', BASE), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: uniqueEmail('local'), password: PASSWORD }),
  });
  assert.equal(r.status, 503);
  assert.equal((await r.json()).error.code, 'local_auth_disabled');
});
