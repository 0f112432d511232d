// What the jobs list and the job page share: the live progress block and the
// download / retry / cancel buttons.

import { api, describe, download } from './api.js';
import { RateMeter } from './live.js';
import { busy, fmtDuration, fmtNumber, h, isTerminal, progressBar, setProgress, toast } from './ui.js';

/** A progress bar with "n of m rows · x rows/s · y left"; call .update(progress). */
export function progressBlock(job) {
  const bar = progressBar(`Progress of ${job.filename}`);
  const left = h('span', { class: 'rows-text' });
  const right = h('span', { class: 'rate-text' });
  const block = h('div', { class: 'progress-block' }, bar, h('div', { class: 'progress-meta' }, left, right));
  const meter = new RateMeter();
  block.update = (p) => {
    setProgress(bar, p.progress_percent, p.status);
    left.textContent = `${fmtNumber(p.rows_processed)} of ${fmtNumber(p.rows)} rows · ${Math.round(p.progress_percent || 0)}%`;
    if (isTerminal(p.status)) {
      right.textContent = '';
      return;
    }
    meter.add(p.rows_processed);
    const rate = meter.rate();
    const eta = meter.eta(p.rows - p.rows_processed);
    if (p.status === 'queued') right.textContent = 'Waiting for a worker…';
    else if (rate === null) right.textContent = 'Measuring speed…';
    else right.textContent = `${rate.toFixed(rate < 10 ? 1 : 0)} rows/s${eta !== null ? ` · about ${fmtDuration(eta)} left` : ''}`;
  };
  block.update(job);
  return block;
}

/** Buttons for what can be done with the job now; onChange(job) after retry/cancel. */
export function actions(job, { onChange, errorBox }) {
  const id = job.id;
  const buttons = [];
  const fail = (e, doing) => {
    if (errorBox) errorBox.show(describe(e, doing));
    else toast(describe(e, doing));
  };
  if (job.status === 'succeeded' && job.download_ready !== false) {
    const b = h('button', { class: 'button small', type: 'button', 'aria-label': `Download the result of ${job.filename}` }, 'Download');
    b.addEventListener('click', () =>
      busy(b, async () => {
        try {
          const stem = job.filename.replace(/\.[^.]+$/, '');
          const name = await download(`/jobs/${id}/download`, `${stem}.enriched.${job.format || 'xlsx'}`);
          toast(`Downloaded ${name}`);
        } catch (e) {
          fail(e, 'downloading');
        }
      }));
    buttons.push(b);
  }
  if (job.status === 'failed') {
    const b = h('button', { class: 'button small secondary', type: 'button', 'aria-label': `Retry ${job.filename}` }, `Retry (${fmtNumber(job.rows)} credits)`);
    b.addEventListener('click', () =>
      busy(b, async () => {
        try {
          const updated = await api(`/jobs/${id}/retry`, { method: 'POST' });
          toast('The job is queued again.');
          onChange?.(updated);
        } catch (e) {
          fail(e, 'retrying');
        }
      }));
    buttons.push(b);
  }
  if (job.status === 'queued' || job.status === 'in_progress') {
    const b = h('button', { class: 'button small danger', type: 'button', 'aria-label': `Cancel ${job.filename}` }, 'Cancel');
    b.addEventListener('click', () =>
      busy(b, async () => {
        if (!window.confirm('Stop this job? Rows not yet processed are refunded.')) return;
        try {
          const updated = await api(`/jobs/${id}/cancel`, { method: 'POST' });
          toast('The job was cancelled; unprocessed rows were refunded.');
          onChange?.(updated);
        } catch (e) {
          fail(e, 'cancelling');
        }
      }));
    buttons.push(b);
  }
  return buttons;
}
