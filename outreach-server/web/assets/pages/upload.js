// /upload: the three-step wizard.
//   1. File: drop or browse a CSV/XLSX → POST /files → POST /parse_headers; shows the
//      headers, row count, cost and balance before anything is charged.
//   2. Columns: the email column (pre-selected from the guess), output columns, format.
//   3. Your offer: the six service fields; an optional 3-row preview (a real job with
//      `limit: 3`, charged like any other rows), then the job for the whole file.
// Errors appear next to the step that caused them.

import { api, describe } from '../api.js';
import { watchJob } from '../live.js';
import { alertBox, busy, clear, fill, fmtNumber, h, progressBar, setProgress, statusLabel } from '../ui.js';

export const SERVICE_FIELDS = [
  ['core_offer', 'Core offer', 'What you sell, in a phrase.'],
  ['key_differentiator', 'Key differentiator', 'Why you rather than the alternatives.'],
  ['cta', 'Call to action', 'What you ask the prospect to do.'],
  ['timeline', 'Timeline', 'When it should happen.'],
  ['goal', 'Goal', 'The outcome the prospect gets.'],
  ['fallback_action', 'Fallback action', 'What to ask when the CTA does not fit.'],
];
const PREVIEW_ROWS = 3;
const SIF = ['sif_research', 'sif_personalized'];

/** The research JSON of a result row as a few readable lines. */
export function researchLines(text) {
  try {
    const r = JSON.parse(text);
    const lines = [];
    if (r.person?.name) lines.push(`${r.person.name}${r.person.info?.length ? `: ${r.person.info.slice(0, 2).join('; ')}` : ''}`);
    if (r.company?.name) lines.push(`${r.company.name}${r.company.info?.length ? `: ${r.company.info.slice(0, 2).join('; ')}` : ''}`);
    if (r.company?.moat) lines.push(`Edge: ${r.company.moat}`);
    return lines.length ? lines : [text];
  } catch {
    return [text];
  }
}

