// Upload step 3: the service context (fields, labels, defaults and the length limit
// come from /ui/config.json `service`, i.e. from the core's one definition), an optional preview
// of the first rows (a real job with `limit: 3`, charged like any other rows), then the
// job for the whole file.

import { api, describe } from '../../api.js';
import { watchJob } from '../../live.js';
import { evidenceList, researchLines, statusLabelOf } from '../../research.js';
import { serviceFields } from '../../service.js';
import { alertBox, busy, clear, fill, fmtNumber, h, progressBar, setProgress, statusLabel } from '../../ui.js';

export const PREVIEW_ROWS = 3;


export function offerStep(wizard) {
  const { state, config, signal } = wizard;
  const inputs = {};
  const fields = serviceFields(config).map(({ name, label, help, default: value, max_chars: maxChars }) => {
    const input = h('input', { type: 'text', id: `svc-${name}`, name, value: value ?? config.service_defaults?.[name] ?? '', maxlength: maxChars || undefined, 'aria-describedby': `svc-${name}-hint` });
    inputs[name] = input;
    return h('div', { class: 'field' }, h('label', { for: `svc-${name}` }, label), input, h('p', { class: 'hint', id: `svc-${name}-hint` }, help));
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
  const back = h('button', { class: 'button quiet', type: 'button' }, 'Back');
  const next = h('button', { class: 'button secondary', type: 'button' }, 'Next: email template (optional)');
  const section = h('section', { class: 'card', 'aria-labelledby': 'step2-h' },
    h('h2', { id: 'step2-h' }, '3. Describe your offer'),
    h('p', { class: 'muted' }, 'The openers tie each prospect’s situation to this. The defaults are a starting point.'),
    h('div', { class: 'grid wide' }, fields),
    h('section', { class: 'card', 'aria-labelledby': 'preview-h' },
      h('h3', { id: 'preview-h' }, 'Preview'),
      previewNote, previewButton, previewError, previewProgressBox, previewResults),
    createError,
    h('div', { class: 'row' }, back, createButton, next));

  /** Texts that depend on the file. */
  function fillFromFile() {
    const s = state.summary;
    const n = Math.min(PREVIEW_ROWS, s.rows);
    previewNote.textContent = `Runs the first ${n} row${n === 1 ? '' : 's'} for real so you can check the research and openers. This costs ${n} credit${n === 1 ? '' : 's'}, like any other rows.`;
    previewButton.textContent = `Preview the first ${n} row${n === 1 ? '' : 's'} (${n} credit${n === 1 ? '' : 's'})`;
    createButton.textContent = `Run all ${fmtNumber(s.rows)} rows (${fmtNumber(s.credit_cost)} credits)`;
  }

  function reset() {
    clear(previewResults);
  }

  /** This step's part of the job request. */
  function options() {
    const service = Object.fromEntries(Object.entries(inputs).map(([k, input]) => [k, input.value.trim()]));
    for (const [k, v] of Object.entries(service)) if (!v) delete service[k];
    return { service };
  }

  function showPreviewRows(preview, emailCol) {
    const col = (name) => preview.headers.indexOf(name);
    const iEmail = col(emailCol);
    const iResearch = col('sif_research');
    const iOpener = col('sif_personalized');
    const iStatus = col('sif_status');
    fill(previewResults,
      h('p', { class: 'alert ok' }, 'Here is what the first rows look like. If they read well, run the whole file below.'),
      ...preview.rows.map((row) =>
        h('article', { class: 'preview-row' },
          h('div', { class: 'small muted' }, iEmail >= 0 ? row[iEmail] : ''),
          iStatus >= 0 ? h('p', { class: 'row-status small', 'data-status': row[iStatus] }, statusLabelOf(row[iStatus])) : null,
          iOpener >= 0 ? h('p', { class: 'opener' }, row[iOpener]) : null,
          iResearch >= 0 ? h('ul', { 'aria-label': 'Research' }, researchLines(row[iResearch]).map((l) => h('li', {}, l))) : null,
          iResearch >= 0 ? evidenceList(row[iResearch]) : null)));
  }

  previewButton.addEventListener('click', () =>
    busy(previewButton, async () => {
      previewError.hide();
      clear(previewResults);
      const options = wizard.jobOptions();
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

  createButton.addEventListener('click', () => wizard.createJob(createButton, createError));
  back.addEventListener('click', () => wizard.showStep(1));
  next.addEventListener('click', () => wizard.showStep(3));
  return { section, fillFromFile, reset, options };
}
