// The API client: every request carries the session's bearer token; errors become an
// ApiError with the server's code and a message in plain words.

import { readSession, signOut } from './auth.js';

export class ApiError extends Error {
  constructor(status, code, message, body) {
    super(message);
    this.status = status;
    this.code = code;
    this.body = body || {};
  }
}

/** Called on a 401: the app sends the user to the sign-in page. */
let onUnauthorized = () => {};
export function setUnauthorizedHandler(fn) {
  onUnauthorized = fn;
}

function authHeaders() {
  const s = readSession();
  return s ? { authorization: `Bearer ${s.access_token}` } : {};
}

async function errorFrom(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  const e = body?.error || {};
  const error = new ApiError(response.status, e.code || `http_${response.status}`, e.message || response.statusText, e);
  if (response.status === 401) {
    signOut();
    onUnauthorized();
  }
  return error;
}

/** The API's canonical prefix: `/api/jobs` is the API, `/jobs` the page. (The server
 * still answers the API at the old unprefixed paths for older clients.) */
export const API_BASE = '/api';

// `no-store`: API answers are per user and never cached.
async function send(path, options) {
  try {
    return await fetch(API_BASE + path, { cache: 'no-store', ...options });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, 'network', "Can't reach the server. Check your connection and try again.");
  }
}

/** JSON request. `json` is sent as the body; FormData as multipart; `raw` (a Blob,
 * File or string) as it is, with `contentType`. */
export async function api(path, { method = 'GET', json, form, raw, contentType, signal } = {}) {
  const headers = { accept: 'application/json', ...authHeaders() };
  let body;
  if (json !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(json);
  } else if (form) {
    body = form;
  } else if (raw !== undefined) {
    if (contentType) headers['content-type'] = contentType;
    body = raw;
  }
  const response = await send(path, { method, headers, body, signal });
  if (!response.ok) throw await errorFrom(response);
  return response.status === 204 ? null : response.json();
}

/** Plain words for an error, optionally with what the user was doing. */
export function describe(error, doing = '') {
  if (!(error instanceof ApiError)) return `Something went wrong${doing ? ` while ${doing}` : ''}: ${error.message || error}`;
  const b = error.body;
  const sentence = (m) => (m ? m.charAt(0).toUpperCase() + m.slice(1) + (/[.!?]$/.test(m) ? '' : '.') : '');
  switch (error.status) {
    case 0:
      return error.message;
    case 401:
      return 'Your session has ended. Sign in again.';
    case 402:
      return `Not enough credits: this needs ${b.needed ?? '?'} credits and you have ${b.available ?? '?'}. Buy more on the Billing page, or use a smaller file.`;
    case 404:
      return 'Not found. It may have been removed, or it belongs to another account.';
    case 408:
      return 'The server took too long to answer. Try again.';
    case 413:
      return `The file is too large. ${sentence(error.message)}`;
    case 415:
      return `That file type is not supported: upload a .csv or .xlsx file. (${error.message})`;
    case 422:
      return `We could not read that file: ${error.message}. Check that it is a valid CSV or Excel file with a header row.`;
    case 429:
      return sentence(error.message) || 'Too many requests. Wait a moment and try again.';
    case 502:
      return 'The payment provider did not answer. Try again in a moment.';
    case 503:
      return sentence(error.message) || 'This is not available right now.';
    default:
      if (error.status >= 500) return 'Something went wrong on the server. Try again in a moment.';
      return sentence(error.message) || `Request failed (HTTP ${error.status}).`;
  }
}

/**
 * Server-Sent Events read with fetch, so the bearer token goes in a header (EventSource
 * cannot send one). Calls onEvent({event, data}) for each event; resolves when the
 * server closes the stream; rejects on errors. Abort with `signal`.
 */
export async function streamEvents(path, { signal, onEvent }) {
  const response = await send(path, { headers: { accept: 'text/event-stream', ...authHeaders() }, signal });
  if (!response.ok) throw await errorFrom(response);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  let event = 'message';
  let data = [];
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    let newline;
    while ((newline = buffer.search(/\r\n|\n|\r/)) >= 0) {
      const line = buffer.slice(0, newline);
      buffer = buffer.slice(newline + (buffer.startsWith('\r\n', newline) ? 2 : 1));
      if (line === '') {
        if (data.length) onEvent({ event, data: data.join('\n') });
        event = 'message';
        data = [];
      } else if (line.startsWith(':')) {
        // keep-alive comment
      } else {
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'event') event = value;
        else if (field === 'data') data.push(value);
      }
    }
  }
}

function filenameFrom(disposition, fallback) {
  if (!disposition) return fallback;
  const star = /filename\*=UTF-8''([^;]+)/i.exec(disposition);
  if (star) {
    try {
      return decodeURIComponent(star[1]);
    } catch {
      // fall through to the plain name
    }
  }
  const plain = /filename="([^"]+)"/i.exec(disposition);
  return plain ? plain[1] : fallback;
}

/** Fetches a file with the bearer token and hands it to the browser as a download. */
export async function download(path, fallbackName) {
  const response = await send(path, { headers: authHeaders() });
  if (!response.ok) throw await errorFrom(response);
  const blob = await response.blob();
  const name = filenameFrom(response.headers.get('content-disposition'), fallbackName);
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.hidden = true;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
  return name;
}
