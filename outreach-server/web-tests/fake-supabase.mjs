// A stand-in for Supabase Auth's REST API, for the browser tests of the Supabase
// sign-in path: POST /auth/v1/signup, POST /auth/v1/token?grant_type=password|refresh_token,
// with the `apikey` header checked and CORS answered like Supabase does. Tokens are
// HS256 JWTs signed with SUPABASE_JWT_SECRET, `aud: authenticated`, `iss: <url>/auth/v1`.
//
// Run: SUPABASE_JWT_SECRET=… SUPABASE_ANON_KEY=… node fake-supabase.mjs
// Prints `SUPABASE_URL=http://127.0.0.1:PORT` once listening.

import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { createServer } from 'node:http';

const secret = process.env.SUPABASE_JWT_SECRET;
const anonKey = process.env.SUPABASE_ANON_KEY;
if (!secret || !anonKey) throw new Error('set SUPABASE_JWT_SECRET and SUPABASE_ANON_KEY');

const users = new Map(); // email → { id, email, password }
const refreshTokens = new Map(); // token → email
let issuer = '';

const b64url = (data) => Buffer.from(data).toString('base64url');

function jwt(claims) {
  const head = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const body = b64url(JSON.stringify(claims));
  const sig = createHmac('sha256', secret).update(`${head}.${body}`).digest('base64url');
  return `${head}.${body}.${sig}`;
}

function session(user) {
  const now = Math.floor(Date.now() / 1000);
  const refresh = randomBytes(16).toString('hex');
  refreshTokens.set(refresh, user.email);
  return {
    access_token: jwt({ sub: user.id, email: user.email, aud: 'authenticated', role: 'authenticated', iss: issuer, iat: now, exp: now + 3600 }),
    token_type: 'bearer',
    expires_in: 3600,
    expires_at: now + 3600,
    refresh_token: refresh,
    user: { id: user.id, email: user.email, aud: 'authenticated', role: 'authenticated' },
  };
}

function send(res, status, body) {
  res.writeHead(status, {
    'content-type': 'application/json',
    'access-control-allow-origin': '*',
  });
  res.end(JSON.stringify(body));
}

const server = createServer((req, res) => {
  if (req.method === 'OPTIONS') {
    res.writeHead(204, {
      'access-control-allow-origin': '*',
      'access-control-allow-methods': 'GET, POST, OPTIONS',
      'access-control-allow-headers': 'apikey, authorization, content-type, x-client-info',
      'access-control-max-age': '600',
    });
    res.end();
    return;
  }
  let raw = '';
  req.on('data', (chunk) => {
    raw += chunk;
  });
  req.on('end', () => {
    if (req.headers.apikey !== anonKey) {
      send(res, 401, { message: 'Invalid API key' });
      return;
    }
    let body = {};
    try {
      body = JSON.parse(raw || '{}');
    } catch {
      send(res, 400, { error: 'invalid_request', error_description: 'invalid JSON' });
      return;
    }
    const url = new URL(req.url, 'http://x');
    const email = String(body.email || '').trim().toLowerCase();
    if (req.method === 'POST' && url.pathname === '/auth/v1/signup') {
      if (String(body.password || '').length < 6) {
        send(res, 422, { code: 422, msg: 'Password should be at least 6 characters' });
      } else if (users.has(email)) {
        send(res, 422, { code: 422, msg: 'User already registered' });
      } else {
        const user = { id: randomUUID(), email, password: body.password };
        users.set(email, user);
        send(res, 200, session(user));
      }
    } else if (req.method === 'POST' && url.pathname === '/auth/v1/token' && url.searchParams.get('grant_type') === 'password') {
      const user = users.get(email);
      if (!user || user.password !== body.password) send(res, 400, { error: 'invalid_grant', error_description: 'Invalid login credentials' });
      else send(res, 200, session(user));
    } else if (req.method === 'POST' && url.pathname === '/auth/v1/token' && url.searchParams.get('grant_type') === 'refresh_token') {
      const owner = refreshTokens.get(body.refresh_token);
      refreshTokens.delete(body.refresh_token);
      if (!owner) send(res, 400, { error: 'invalid_grant', error_description: 'Invalid Refresh Token' });
      else send(res, 200, session(users.get(owner)));
    } else {
      send(res, 404, { message: 'not found' });
    }
  });
});

server.listen(0, '127.0.0.1', () => {
  const url = `http://127.0.0.1:${server.address().port}`;
  issuer = `${url}/auth/v1`;
  console.log(`SUPABASE_URL=${url}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
