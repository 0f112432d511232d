// Small DOM helpers. Text always goes in through textContent (never innerHTML), so
// file names, research text and openers can never inject markup.

/** h('a', {href: '/x', class: 'button'}, 'text', child, ...) */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'text') el.textContent = value;
    else if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (value === true) el.setAttribute(key, '');
    else el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

/** Replaces el's children (arrays are flattened; null/false are skipped). */
export function fill(el, ...children) {
  return append(clear(el), children);
}

const number = new Intl.NumberFormat();
export const fmtNumber = (n) => (n === null || n === undefined ? '—' : number.format(n));

export function fmtDateTime(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  return d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

export function fmtDate(iso) {
  if (!iso) return '—';
  return new Date(iso).toLocaleDateString(undefined, { dateStyle: 'medium' });
}

export function fmtTime(iso) {
  if (!iso) return '';
  return new Date(iso).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

/** "Today", "Yesterday" or the date, for grouping by day. */
export function dayLabel(iso) {
  const d = new Date(iso);
  const start = (x) => new Date(x.getFullYear(), x.getMonth(), x.getDate()).getTime();
  const days = Math.round((start(new Date()) - start(d)) / 86400000);
  if (days === 0) return 'Today';
  if (days === 1) return 'Yesterday';
  return d.toLocaleDateString(undefined, { weekday: 'long', day: 'numeric', month: 'long', year: 'numeric' });
}

export function fmtDuration(seconds) {
  if (!Number.isFinite(seconds) || seconds < 0) return '—';
  if (seconds < 10) return `${seconds.toFixed(seconds < 1 ? 2 : 1)} s`;
  if (seconds < 60) return `${Math.round(seconds)} s`;
  const m = Math.floor(seconds / 60);
  const s = Math.round(seconds % 60);
  if (m < 60) return s ? `${m} min ${s} s` : `${m} min`;
  const hours = Math.floor(m / 60);
  return `${hours} h ${m % 60} min`;
}

const STATUS_LABELS = {
  queued: 'Queued',
  in_progress: 'In progress',
  succeeded: 'Completed',
  failed: 'Failed',
  cancelled: 'Cancelled',
};
export const statusLabel = (s) => STATUS_LABELS[s] || s;
export const isTerminal = (s) => s === 'succeeded' || s === 'failed' || s === 'cancelled';

export function pill(status) {
  return h('span', { class: `pill ${status}`, 'data-status': status }, statusLabel(status));
}

/** A progress bar with an accessible value; update it with setProgress. */
export function progressBar(label) {
  const fill = h('span');
  const bar = h('div', { class: 'progress', role: 'progressbar', 'aria-label': label, 'aria-valuemin': 0, 'aria-valuemax': 100, 'aria-valuenow': 0 }, fill);
  return bar;
}

export function setProgress(bar, percent, status) {
  const p = Math.max(0, Math.min(100, Math.round(percent || 0)));
  bar.setAttribute('aria-valuenow', String(p));
  bar.setAttribute('aria-valuetext', `${p}%`);
  bar.firstChild.style.width = `${p}%`;
  bar.classList.toggle('done', status === 'succeeded');
  bar.classList.toggle('failed', status === 'failed');
}

/** An alert region; show(msg) / hide(). */
export function alertBox(kind = 'error') {
  const el = h('div', { class: `alert ${kind}`, role: kind === 'error' ? 'alert' : 'status', hidden: true });
  el.show = (...content) => {
    clear(el);
    append(el, content);
    el.hidden = false;
  };
  el.hide = () => {
    clear(el);
    el.hidden = true;
  };
  return el;
}

/** Runs an async action with the button disabled and marked busy. */
export async function busy(button, action) {
  button.disabled = true;
  button.classList.add('busy');
  button.setAttribute('aria-busy', 'true');
  try {
    return await action();
  } finally {
    button.disabled = false;
    button.classList.remove('busy');
    button.removeAttribute('aria-busy');
  }
}

let toastTimer;
export function toast(message) {
  const el = document.getElementById('toast');
  if (!el) return;
  el.textContent = message;
  el.classList.add('show');
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => el.classList.remove('show'), 3500);
}

export function table(headers, rows, opts = {}) {
  return h('div', { class: 'table-wrap', tabindex: 0, role: 'region', 'aria-label': opts.label || 'Table' },
    h('table', { class: opts.class },
      opts.caption ? h('caption', { class: 'visually-hidden' }, opts.caption) : null,
      h('thead', {}, h('tr', {}, headers.map((c) => (typeof c === 'string' ? h('th', { scope: 'col' }, c) : c)))),
      h('tbody', {}, rows)));
}