export async function render(main, ctx) {
  const { config, signal, navigate } = ctx;
  const state = { step: 0, upload: null, summary: null, previewJob: null, busy: false };

  const stepNames = ['File', 'Columns', 'Your offer'];
  const indicator = h('ol', { class: 'steps', 'aria-label': 'Steps' }, stepNames.map((n) => h('li', {}, n)));
  const sections = [];

  // ---- Step 1: file ----
  const fileError = alertBox('error');
  const fileInput = h('input', { type: 'file', id: 'file', name: 'file', accept: '.csv,.xlsx,text/csv,application/vnd.openxmlformats-officedocument.spreadsheetml.sheet' });
  fileInput.setAttribute('aria-describedby', 'file-hint');
  const dropzone = h('label', { class: 'dropzone', for: 'file' },
    h('strong', {}, 'Drop a CSV or Excel file here'),
    h('span', { class: 'muted' }, 'or choose one: '), fileInput);
  const fileHint = h('p', { class: 'hint', id: 'file-hint' }, 'One row per prospect, with a header row and a column of email addresses. CSV or Excel (.xlsx).');
  const uploadStatus = h('p', { class: 'muted', role: 'status', 'aria-live': 'polite' });
  const summaryBox = h('div');
  const next0 = h('button', { class: 'button', type: 'button', disabled: true }, 'Next: columns');
  sections.push(h('section', { class: 'card', 'aria-labelledby': 'step0-h' },
    h('h2', { id: 'step0-h' }, '1. Choose a file'),
    dropzone, fileHint, uploadStatus, fileError, summaryBox,
    h('div', { class: 'row' }, next0)));

  // ---- Step 2: columns ----
  const columnsError = alertBox('error');
  const emailSelect = h('select', { id: 'email-col', name: 'email_col' });
  const outputChecks = h('div', { class: 'checks' });
  const formatXlsx = h('input', { type: 'radio', name: 'format', value: 'xlsx', id: 'format-xlsx', checked: true });
  const formatCsv = h('input', { type: 'radio', name: 'format', value: 'csv', id: 'format-csv' });
  const back1 = h('button', { class: 'button quiet', type: 'button' }, 'Back');
  const next1 = h('button', { class: 'button', type: 'button' }, 'Next: your offer');
  sections.push(h('section', { class: 'card', 'aria-labelledby': 'step1-h' },
    h('h2', { id: 'step1-h' }, '2. Choose the columns'),
    h('div', { class: 'field' }, h('label', { for: 'email-col' }, 'Email column'), emailSelect,
      h('p', { class: 'hint' }, 'Research starts from each prospect’s email address and its domain.')),
    h('fieldset', {}, h('legend', {}, 'Columns in the result (optional)'),
      h('p', { class: 'hint' }, 'Untick what you do not need. The two new columns hold the research and the opener.'),
      outputChecks),
    h('fieldset', {}, h('legend', {}, 'Result format'),
      h('div', { class: 'row' }, h('label', { for: 'format-xlsx', class: 'row' }, formatXlsx, 'Excel (.xlsx)'),
        h('label', { for: 'format-csv', class: 'row' }, formatCsv, 'CSV'))),
    columnsError,
    h('div', { class: 'row' }, back1, next1)));

  // ---- Step 3: service context, preview, create ----
  const serviceInputs = {};
  const serviceFields = SERVICE_FIELDS.map(([key, label, hint]) => {
    const input = h('input', { type: 'text', id: `svc-${key}`, name: key, value: config.service_defaults?.[key] || '', 'aria-describedby': `svc-${key}-hint` });
    serviceInputs[key] = input;
    return h('div', { class: 'field' }, h('label', { for: `svc-${key}` }, label), input, h('p', { class: 'hint', id: `svc-${key}-hint` }, hint));
  });
  const previewError = alertBox('error');
  const previewButton = h('button', { class: 'button secondary', type: 'button' }, `Preview the first ${PREVIEW_ROWS} rows`);
  const previewNote = h('p', { class: 'hint' });
  const previewProgress = progressBar('Preview progress');
  const previewStatus = h('p', { class: 'muted small', role: 'status', 'aria-live': 'polite' });
  const previewProgressBox = h('div', { hidden: true }, previewProgress, previewStatus);
  const previewResults = h('div', { id: 'preview-results' });
  const createError = alertBox('error');
  const createButton = h('button', { class: 'button', type: 'button' }, 'Run the whole file');
  const back2 = h('button', { class: 'button quiet', type: 'button' }, 'Back');
  sections.push(h('section', { class: 'card', 'aria-labelledby': 'step2-h' },
    h('h2', { id: 'step2-h' }, '3. Describe your offer'),
    h('p', { class: 'muted' }, 'The openers tie each prospect’s situation to this. The defaults are a starting point.'),
    h('div', { class: 'grid wide' }, serviceFields),
    h('section', { class: 'card', 'aria-labelledby': 'preview-h' },
      h('h3', { id: 'preview-h' }, 'Preview'),
      previewNote, previewButton, previewError, previewProgressBox, previewResults),
    createError,
    h('div', { class: 'row' }, back2, createButton)));

  function showStep(n) {
    state.step = n;
    sections.forEach((s, i) => {
      s.hidden = i !== n;
    });
    [...indicator.children].forEach((li, i) => {
      if (i === n) li.setAttribute('aria-current', 'step');
      else li.removeAttribute('aria-current');
      li.classList.toggle('done', i < n);
    });
    const heading = sections[n].querySelector('h2');
    heading.tabIndex = -1;
    heading.focus();
  }

  // ---- Step 1 logic ----
  async function handleFile(file) {
    if (!file || state.busy) return;
    fileError.hide();
    clear(summaryBox);
    next0.disabled = true;
    state.upload = null;
    state.summary = null;
    state.previewJob = null;
    clear(previewResults);
    const ext = file.name.toLowerCase().split('.').pop();
    if (ext !== 'csv' && ext !== 'xlsx') {
      fileError.show(`“${file.name}” is not a .csv or .xlsx file. Save the list as CSV or Excel and try again.`);
      return;
    }
    if (config.max_upload_bytes && file.size > config.max_upload_bytes) {
      fileError.show(`“${file.name}” is ${fmtNumber(Math.ceil(file.size / 1e6))} MB; the limit is ${fmtNumber(Math.floor(config.max_upload_bytes / 1e6))} MB.`);
      return;
    }
    state.busy = true;
    dropzone.setAttribute('aria-busy', 'true');
    try {
      uploadStatus.textContent = `Uploading ${file.name}…`;
      const form = new FormData();
      form.append('file', file, file.name);
      state.upload = await api('/files', { method: 'POST', form, signal });
      uploadStatus.textContent = 'Reading the headers…';
      state.summary = await api('/parse_headers', { method: 'POST', json: { file_path: state.upload.file_path }, signal });
      uploadStatus.textContent = '';
      showSummary();
      fillColumns();
      next0.disabled = false;
    } catch (e) {
      if (e.name === 'AbortError') return;
      uploadStatus.textContent = '';
      state.upload = null;
      fileError.show(e.status === 422 ? `We could not read “${file.name}”: ${e.message}. Check that it is a CSV or Excel file with a header row.` : describe(e, 'reading the file'));
    } finally {
      state.busy = false;
      dropzone.removeAttribute('aria-busy');
      fileInput.value = '';
    }
  }

  function showSummary() {
    const s = state.summary;
    const short = s.credits_remaining < s.credit_cost;
    fill(summaryBox, 
      h('h3', {}, state.upload.filename),
      h('div', { class: 'summary', id: 'file-summary' },
        h('div', {}, h('b', { id: 'summary-rows' }, fmtNumber(s.rows)), 'rows'),
        h('div', {}, h('b', {}, fmtNumber(s.headers.length)), 'columns'),
        h('div', {}, h('b', { id: 'summary-cost' }, fmtNumber(s.credit_cost)), 'credits needed'),
        h('div', {}, h('b', { id: 'summary-balance' }, fmtNumber(s.credits_remaining)), 'credits available')),
      h('p', {}, 'Email column: ', s.email_column ? h('strong', {}, s.email_column) : h('em', {}, 'not found, choose one in the next step')),
      h('p', { class: 'small muted' }, 'Columns:'),
      h('ul', { class: 'chips', 'aria-label': 'Columns in the file' }, s.headers.map((c) => h('li', {}, c || '(blank)'))),
      short
        ? h('div', { class: 'alert warn' }, `This file needs ${fmtNumber(s.credit_cost)} credits and you have ${fmtNumber(s.credits_remaining)}. `,
          h('a', { href: '/billing' }, 'Buy credits'), ', or preview a few rows first.')
        : h('p', { class: 'alert ok' }, 'Nothing has been charged yet.'));
  }

  function fillColumns() {
    const s = state.summary;
    clear(emailSelect);
    if (!s.email_column) emailSelect.append(h('option', { value: '' }, 'Choose the email column…'));
    for (const header of s.headers) {
      emailSelect.append(h('option', { value: header, selected: header === s.email_column }, header || '(blank)'));
    }
    clear(outputChecks);
    const columns = [...s.headers.filter((c) => !SIF.includes(c.trim())), ...SIF];
    for (const [i, c] of columns.entries()) {
      const id = `out-${i}`;
      outputChecks.append(h('label', { for: id }, h('input', { type: 'checkbox', id, value: c, checked: true }), c || '(blank)'));
    }
    const n = Math.min(PREVIEW_ROWS, s.rows);
    previewNote.textContent = `Runs the first ${n} row${n === 1 ? '' : 's'} for real so you can check the research and openers. This costs ${n} credit${n === 1 ? '' : 's'}, like any other rows.`;
    previewButton.textContent = `Preview the first ${n} row${n === 1 ? '' : 's'} (${n} credit${n === 1 ? '' : 's'})`;
    createButton.textContent = `Run all ${fmtNumber(s.rows)} rows (${fmtNumber(s.credit_cost)} credits)`;
  }

  fileInput.addEventListener('change', () => handleFile(fileInput.files[0]));
  for (const type of ['dragenter', 'dragover']) {
    dropzone.addEventListener(type, (e) => {
      e.preventDefault();
      dropzone.classList.add('over');
    });
  }
  for (const type of ['dragleave', 'drop']) dropzone.addEventListener(type, () => dropzone.classList.remove('over'));
  dropzone.addEventListener('drop', (e) => {
    e.preventDefault();
    handleFile(e.dataTransfer?.files?.[0]);
  });
  next0.addEventListener('click', () => showStep(1));

  // ---- Step 2 logic ----
  function jobOptions() {
    const checked = [...outputChecks.querySelectorAll('input:checked')].map((i) => i.value);
    const all = outputChecks.querySelectorAll('input').length;
    const service = Object.fromEntries(Object.entries(serviceInputs).map(([k, input]) => [k, input.value.trim()]));
    for (const [k, v] of Object.entries(service)) if (!v) delete service[k];
    return {
      file_path: state.upload.file_path,
      email_col: emailSelect.value || null,
      output_columns: checked.length === all ? null : checked,
      format: formatCsv.checked ? 'csv' : 'xlsx',
      service,
    };
  }
  back1.addEventListener('click', () => showStep(0));
  next1.addEventListener('click', () => {
    columnsError.hide();
    if (!emailSelect.value) {
      columnsError.show('Choose the column that holds the email addresses.');
      emailSelect.focus();
      return;
    }
    if (!outputChecks.querySelector('input:checked')) {
      columnsError.show('Keep at least one column in the result.');
      return;
    }
    showStep(2);
  });

  // ---- Step 3 logic ----
  back2.addEventListener('click', () => showStep(1));

  function showPreviewRows(preview, emailCol) {
    const col = (name) => preview.headers.indexOf(name);
    const iEmail = col(emailCol);
    const iResearch = col('sif_research');
    const iOpener = col('sif_personalized');
    fill(previewResults, 
      h('p', { class: 'alert ok' }, 'Here is what the first rows look like. If they read well, run the whole file below.'),
      ...preview.rows.map((row) =>
        h('article', { class: 'preview-row' },
          h('div', { class: 'small muted' }, iEmail >= 0 ? row[iEmail] : ''),
          iOpener >= 0 ? h('p', { class: 'opener' }, row[iOpener]) : null,
          iResearch >= 0 ? h('ul', { 'aria-label': 'Research' }, researchLines(row[iResearch]).map((l) => h('li', {}, l))) : null)));
  }

  previewButton.addEventListener('click', () =>
    busy(previewButton, async () => {
      previewError.hide();
      clear(previewResults);
      const options = jobOptions();
      const limit = Math.min(PREVIEW_ROWS, state.summary.rows);
      let created;
      try {
        created = await api('/jobs', { method: 'POST', json: { ...options, format: 'xlsx', limit }, signal });
      } catch (e) {
        if (e.name !== 'AbortError') previewError.show(describe(e, 'starting the preview'));
        return;
      }
      state.previewJob = created.job_id;
      previewProgressBox.hidden = false;
      setProgress(previewProgress, 0);
      previewStatus.textContent = 'Researching…';
      const final = await watchJob(created.job_id, {
        signal,
        onUpdate: (p) => {
          setProgress(previewProgress, p.progress_percent, p.status);
          previewStatus.textContent = `${statusLabel(p.status)}: ${p.rows_processed} of ${p.rows} rows`;
        },
        onError: (e) => previewError.show(describe(e, 'following the preview')),
      });
      if (signal.aborted || !final) return;
      if (final.status !== 'succeeded') {
        previewError.show(`The preview ${final.status === 'failed' ? 'failed' : 'stopped'}${final.error ? `: ${final.error}` : ''}. Its credits were refunded.`);
        return;
      }
      try {
        const preview = await api(`/jobs/${created.job_id}/preview?limit=${limit}`, { signal });
        showPreviewRows(preview, options.email_col);
      } catch (e) {
        if (e.name !== 'AbortError') previewError.show(describe(e, 'loading the preview'));
      }
    }));

  createButton.addEventListener('click', () =>
    busy(createButton, async () => {
      createError.hide();
      try {
        const created = await api('/jobs', { method: 'POST', json: jobOptions(), signal });
        sessionStorage.setItem('outreach.created', created.job_id);
        navigate('/jobs');
      } catch (e) {
        if (e.name !== 'AbortError') createError.show(describe(e, 'creating the job'));
      }
    }));

  main.append(h('div', { class: 'page-head' }, h('h1', {}, 'New upload')), indicator, ...sections);
  sections.forEach((s, i) => {
    s.hidden = i !== 0;
  });
  indicator.children[0].setAttribute('aria-current', 'step');
}
