// Upload step 1: drop or browse a CSV/XLSX → POST /files → POST /parse_headers; shows
// the headers, row count, cost and balance before anything is charged.

import { api, describe } from '../../api.js';
import { alertBox, clear, fill, fmtNumber, h } from '../../ui.js';

export function fileStep(wizard) {
  const { state, config, signal } = wizard;
  const fileError = alertBox('error');
  const fileInput = h('input', { type: 'file', id: 'file', name: 'file', accept: '.csv,.xlsx,text/csv,application/vnd.openxmlformats-officedocument.spreadsheetml.sheet' });
  fileInput.setAttribute('aria-describedby', 'file-hint');
  const dropzone = h('label', { class: 'dropzone', for: 'file' },
    h('strong', {}, 'Drop a CSV or Excel file here'),
    h('span', { class: 'muted' }, 'or choose one: '), fileInput);
  const fileHint = h('p', { class: 'hint', id: 'file-hint' }, 'One row per prospect, with a header row and a column of email addresses. CSV or Excel (.xlsx).');
  const uploadStatus = h('p', { class: 'muted', role: 'status', 'aria-live': 'polite' });
  const summaryBox = h('div');
  const next = h('button', { class: 'button', type: 'button', disabled: true }, 'Next: columns');
  const section = h('section', { class: 'card', 'aria-labelledby': 'step0-h' },
    h('h2', { id: 'step0-h' }, '1. Choose a file'),
    dropzone, fileHint, uploadStatus, fileError, summaryBox,
    h('div', { class: 'row' }, next));

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

  async function handleFile(file) {
    if (!file || state.busy) return;
    fileError.hide();
    clear(summaryBox);
    next.disabled = true;
    state.upload = null;
    state.summary = null;
    wizard.fileChanged();
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
      wizard.fileRead();
      next.disabled = false;
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
  next.addEventListener('click', () => wizard.showStep(1));
  return { section };
}
