// A stand-in for Instantly API v2, for the browser tests of "Send to …": the one call a
// push makes, `POST /api/v2/leads/add` ("Add leads in bulk"), with campaigns that keep
// their leads so a second push really meets duplicates.
//
// Wire format as outreach-core's adapter and its wiremock fake
// (outreach-core/tests/campaign_push.rs, `InstantlyFake`) use it, from Instantly's API
// reference (developer.instantly.ai, "Add leads in bulk"; the older "Add leads to a
// campaign" page lists the same reply fields): request `{campaign_id,
// skip_if_in_campaign, skip_if_in_workspace, leads: [{email, first_name, last_name,
// company_name, website, personalization, custom_variables}]}` with `Authorization:
// Bearer <key>`; reply `{status, total_sent, leads_uploaded, in_blocklist,
// already_in_campaign, skipped_count, invalid_email_count, duplicate_email_count,
// remaining_in_plan, created_leads: [{id, index, email}]}`. Errors are Fastify's
// `{statusCode, error, message}` (Instantly's API runs on Fastify): 401 "Invalid API
// key", and 400 naming the refused lead (`body/leads/3/email must match format
// "email"`, ajv's message for a JSON-Schema `format: "email"` field, ASCII addresses
// only).
//
// Keys: any `Bearer <key>` is accepted except keys starting with `invalid`, which get
// the 401. Replies wait FAKE_INSTANTLY_DELAY_MS (default 0), so a test can watch a
// push in progress.
//
// Not Instantly: `GET /__fake/campaigns/{id}` answers what the fake received for a
// campaign (`created` in order, `sent`: each created lead as received, `received` lead
// count, `requests`, the `keys` used),
// for the tests' assertions.
//
// Run: node fake-instantly.mjs    Prints `INSTANTLY_URL=http://127.0.0.1:PORT`.

import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';

const delayMs = Number(process.env.FAKE_INSTANTLY_DELAY_MS || 0);

/** campaign id → { leads: Set(lowercased email), created: [email], sent: {email → lead as received}, received, requests, keys: Set } */
const campaigns = new Map();

function campaign(id) {
  if (!campaigns.has(id)) campaigns.set(id, { leads: new Set(), created: [], sent: {}, received: 0, requests: 0, keys: new Set() });
  return campaigns.get(id);
}

function send(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
  res.end(JSON.stringify(body));
}

const fastify = (statusCode, error, message) => ({ statusCode, error, message });

// ajv's `format: "email"` (fast mode) as Instantly's schema applies it: ASCII only.
const EMAIL = /^[a-z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/i;

function addLeads(req, res, raw) {
  const auth = req.headers.authorization || '';
  const key = auth.startsWith('Bearer ') ? auth.slice(7).trim() : '';
  if (!key || key.startsWith('invalid')) {
    send(res, 401, fastify(401, 'Unauthorized', 'Invalid API key'));
    return;
  }
  let body;
  try {
    body = JSON.parse(raw);
  } catch {
    send(res, 400, fastify(400, 'Bad Request', 'Body is not valid JSON'));
    return;
  }
  if (typeof body.campaign_id !== 'string' || !body.campaign_id) {
    send(res, 400, fastify(400, 'Bad Request', "body must have required property 'campaign_id'"));
    return;
  }
  if (!Array.isArray(body.leads)) {
    send(res, 400, fastify(400, 'Bad Request', "body must have required property 'leads'"));
    return;
  }
  for (const [i, lead] of body.leads.entries()) {
    if (typeof lead?.email !== 'string' || !EMAIL.test(lead.email)) {
      send(res, 400, fastify(400, 'Bad Request', `body/leads/${i}/email must match format "email"`));
      return;
    }
  }
  const c = campaign(body.campaign_id);
  c.requests += 1;
  c.keys.add(key);
  c.received += body.leads.length;
  const created = [];
  let already = 0;
  let duplicates = 0;
  const inRequest = new Set();
  for (const [index, lead] of body.leads.entries()) {
    const email = lead.email.toLowerCase();
    if (inRequest.has(email)) {
      duplicates += 1;
      continue;
    }
    inRequest.add(email);
    if (c.leads.has(email) && body.skip_if_in_campaign !== false) {
      already += 1;
      continue;
    }
    // Without skip_if_in_campaign Instantly would add the lead again: recorded as a
    // second creation, which the tests assert never happens.
    c.leads.add(email);
    c.created.push(email);
    c.sent[email] = lead;
    created.push({ id: randomUUID(), index, email: lead.email });
  }
  send(res, 200, {
    status: 'success',
    total_sent: body.leads.length,
    leads_uploaded: created.length,
    in_blocklist: 0,
    already_in_campaign: already,
    skipped_count: already,
    invalid_email_count: 0,
    duplicate_email_count: duplicates,
    remaining_in_plan: 99_000,
    created_leads: created,
  });
}

const server = createServer((req, res) => {
  let raw = '';
  req.on('data', (chunk) => {
    raw += chunk;
  });
  req.on('end', () => {
    const url = new URL(req.url, 'http://x');
    const fake = /^\/__fake\/campaigns\/([^/]+)$/.exec(url.pathname);
    if (req.method === 'GET' && fake) {
      const c = campaign(decodeURIComponent(fake[1]));
      send(res, 200, { created: c.created, sent: c.sent, received: c.received, requests: c.requests, keys: [...c.keys] });
    } else if (req.method === 'POST' && url.pathname === '/api/v2/leads/add') {
      setTimeout(() => addLeads(req, res, raw), delayMs);
    } else {
      send(res, 404, fastify(404, 'Not Found', `Route ${req.method}:${url.pathname} not found`));
    }
  });
});

server.listen(0, '127.0.0.1', () => {
  console.log(`INSTANTLY_URL=http://127.0.0.1:${server.address().port}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
