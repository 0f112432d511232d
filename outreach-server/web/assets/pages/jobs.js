// /jobs: the caller's jobs grouped by day, with live progress for running ones.
//
// Each open event stream holds one of the browser's ~6 connections to this server, so
// at most MAX_STREAMS jobs are followed live; any others are refreshed by polling.

import { actions, progressBlock } from '../jobactions.js';
import { api, describe } from '../api.js';
import { watchJob } from '../live.js';
import { alertBox, clear, dayLabel, fmtNumber, fmtTime, h, isTerminal, pill } from '../ui.js';

const PAGE = 50;
const MAX_STREAMS = 3;
const POLL_MS = 3000;

export async function render(main, ctx) {
  const { signal } = ctx;
  const error = alertBox('error');
  const list = h('div', { id: 'job-list' });
  const more = h('button', { class: 'button secondary', type: 'button', hidden: true }, 'Show older jobs');
  main.append(h('div', { class: 'page-head' }, h('h1', {}, 'Jobs'), h('a', { class: 'button', href: '/upload' }, 'New upload')), error, list, more);

  const jobs = new Map(); // id → { job, card }
  const streaming = new Set();
  let total = 0;
  const created = sessionStorage.getItem('outreach.created');
  sessionStorage.removeItem('outreach.created');

  function card(job) {
    const title = h('div', { class: 'job-title' }, h('a', { href: `/jobs/${job.id}` }, job.filename), pill(job.status));
    const meta = h('span', { class: 'muted small' },
      `${fmtTime(job.created_at)} · ${fmtNumber(job.rows)} rows · ${fmtNumber(job.credits_charged)} credits`,
      job.credits_refunded ? ` (${fmtNumber(job.credits_refunded)} refunded)` : '');
    const progress = progressBlock(job);
    const errorText = job.error ? h('p', { class: 'error-text' }, job.error) : null;
    const row = h('div', { class: 'row actions' },
      actions(job, { onChange: (j) => replace(j) }),
      h('a', { class: 'button small quiet', href: `/jobs/${job.id}` }, 'Details'));
    const el = h('article', { class: 'job', 'data-job-id': job.id, 'data-status': job.status, 'aria-label': `${job.filename}, ${job.status.replace('_', ' ')}` },
      h('div', { class: 'job-head' }, title, meta), progress, errorText, row);
    el.progress = progress;
    return el;
  }

  function replace(job) {
    const entry = jobs.get(job.id);
    if (!entry) return;
    entry.job = { ...entry.job, ...job };
    const fresh = card(entry.job);
    entry.card.replaceWith(fresh);
    entry.card = fresh;
    follow();
  }

  /** A progress event: update the bar; re-draw the card when the status changed. */
  function onProgress(p) {
    const entry = jobs.get(p.id);
    if (!entry) return;
    const statusChanged = p.status !== entry.job.status;
    entry.job = { ...entry.job, ...p };
    if (statusChanged) replace(entry.job);
    else entry.card.progress.update(entry.job);
  }

  function draw() {
    clear(list);
    if (!jobs.size) {
      list.append(h('div', { class: 'card' }, h('p', {}, 'No jobs yet.'), h('a', { class: 'button', href: '/upload' }, 'Upload a prospect list')));
      return;
    }
    let day = null;
    let group = null;
    for (const { job, card: el } of jobs.values()) {
      const label = dayLabel(job.created_at);
      if (label !== day) {
        day = label;
        const id = `day-${list.children.length}`;
        group = h('section', { 'aria-labelledby': id }, h('h2', { class: 'day', id }, label));
        list.append(group);
      }
      group.append(el);
      if (job.id === created) el.classList.add('new');
    }
    more.hidden = jobs.size >= total;
  }

  function follow() {
    for (const { job } of jobs.values()) {
      if (isTerminal(job.status) || streaming.has(job.id) || streaming.size >= MAX_STREAMS) continue;
      streaming.add(job.id);
      watchJob(job.id, { signal, onUpdate: onProgress }).finally(() => {
        streaming.delete(job.id);
        if (!signal.aborted) follow();
      });
    }
  }

  async function load(offset) {
    try {
      const page = await api(`/jobs?offset=${offset}&limit=${PAGE}`, { signal });
      total = page.total;
      for (const job of page.jobs) if (!jobs.has(job.id)) jobs.set(job.id, { job, card: card(job) });
      error.hide();
      draw();
      follow();
    } catch (e) {
      if (e.name !== 'AbortError') error.show(describe(e, 'loading your jobs'));
    }
  }

  more.addEventListener('click', () => load(jobs.size));
  await load(0);

  // Jobs beyond the live streams: poll them.
  const timer = setInterval(async () => {
    const waiting = [...jobs.values()].filter(({ job }) => !isTerminal(job.status) && !streaming.has(job.id));
    for (const { job } of waiting) {
      try {
        onProgress(await api(`/jobs/${job.id}`, { signal }));
      } catch {
        // the next tick tries again
      }
    }
  }, POLL_MS);
  return () => clearInterval(timer);
}
