// Shared by the browser tests: the server under test, Chromium, screenshots, a few API
// calls made directly (to set up data quickly), and a tiny XLSX reader (ZIP + XML with
// node's zlib; no dependency).

import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inflateRawSync } from 'node:zlib';
import { chromium } from 'playwright-core';

export const BASE_URL = process.env.OUTREACH_BASE_URL;
if (!BASE_URL) throw new Error('OUTREACH_BASE_URL is not set: run these tests through scripts/test-browser.sh');

const here = dirname(fileURLToPath(import.meta.url));
export const REPO = process.env.OUTREACH_REPO || join(here, '..', '..', '..');
export const SAMPLE = join(REPO, 'examples', 'prospects.csv');
export const SCREENSHOTS = join(here, '..', 'screenshots');
mkdirSync(SCREENSHOTS, { recursive: true });

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
  '--no-first-run',
];

export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: CHROMIUM_ARGS,
  });
}

/** A fresh browser context (own localStorage) and page; console errors are collected. */
export async function newPage(browser, options = {}) {
  const context = await browser.newContext({ baseURL: BASE_URL, acceptDownloads: true, ...options });
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  page.consoleErrors = [];
  page.consoleErrorUrls = []; // the resource each console error is about, if any
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    page.consoleErrors.push(m.text());
    page.consoleErrorUrls.push(m.location()?.url || '');
  });
  page.on('pageerror', (e) => page.consoleErrors.push(String(e)));
  return page;
}

/** Console errors other than the browser's note on an expected error answer: `GET
 * /api/webhook` answers 404 when no webhook is set, and Chromium logs every 4xx fetch. */
export function unexpectedConsoleErrors(page) {
  return page.consoleErrors.filter((text, i) =>
    !(/status of 404/.test(text) && new URL(page.consoleErrorUrls[i] || 'about:blank').pathname === '/api/webhook'));
}

