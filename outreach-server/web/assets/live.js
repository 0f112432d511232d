// Live job progress: GET /jobs/{id}/events read as a stream (see api.js), falling back
// to polling GET /jobs/{id} when the stream breaks; a rows/s meter for the ETA.

import { api, ApiError, streamEvents } from './api.js';
import { isTerminal } from './ui.js';

const sleep = (ms, signal) =>
  new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(t);
      resolve();
    });
  });

/**
 * Calls onUpdate(progress) until the job ends or `signal` aborts. `progress` has id,
 * status, rows, rows_processed, progress_percent, error, download_ready.
 */
export async function watchJob(id, { signal, onUpdate, onError }) {
  const path = `/jobs/${encodeURIComponent(id)}`;
  let last = null;
  let failures = 0;
  while (!signal.aborted) {
    try {
      await streamEvents(`${path}/events`, {
        signal,
        onEvent: ({ event, data }) => {
          if (event !== 'progress' && event !== 'done') return;
          try {
            last = JSON.parse(data);
          } catch {
            return;
          }
          failures = 0;
          onUpdate(last);
        },
      });
      if (last && isTerminal(last.status)) return last;
    } catch (e) {
      if (signal.aborted) return last;
      if (e instanceof ApiError && (e.status === 404 || e.status === 401)) {
        onError?.(e);
        return last;
      }
      failures += 1;
    }
    // The stream closed early or failed: ask once directly, then stream again.
    await sleep(Math.min(1000 * 2 ** failures, 10_000), signal);
    if (signal.aborted) return last;
    try {
      last = await api(path, { signal });
      onUpdate(last);
      if (isTerminal(last.status)) return last;
    } catch (e) {
      if (signal.aborted) return last;
      if (e instanceof ApiError && (e.status === 404 || e.status === 401)) {
        onError?.(e);
        return last;
      }
      failures += 1;
    }
  }
  return last;
}

/** Rows per second over the last 20 seconds of samples, and the time left. */
export class RateMeter {
  constructor(windowMs = 20_000) {
    this.windowMs = windowMs;
    this.samples = [];
  }

  add(rows, at = performance.now()) {
    const lastSample = this.samples[this.samples.length - 1];
    if (lastSample && lastSample.rows === rows) return;
    this.samples.push({ rows, at });
    while (this.samples.length > 2 && at - this.samples[0].at > this.windowMs) this.samples.shift();
  }

  /** rows/s, or null until two samples at least 0.5 s apart exist. */
  rate(now = performance.now()) {
    if (this.samples.length < 2) return null;
    const first = this.samples[0];
    const lastSample = this.samples[this.samples.length - 1];
    const seconds = (Math.max(now, lastSample.at) - first.at) / 1000;
    if (seconds < 0.5) return null;
    return (lastSample.rows - first.rows) / seconds;
  }

  /** Seconds left for `remaining` rows, or null. */
  eta(remaining) {
    const r = this.rate();
    return r && r > 0 ? remaining / r : null;
  }
}
