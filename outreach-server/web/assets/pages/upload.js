// /upload: the wizard. Each step is a module of its own under pages/upload/:
//   1. file.js      the file, its headers, rows, cost and balance (nothing charged)
//   2. columns.js   the email column, output columns, format
//   3. offer.js     the service context, a 3-row preview job, run the whole file
//   4. template.js  optional email templates with a live server-side preview
// This file holds what they share: the state, the step indicator and the job request.
// Errors appear next to the step that caused them.

import { api, describe } from '../api.js';
import { busy, h } from '../ui.js';
import { columnsStep } from './upload/columns.js';
import { fileStep } from './upload/file.js';
import { offerStep } from './upload/offer.js';
import { templateStep } from './upload/template.js';

export async function render(main, ctx) {
  const { config, signal, navigate } = ctx;
  const state = { step: 0, upload: null, summary: null, previewJob: null, busy: false };
  const wizard = { state, config, signal };
  const steps = [];

  wizard.showStep = (n) => {
    state.step = n;
    steps.forEach((s, i) => {
      s.section.hidden = i !== n;
    });
    [...indicator.children].forEach((li, i) => {
      if (i === n) li.setAttribute('aria-current', 'step');
      else li.removeAttribute('aria-current');
      li.classList.toggle('done', i < n);
    });
    const heading = steps[n].section.querySelector('h2');
    heading.tabIndex = -1;
    heading.focus();
    steps[n].shown?.();
  };
  // A new file: what was shown for the old one goes.
  wizard.fileChanged = () => {
    state.previewJob = null;
    for (const s of steps) s.reset?.();
  };
  wizard.fileRead = () => {
    columns.fill();
    offer.fillFromFile();
  };
  wizard.jobOptions = () => ({
    file_path: state.upload.file_path,
    ...columns.options(),
    ...offer.options(),
    ...template.options(),
  });
  wizard.createJob = (button, errorBox) =>
    busy(button, async () => {
      errorBox.hide();
      try {
        const created = await api('/jobs', { method: 'POST', json: wizard.jobOptions(), signal });
        sessionStorage.setItem('outreach.created', created.job_id);
        navigate('/jobs');
      } catch (e) {
        if (e.name !== 'AbortError') errorBox.show(describe(e, 'creating the job'));
      }
    });

  const file = fileStep(wizard);
  const columns = columnsStep(wizard);
  const offer = offerStep(wizard);
  const template = templateStep(wizard);
  steps.push(file, columns, offer, template);

  const stepNames = ['File', 'Columns', 'Your offer', 'Email template'];
  const indicator = h('ol', { class: 'steps', 'aria-label': 'Steps' }, stepNames.map((n) => h('li', {}, n)));
  main.append(h('div', { class: 'page-head' }, h('h1', {}, 'New upload')), indicator, ...steps.map((s) => s.section));
  steps.forEach((s, i) => {
    s.section.hidden = i !== 0;
  });
  indicator.children[0].setAttribute('aria-current', 'step');
}
