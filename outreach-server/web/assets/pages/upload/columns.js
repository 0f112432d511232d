// Upload step 2: the email column (pre-selected from the guess), the output columns
// and the result format.

import { alertBox, clear, h } from '../../ui.js';

const SIF = ['sif_research', 'sif_personalized'];

export function columnsStep(wizard) {
  const { state } = wizard;
  const error = alertBox('error');
  const emailSelect = h('select', { id: 'email-col', name: 'email_col' });
  const outputChecks = h('div', { class: 'checks' });
  const formatXlsx = h('input', { type: 'radio', name: 'format', value: 'xlsx', id: 'format-xlsx', checked: true });
  const formatCsv = h('input', { type: 'radio', name: 'format', value: 'csv', id: 'format-csv' });
  const back = h('button', { class: 'button quiet', type: 'button' }, 'Back');
  const next = h('button', { class: 'button', type: 'button' }, 'Next: your offer');
  const section = h('section', { class: 'card', 'aria-labelledby': 'step1-h' },
    h('h2', { id: 'step1-h' }, '2. Choose the columns'),
    h('div', { class: 'field' }, h('label', { for: 'email-col' }, 'Email column'), emailSelect,
      h('p', { class: 'hint' }, 'Research starts from each prospect’s email address and its domain.')),
    h('fieldset', {}, h('legend', {}, 'Columns in the result (optional)'),
      h('p', { class: 'hint' }, 'Untick what you do not need. The two new columns hold the research and the opener.'),
      outputChecks),
    h('fieldset', {}, h('legend', {}, 'Result format'),
      h('div', { class: 'row' }, h('label', { for: 'format-xlsx', class: 'row' }, formatXlsx, 'Excel (.xlsx)'),
        h('label', { for: 'format-csv', class: 'row' }, formatCsv, 'CSV'))),
    error,
    h('div', { class: 'row' }, back, next));

  /** Fills the choices from the file's headers. */
  function fill() {
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
  }

  /** This step's part of the job request. */
  function options() {
    const checked = [...outputChecks.querySelectorAll('input:checked')].map((i) => i.value);
    const all = outputChecks.querySelectorAll('input').length;
    return {
      email_col: emailSelect.value || null,
      output_columns: checked.length === all ? null : checked,
      format: formatCsv.checked ? 'csv' : 'xlsx',
    };
  }

  back.addEventListener('click', () => wizard.showStep(0));
  next.addEventListener('click', () => {
    error.hide();
    if (!emailSelect.value) {
      error.show('Choose the column that holds the email addresses.');
      emailSelect.focus();
      return;
    }
    if (!outputChecks.querySelector('input:checked')) {
      error.show('Keep at least one column in the result.');
      return;
    }
    wizard.showStep(2);
  });
  return { section, fill, options };
}
