// Upload step 4 (optional): email templates. A subject and a body in Jinja
// (`{{ first_name }}`, `{{ sif_personalized }}`, `{{ company.name }}`, …), optional A/B
// variants, and a live preview of the first rows rendered by the server with the same
// MiniJinja renderer a job uses (POST /api/templates/preview); a template error shows
// its line and column. Left empty, the job writes no drafts.

import { api, describe } from '../../api.js';
import { alertBox, clear, fill, h } from '../../ui.js';

const PREVIEW_ROWS = 3;
const DEBOUNCE_MS = 350;

function pair(id, label) {
  const subject = h('input', { type: 'text', id: `${id}-subject`, name: `${id}-subject`, autocomplete: 'off', spellcheck: 'true' });
  const body = h('textarea', { id: `${id}-body`, name: `${id}-body`, rows: 7, spellcheck: 'true' });
  const box = h('fieldset', { class: 'template-pair' }, h('legend', {}, label),
    h('div', { class: 'field' }, h('label', { for: `${id}-subject` }, 'Subject template'), subject),
    h('div', { class: 'field' }, h('label', { for: `${id}-body` }, 'Body template'), body));
  return { subject, body, box };
}

export function templateStep(wizard) {
  const { state, signal } = wizard;
  const main = pair('tpl', 'Email');
  const variants = [];
  const variantsBox = h('div');
  const addVariant = h('button', { class: 'button quiet small', type: 'button' }, 'Add an A/B variant');
  const status = h('p', { class: 'muted small', role: 'status', 'aria-live': 'polite' });
  const problem = h('div', { class: 'alert error', id: 'template-error', role: 'alert', hidden: true });
  const previews = h('div', { id: 'template-preview', 'aria-label': 'Template preview' });
  const createError = alertBox('error');
  const back = h('button', { class: 'button quiet', type: 'button' }, 'Back');
  const create = h('button', { class: 'button', type: 'button' }, 'Run the whole file with these templates');
  const section = h('section', { class: 'card', 'aria-labelledby': 'step3-h' },
    h('h2', { id: 'step3-h' }, '4. Email template (optional)'),
    h('p', { class: 'muted' }, 'Write the email around the opener. Use column names like ', h('code', {}, '{{ first_name }}'),
      ', the opener as ', h('code', {}, '{{ sif_personalized }}'), ' and research as ', h('code', {}, '{{ company.name }}'),
      '. Leave both empty for no drafts.'),
    main.box, variantsBox, addVariant,
    h('section', { class: 'card', 'aria-labelledby': 'tpl-preview-h' },
      h('h3', { id: 'tpl-preview-h' }, 'Preview of the first rows'), status, problem, previews),
    createError,
    h('div', { class: 'row' }, back, create));

  /** The template part of the job request (nothing when both fields are empty). */
  function options() {
    const out = {};
    const subject = main.subject.value;
    const body = main.body.value;
    if (subject.trim() || body.trim()) {
      out.subject_template = subject;
      out.body_template = body;
    }
    const filled = variants.filter((v) => v.subject.value.trim() || v.body.value.trim());
    if (filled.length) {
      out.variants = filled.map((v, i) => ({ name: String.fromCharCode(66 + i), subject: v.subject.value, body: v.body.value }));
      // The main pair is variant A when variants exist.
      if (out.subject_template !== undefined) {
        out.variants.unshift({ name: 'A', subject: out.subject_template, body: out.body_template });
        delete out.subject_template;
        delete out.body_template;
      }
    }
    return out;
  }

  let timer = null;
  let seq = 0;
  async function refresh() {
    const templates = options();
    problem.hidden = true;
    if (!state.upload || (templates.subject_template === undefined && !templates.variants)) {
      clear(previews);
      status.textContent = 'Type a subject and a body to see them on your first rows.';
      return;
    }
    const mine = ++seq;
    status.textContent = 'Rendering…';
    try {
      const r = await api('/templates/preview', { method: 'POST', json: { file_path: state.upload.file_path, rows: PREVIEW_ROWS, ...templates }, signal });
      if (mine !== seq) return;
      status.textContent = '';
      if (r.error) {
        clear(previews);
        problem.textContent = `The ${r.error.template} template, line ${r.error.line}, column ${r.error.column}: ${r.error.message}`;
        problem.dataset.line = String(r.error.line);
        problem.dataset.column = String(r.error.column);
        problem.hidden = false;
        return;
      }
      fill(previews, ...r.drafts.map((d) => h('article', { class: 'draft-preview' },
        h('div', { class: 'small muted' }, d.email, d.variant && templates.variants ? ` · variant ${d.variant}` : ''),
        h('p', { class: 'draft-subject' }, h('strong', {}, d.subject)),
        h('pre', { class: 'draft-body' }, d.body))));
    } catch (e) {
      if (e.name === 'AbortError' || mine !== seq) return;
      status.textContent = '';
      problem.textContent = describe(e, 'rendering the preview');
      problem.hidden = false;
    }
  }
  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(refresh, DEBOUNCE_MS);
  }
  for (const input of [main.subject, main.body]) input.addEventListener('input', schedule);
  addVariant.addEventListener('click', () => {
    const letter = String.fromCharCode(66 + variants.length);
    const v = pair(`tpl-${letter.toLowerCase()}`, `Variant ${letter}`);
    variants.push(v);
    variantsBox.append(v.box);
    for (const input of [v.subject, v.body]) input.addEventListener('input', schedule);
    if (variants.length >= 3) addVariant.hidden = true;
    v.subject.focus();
  });

  back.addEventListener('click', () => wizard.showStep(2));
  create.addEventListener('click', () => wizard.createJob(create, createError));
  return { section, options, shown: refresh, reset: () => clear(previews) };
}
