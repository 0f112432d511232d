// Sessions: a bearer token (and, with Supabase, a refresh token) kept in localStorage.
//
// - local mode: POST /auth/signup and /auth/login on this server (argon2-hashed
//   passwords, tokens signed with the server's secret);
// - supabase mode: Supabase Auth's REST API from the browser
//   (POST {SUPABASE_URL}/auth/v1/token?grant_type=password, `apikey` header), and its
//   refresh token when the access token is about to expire;
// - a pasted token (from `outreach token`), which simply expires.

const KEY = 'outreach.session';
const REFRESH_MARGIN_MS = 60_000;

export class AuthError extends Error {
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

function decodeJwt(token) {
  try {
    const part = token.split('.')[1];
    const json = atob(part.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(part.length / 4) * 4, '='));
    return JSON.parse(json);
  } catch {
    return null;
  }
}

export function readSession() {
  try {
    const s = JSON.parse(localStorage.getItem(KEY) || 'null');
    return s && s.access_token ? s : null;
  } catch {
    return null;
  }
}

function save(session) {
  localStorage.setItem(KEY, JSON.stringify(session));
  return session;
}

export function signOut() {
  localStorage.removeItem(KEY);
}

function sessionFrom(mode, body) {
  const claims = decodeJwt(body.access_token) || {};
  const expiresAt = body.expires_in ? Date.now() + body.expires_in * 1000 : (claims.exp || 0) * 1000;
  return {
    mode,
    access_token: body.access_token,
    refresh_token: body.refresh_token || null,
    expires_at: expiresAt,
    user: {
      id: body.user?.id || claims.sub,
      email: body.user?.email || claims.email || '',
      email_verified: body.user?.email_verified ?? null,
    },
  };
}

/** A usable session or null: refreshed (Supabase) or dropped when expired. */
export async function currentSession(config) {
  const s = readSession();
  if (!s) return null;
  if (s.expires_at && Date.now() > s.expires_at - REFRESH_MARGIN_MS) {
    if (s.mode === 'supabase' && s.refresh_token && config.auth.mode === 'supabase') {
      try {
        const body = await supabase(config, 'token?grant_type=refresh_token', { refresh_token: s.refresh_token });
        return save(sessionFrom('supabase', body));
      } catch {
        signOut();
        return null;
      }
    }
    if (Date.now() > s.expires_at) {
      signOut();
      return null;
    }
  }
  return s;
}

async function postJson(url, body, headers = {}) {
  let response;
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json', ...headers },
      body: JSON.stringify(body),
    });
  } catch {
    throw new AuthError("Can't reach the server. Check your connection and try again.", 0);
  }
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  return { response, data };
}

async function supabase(config, path, body) {
  const { supabase_url: url, supabase_anon_key: key } = config.auth;
  const { response, data } = await postJson(`${url}/auth/v1/${path}`, body, { apikey: key, authorization: `Bearer ${key}` });
  if (!response.ok) {
    const message = data?.error_description || data?.msg || data?.message || data?.error || `Sign-in failed (HTTP ${response.status}).`;
    throw new AuthError(message, response.status);
  }
  return data;
}

function localMessage(status, data) {
  const message = data?.error?.message;
  if (status === 401) return 'Wrong email or password.';
  if (status === 409) return 'An account with this email already exists. Sign in instead.';
  if (status === 429) return message || 'Too many attempts. Wait a few minutes and try again.';
  if (status >= 500 && status !== 503) return 'Something went wrong on the server. Try again in a moment.';
  return message ? message.charAt(0).toUpperCase() + message.slice(1) + (message.endsWith('.') ? '' : '.') : `Request failed (HTTP ${status}).`;
}

export async function signIn(config, email, password) {
  if (config.auth.mode === 'supabase') {
    const body = await supabase(config, 'token?grant_type=password', { email, password });
    return save(sessionFrom('supabase', body));
  }
  const { response, data } = await postJson('/api/auth/login', { email, password });
  if (!response.ok) throw new AuthError(localMessage(response.status, data), response.status);
  return save(sessionFrom('local', data));
}

/** Returns the session, or null when Supabase wants the email confirmed first. */
export async function signUp(config, email, password) {
  if (config.auth.mode === 'supabase') {
    const body = await supabase(config, 'signup', { email, password });
    if (!body.access_token) return null;
    return save(sessionFrom('supabase', body));
  }
  const { response, data } = await postJson('/api/auth/signup', { email, password });
  if (!response.ok) throw new AuthError(localMessage(response.status, data), response.status);
  return save(sessionFrom('local', data));
}

/** A token minted with `outreach token`, pasted by hand. */
export function useToken(token) {
  const claims = decodeJwt(token.trim());
  if (!claims || !claims.sub) throw new AuthError('That does not look like a token from `outreach token`.', 400);
  if (claims.exp && claims.exp * 1000 < Date.now()) throw new AuthError('That token has expired. Mint a new one.', 400);
  return save(sessionFrom('token', { access_token: token.trim() }));
}

// ---- This server's password accounts: verification, reset, password change, sign-out ----

async function localCall(path, body, token) {
  const headers = token ? { authorization: `Bearer ${token}` } : {};
  const { response, data } = await postJson(`/api${path}`, body, headers);
  if (!response.ok) throw new AuthError(localMessage(response.status, data), response.status);
  return data;
}

function bearer() {
  const s = readSession();
  if (!s) throw new AuthError('Sign in first.', 401);
  return s.access_token;
}

/** Verifies the email with a mailed link's token: `{email, credits_granted}`. */
export async function verifyEmail(token) {
  const data = await localCall('/auth/verify', { token });
  const s = readSession();
  if (s && s.user && s.user.email === data.email) save({ ...s, user: { ...s.user, email_verified: true } });
  return data;
}

export const resendVerification = () => localCall('/auth/verify/resend', {}, bearer());

export const requestReset = (email) => localCall('/auth/reset', { email });

/** Sets a new password with a mailed reset link's token, and signs in. */
export async function confirmReset(token, newPassword) {
  const data = await localCall('/auth/reset/confirm', { token, new_password: newPassword });
  return save(sessionFrom('local', data));
}

/** A new password (needs the current one); this browser stays signed in, others not. */
export async function changePassword(current, next) {
  const data = await localCall('/auth/password', { current_password: current, new_password: next }, bearer());
  return save(sessionFrom('local', data));
}

/** Ends every session of the account (this one too) on the server, then here. */
export async function signOutEverywhere() {
  const s = readSession();
  try {
    if (s && s.mode === 'local') {
      const { response } = await postJson('/api/auth/logout', {}, { authorization: `Bearer ${s.access_token}` });
      if (!response.ok && response.status !== 401) throw new AuthError(`Sign-out failed (HTTP ${response.status}).`, response.status);
    }
  } finally {
    signOut();
  }
}