export async function screenshot(page, name) {
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

/** A screenshot of one part of the page (a locator). */
export async function screenshotOf(locator, name) {
  await locator.screenshot({ path: join(SCREENSHOTS, `${name}.png`) });
}

let counter = 0;
export function uniqueEmail(prefix) {
  counter += 1;
  return `${prefix}-${Date.now().toString(36)}-${process.pid}-${counter}@example.com`;
}

export const PASSWORD = 'correct horse battery';

// ---- Direct API calls, for setting up data ----

/** The server whose fake providers answer slowly (400 ms search, 1 s LLM), so a job
 * runs for several seconds and its progress can be watched in between. */
export const SLOW_BASE_URL = process.env.OUTREACH_SLOW_BASE_URL;

async function call(path, { token, method = 'GET', json, form, base = BASE_URL } = {}) {
  const headers = { accept: 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  let body;
  if (json !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(json);
  } else if (form) {
    body = form;
  }
  const response = await fetch(new URL(path, base), { method, headers, body });
  const text = await response.text();
  let data = null;
  try {
    data = JSON.parse(text);
  } catch {
    data = text;
  }
  if (!response.ok) throw new Error(`${method} ${path}: HTTP ${response.status} ${text}`);
  return data;
}

/** Signs up and verifies the email through the mailed link (the free credits come then). */
export async function apiSignUp(email, password = PASSWORD, base = BASE_URL) {
  const session = await call('/auth/signup', { method: 'POST', json: { email, password }, base });
  const token = new URL(await mailedLink(email, '/verify'), base).searchParams.get('token');
  await call('/auth/verify', { method: 'POST', json: { token }, base });
  return session.access_token;
}

// ---- Account mail ----
// The servers under test write every account mail as a JSON line ({to, subject, text,
// link}) to OUTREACH_MAIL_OUTBOX instead of sending it (scripts/test-browser.sh).
export const OUTBOX = process.env.OUTREACH_MAIL_OUTBOX;

/** The link of the newest mail to `email` whose link starts with `path` (waits for it). */
export async function mailedLink(email, path, { after = 0, timeoutMs = 5_000 } = {}) {
  if (!OUTBOX) throw new Error('OUTREACH_MAIL_OUTBOX is not set: run these tests through scripts/test-browser.sh');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let mails = [];
    try {
      mails = readFileSync(OUTBOX, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
    } catch {
      mails = [];
    }
    const mine = mails.filter((m) => m.to === email.toLowerCase() && m.link.startsWith(path));
    if (mine.length > after) return mine[mine.length - 1].link;
    if (Date.now() > deadline) throw new Error(`no mail to ${email} with a ${path} link in ${OUTBOX}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** How many mails to `email` carry a link starting with `path`. */
export function mailCount(email, path) {
  if (!OUTBOX) return 0;
  try {
    return readFileSync(OUTBOX, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l))
      .filter((m) => m.to === email.toLowerCase() && m.link.startsWith(path)).length;
  } catch {
    return 0;
  }
}

export async function apiUpload(token, path, name, base = BASE_URL) {
  const form = new FormData();
  form.append('file', new Blob([readFileSync(path)]), name);
  return call('/files', { token, method: 'POST', form, base });
}

export async function apiCreateJob(token, body, base = BASE_URL) {
  return call('/jobs', { token, method: 'POST', json: body, base });
}

export async function apiWaitJob(token, id, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const job = await call(`/jobs/${id}`, { token });
    if (['succeeded', 'failed', 'cancelled'].includes(job.status)) return job;
    if (Date.now() > deadline) throw new Error(`job ${id} did not finish: ${JSON.stringify(job)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export const apiGet = (path, token) => call(path, { token });

/** Signs in through the page's form. */
export async function signInWithForm(page, email, password = PASSWORD) {
  await page.goto('/login');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).last().click();
  await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
}

// ---- A tiny XLSX reader ----

/** The files of a ZIP archive: name → Buffer. */
export function unzip(buffer) {
  let eocd = -1;
  for (let i = buffer.length - 22; i >= Math.max(0, buffer.length - 65_557); i--) {
    if (buffer.readUInt32LE(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new Error('not a ZIP file (no end of central directory)');
  const entries = buffer.readUInt16LE(eocd + 10);
  let offset = buffer.readUInt32LE(eocd + 16);
  const files = new Map();
  for (let n = 0; n < entries; n++) {
    if (buffer.readUInt32LE(offset) !== 0x02014b50) throw new Error('bad central directory entry');
    const method = buffer.readUInt16LE(offset + 10);
    const compressed = buffer.readUInt32LE(offset + 20);
    const nameLength = buffer.readUInt16LE(offset + 28);
    const extraLength = buffer.readUInt16LE(offset + 30);
    const commentLength = buffer.readUInt16LE(offset + 32);
    const local = buffer.readUInt32LE(offset + 42);
    const name = buffer.toString('utf8', offset + 46, offset + 46 + nameLength);
    const dataStart = local + 30 + buffer.readUInt16LE(local + 26) + buffer.readUInt16LE(local + 28);
    const raw = buffer.subarray(dataStart, dataStart + compressed);
    files.set(name, method === 8 ? inflateRawSync(raw) : Buffer.from(raw));
    offset += 46 + nameLength + extraLength + commentLength;
  }
  return files;
}

const decodeXml = (s) =>
  s.replace(/&(lt|gt|amp|quot|apos|#(\d+)|#x([0-9a-f]+));/gi, (m, name, dec, hex) => {
    if (dec) return String.fromCodePoint(Number(dec));
    if (hex) return String.fromCodePoint(parseInt(hex, 16));
    return { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" }[name.toLowerCase()];
  });

const textOf = (xml) => decodeXml([...xml.matchAll(/<t(?:\s[^>]*)?>([\s\S]*?)<\/t>/g)].map((m) => m[1]).join(''));

function columnIndex(ref) {
  const letters = /^[A-Z]+/.exec(ref)[0];
  let n = 0;
  for (const c of letters) n = n * 26 + (c.charCodeAt(0) - 64);
  return n - 1;
}

/** The first sheet of an XLSX file as an array of rows (arrays of strings). */
export function readXlsx(buffer) {
  const files = unzip(buffer);
  const shared = files.has('xl/sharedStrings.xml')
    ? [...files.get('xl/sharedStrings.xml').toString('utf8').matchAll(/<si>([\s\S]*?)<\/si>/g)].map((m) => textOf(m[1]))
    : [];
  const sheet = files.get('xl/worksheets/sheet1.xml');
  if (!sheet) throw new Error(`no xl/worksheets/sheet1.xml in ${[...files.keys()].join(', ')}`);
  const rows = [];
  for (const row of sheet.toString('utf8').matchAll(/<row\b[^>]*>([\s\S]*?)<\/row>/g)) {
    const cells = [];
    for (const cell of row[1].matchAll(/<c\b([^>]*?)(?:\/>|>([\s\S]*?)<\/c>)/g)) {
      const attrs = cell[1];
      const body = cell[2] || '';
      const ref = /\br="([A-Z]+\d+)"/.exec(attrs);
      const type = /\bt="([^"]+)"/.exec(attrs)?.[1];
      const v = /<v>([\s\S]*?)<\/v>/.exec(body)?.[1];
      let value = '';
      if (type === 's') value = shared[Number(v)] ?? '';
      else if (type === 'inlineStr') value = textOf(body);
      else if (v !== undefined) value = decodeXml(v);
      const index = ref ? columnIndex(ref[1]) : cells.length;
      cells[index] = value;
    }
    rows.push(Array.from(cells, (c) => c ?? ''));
  }
  return rows;
}

/** The rows of a CSV file (quotes and doubled quotes; enough for the sample). */
export function readCsv(text) {
  const rows = [];
  let row = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else field += c;
  }
  if (field || row.length) {
    row.push(field);
    rows.push(row);
  }
  return rows.filter((r) => r.length > 1 || r[0] !== '');
}
