// /jobs/{id}: one job: live progress, error, credits, timings, what was asked, the
// log, and a sample of the result rows with each row's status and the evidence of
// every fact (quote and source link).

import { actions, progressBlock } from '../jobactions.js';
import { api, ApiError, describe } from '../api.js';
import { watchJob } from '../live.js';
import { pushPanel } from './job/push.js';
import { alertBox, fill, fmtDateTime, fmtDuration, fmtNumber, fmtTime, h, isTerminal, pill, table } from '../ui.js';
import { evidenceList, researchLines, statusLabelOf } from '../research.js';
import { serviceFields } from '../service.js';

const SAMPLE_ROWS = 10;

function facts(pairs) {
  return h('dl', { class: 'facts' }, pairs.filter(Boolean).map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
}

function timingFacts(t) {
  if (!t) return h('p', { class: 'muted' }, 'Timings appear when the job has finished.');
  const s = t.seconds || {};
  return facts([
    ['Total time', fmtDuration(s.wall)],
    ['Speed', t.rows_per_second != null ? `${t.rows_per_second} rows/s` : '—'],
    ['Splitting', fmtDuration(s.split)],
    ['Research + writing', fmtDuration(s.chunks_total)],
    ['Merging', fmtDuration(s.finalize)],
    ['Provider calls', t.provider_calls ? `${fmtNumber(t.provider_calls.total)} (search ${fmtNumber(t.provider_calls.search)}, LLM ${fmtNumber(t.provider_calls.llm)})` : '—'],
    ['Cache hits', fmtNumber(t.cache_hits)],
    ['Retries', fmtNumber(t.retries)],
    ['Rows with a fallback', fmtNumber(t.fallbacks)],
  ]);
}

const HEADINGS = { sif_personalized: 'Opener', sif_research: 'Research and evidence', sif_status: 'Status' };

function sampleTable(preview, emailCol) {
  // The email, the row's status, the opener and the research with its evidence: what
  // a person checks first, and where each fact was found.
  const columns = [emailCol, 'sif_status', 'sif_personalized', 'sif_research'].filter((c) => c && preview.headers.includes(c));
  const idx = columns.map((c) => preview.headers.indexOf(c));
  const rows = preview.rows.map((r) =>
    h('tr', {}, idx.map((i, n) => {
      const name = columns[n];
      if (name === 'sif_research') {
        return h('td', {}, h('ul', { class: 'small' }, researchLines(r[i] || '').map((l) => h('li', {}, l))), evidenceList(r[i] || ''));
      }
      if (name === 'sif_status') {
        return h('td', { class: 'row-status', 'data-status': r[i] ?? '' }, statusLabelOf(r[i]), h('div', { class: 'small muted' }, h('code', {}, r[i] ?? '')));
      }
      return h('td', { class: name === emailCol ? 'email' : '' }, r[i] ?? '');
    })));
  return table(columns.map((c) => HEADINGS[c] || c), rows, { class: 'results', label: 'Sample of the result rows' });
}

export async function render(main, ctx) {
  const { signal, params, config } = ctx;
  const id = params[0];
  const error = alertBox('error');
  const back = h('p', {}, h('a', { href: '/jobs' }, '← All jobs'));
  let job;
  try {
    job = await api(`/jobs/${encodeURIComponent(id)}`, { signal });
  } catch (e) {
    if (e.name === 'AbortError') return;
    if (e instanceof ApiError && (e.status === 404 || e.status === 400)) {
      main.append(back, h('div', { class: 'card', id: 'job-not-found' },
        h('h1', {}, 'Job not found'),
        h('p', {}, 'There is no job with this address in your account. It may belong to someone else, or the link is wrong.'),
        h('a', { class: 'button', href: '/jobs' }, 'See your jobs')));
      return;
    }
    main.append(back, error);
    error.show(describe(e, 'loading the job'));
    return;
  }

  const head = h('div', { class: 'page-head' });
  const progressCard = h('section', { class: 'card', 'aria-labelledby': 'progress-h' });
  const detailGrid = h('div', { class: 'grid' });
  const logsCard = h('section', { class: 'card', 'aria-labelledby': 'logs-h' });
  const sampleCard = h('section', { class: 'card', 'aria-labelledby': 'sample-h', hidden: true });
  main.append(back, head, error, progressCard, detailGrid, sampleCard, logsCard);
  let progress = null;
  let pushCard = null; // "Send to …", once the job has a result

  function draw() {
    fill(head, h('h1', { class: 'row' }, job.filename, ' ', pill(job.status)),
      h('div', { class: 'row' }, actions(job, { errorBox: error, onChange: (j) => { job = { ...job, ...j }; draw(); live(); } })));
    progress = progressBlock(job);
    fill(progressCard, h('h2', { id: 'progress-h' }, 'Progress'), progress,
      job.error ? h('div', { class: 'alert error', id: 'job-error' }, h('strong', {}, 'Error: '), job.error) : null);
    fill(detailGrid, 
      h('section', { class: 'card', 'aria-labelledby': 'credits-h' }, h('h2', { id: 'credits-h' }, 'Credits and times'), facts([
        ['Credits charged', fmtNumber(job.credits_charged)],
        ['Credits refunded', fmtNumber(job.credits_refunded)],
        ['Rows', fmtNumber(job.rows)],
        ['Attempt', fmtNumber(job.attempt)],
        ['Created', fmtDateTime(job.created_at)],
        ['Started', fmtDateTime(job.started_at)],
        ['Finished', fmtDateTime(job.finished_at)],
      ])),
      h('section', { class: 'card', 'aria-labelledby': 'timing-h' }, h('h2', { id: 'timing-h' }, 'Timings'), timingFacts(job.timing)),
      h('section', { class: 'card', 'aria-labelledby': 'request-h' }, h('h2', { id: 'request-h' }, 'Request'), facts([
        ['Email column', job.email_col || 'guessed'],
        ['Result format', (job.format || 'xlsx').toUpperCase()],
        ['Rows limit', job.limit ? `first ${fmtNumber(job.limit)}` : 'all rows'],
        ['Output columns', job.output_columns ? job.output_columns.join(', ') : 'all, plus research and opener'],
        ...serviceFields(config).filter(({ name }) => job.service?.[name]).map(({ name, label }) => [label, job.service[name]]),
      ])));
    const logs = job.logs || [];
    fill(logsCard, h('h2', { id: 'logs-h' }, 'Log'),
      logs.length
        ? h('ol', { class: 'logs' }, logs.map((l) => h('li', {}, h('time', { datetime: l.created_at }, fmtTime(l.created_at)), l.message)))
        : h('p', { class: 'muted' }, 'No entries yet.'));
    if (job.status === 'succeeded') loadSample();
    if (job.status === 'succeeded' && !pushCard) {
      pushCard = pushPanel(job, { signal });
      progressCard.after(pushCard);
    }
  }

  async function loadSample() {
    sampleCard.hidden = false;
    fill(sampleCard, h('h2', { id: 'sample-h' }, 'Sample of the results'), h('p', { class: 'muted' }, 'Loading…'));
    try {
      const preview = await api(`/jobs/${job.id}/preview?limit=${SAMPLE_ROWS}`, { signal });
      fill(sampleCard, h('h2', { id: 'sample-h' }, 'Sample of the results'),
        h('p', { class: 'muted small' }, `The first ${preview.rows.length} rows. Download the file for all of them.`),
        sampleTable(preview, job.email_col));
    } catch (e) {
      if (e.name !== 'AbortError') fill(sampleCard, h('h2', { id: 'sample-h' }, 'Sample of the results'), h('p', { class: 'alert error' }, describe(e, 'loading the sample')));
    }
  }

  let watching = false;
  async function live() {
    if (watching || isTerminal(job.status)) return;
    watching = true;
    await watchJob(job.id, {
      signal,
      onUpdate: (p) => {
        const changed = p.status !== job.status;
        job = { ...job, ...p };
        // A new running status redraws the page; the end is drawn once, after a refresh.
        if (changed && !isTerminal(job.status)) draw();
        else progress.update(job);
      },
    });
    watching = false;
    if (signal.aborted) return;
    // Refresh everything (logs, timings, refunds) once it has ended.
    try {
      job = await api(`/jobs/${job.id}`, { signal });
    } catch {
      // keep what we have
    }
    draw();
  }

  draw();
  live();
}
