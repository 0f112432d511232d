// Settings: the account's do-not-contact list (GET/POST/DELETE /suppression, POST
// /suppression/upload). Every job and every push of the account skips these people
// before any provider call. The API answers the whole list; it is shown a page at a
// time, with a filter.

import { api, describe } from '../../api.js';
import { alertBox, busy, clear, fill, fmtNumber, h, table } from '../../ui.js';

const PAGE = 50;

const plural = (n, one, many) => `${fmtNumber(n)} ${n === 1 ? one : many}`;

/** "Added 3 new entries (4 read). 1 line was not an email or domain: line 5 “foo”." */
function addedMessage(answer) {
  const parts = [`Added ${plural(answer.added, 'new entry', 'new entries')} (${fmtNumber(answer.read)} read; entries already on the list are kept once).`];
  const rejected = answer.rejected || [];
  if (rejected.length) {
    const shown = rejected.slice(0, 5).map((r) => `line ${r.line} “${r.value}”`).join(', ');
    parts.push(`${plural(rejected.length, 'line was', 'lines were')} neither an email nor a domain: ${shown}${rejected.length > 5 ? ', …' : ''}.`);
  }
  return parts.join(' ');
}

export function suppressionSection({ signal }) {
  const error = alertBox('error');
  const ok = alertBox('ok');
  const count = h('p', { id: 'dnc-count', role: 'status', 'aria-live': 'polite' }, 'Loading…');
  const addInput = h('textarea', { id: 'dnc-add', name: 'entries', rows: 3, spellcheck: 'false', 'aria-describedby': 'dnc-add-hint' });
  const addButton = h('button', { class: 'button small', type: 'submit' }, 'Add to the list');
  const fileInput = h('input', { type: 'file', id: 'dnc-file', name: 'file', accept: '.csv,.txt,text/csv,text/plain', 'aria-describedby': 'dnc-file-hint' });
  const uploadButton = h('button', { class: 'button small secondary', type: 'submit' }, 'Upload the file');
  const filter = h('input', { type: 'text', id: 'dnc-filter', autocomplete: 'off', spellcheck: 'false' });
  const listBox = h('div', { id: 'dnc-list' });
  const pager = h('div', { class: 'row pager' });

  const addForm = h('form', { novalidate: true },
    h('div', { class: 'field' },
      h('label', { for: 'dnc-add' }, 'Add emails or domains'),
      addInput,
      h('p', { class: 'hint', id: 'dnc-add-hint' }, 'One a line: jane@acme.com for one person, acme.com or @acme.com for everyone there.')),
    addButton);
  const uploadForm = h('form', { novalidate: true },
    h('div', { class: 'field' },
      h('label', { for: 'dnc-file' }, 'Upload a list'),
      fileInput,
      h('p', { class: 'hint', id: 'dnc-file-hint' }, 'A text file with one entry a line, or a CSV with an email or domain column.')),
    uploadButton);

  const section = h('section', { class: 'card', id: 'do-not-contact', 'aria-labelledby': 'dnc-h' },
    h('h2', { id: 'dnc-h' }, 'Do-not-contact list'),
    h('p', { class: 'muted' }, 'People and domains here are never researched, charged or pushed: their rows keep their place in the result, marked suppressed.'),
    count, error, ok,
    h('div', { class: 'grid wide' }, addForm, uploadForm),
    h('div', { class: 'field spaced' }, h('label', { for: 'dnc-filter' }, 'Find an entry'), filter),
    listBox, pager);

  let entries = [];
  let page = 0;

  function visible() {
    const q = filter.value.trim().toLowerCase();
    return q ? entries.filter((e) => e.includes(q)) : entries;
  }

  function removeButton(entry) {
    const b = h('button', { class: 'button small danger', type: 'button', 'aria-label': `Remove ${entry}` }, 'Remove');
    b.addEventListener('click', () =>
      busy(b, async () => {
        ok.hide();
        error.hide();
        try {
          await api(`/suppression?entry=${encodeURIComponent(entry)}`, { method: 'DELETE', signal });
          ok.show(`Removed ${entry}.`);
          await load();
        } catch (e) {
          if (e.name !== 'AbortError') error.show(describe(e, `removing ${entry}`));
        }
      }));
    return b;
  }

  function draw() {
    count.textContent = entries.length ? `${plural(entries.length, 'entry', 'entries')} on the list.` : 'The list is empty.';
    const shown = visible();
    const pages = Math.max(1, Math.ceil(shown.length / PAGE));
    page = Math.min(page, pages - 1);
    const slice = shown.slice(page * PAGE, page * PAGE + PAGE);
    if (!shown.length) {
      fill(listBox, entries.length ? h('p', { class: 'muted' }, 'No entry matches.') : null);
      clear(pager);
      return;
    }
    fill(listBox, table(['Entry', h('th', { scope: 'col' }, h('span', { class: 'visually-hidden' }, 'Actions'))],
      slice.map((e) => h('tr', {}, h('td', { class: 'dnc-entry' }, h('code', {}, e)), h('td', { class: 'num' }, removeButton(e)))),
      { label: 'Do-not-contact entries', class: 'dnc' }));
    const prev = h('button', { class: 'button small quiet', type: 'button', disabled: page === 0 }, 'Previous');
    const next = h('button', { class: 'button small quiet', type: 'button', disabled: page >= pages - 1 }, 'Next');
    prev.addEventListener('click', () => { page -= 1; draw(); });
    next.addEventListener('click', () => { page += 1; draw(); });
    fill(pager, pages > 1 ? [prev, h('span', { class: 'muted small' }, `Entries ${fmtNumber(page * PAGE + 1)}–${fmtNumber(page * PAGE + slice.length)} of ${fmtNumber(shown.length)}`), next] : null);
  }

  async function load() {
    try {
      const answer = await api('/suppression', { signal });
      entries = answer.entries || [];
    } catch (e) {
      if (e.name === 'AbortError') return;
      count.textContent = '';
      error.show(describe(e, 'loading the do-not-contact list'));
      return;
    }
    draw();
  }

  filter.addEventListener('input', () => {
    page = 0;
    draw();
  });

  addForm.addEventListener('submit', (event) => {
    event.preventDefault();
    busy(addButton, async () => {
      ok.hide();
      error.hide();
      const lines = addInput.value.split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
      if (!lines.length) {
        error.show('Enter at least one email or domain.');
        addInput.focus();
        return;
      }
      try {
        const answer = await api('/suppression', { method: 'POST', json: { entries: lines }, signal });
        addInput.value = '';
        ok.show(addedMessage(answer));
        await load();
      } catch (e) {
        if (e.name !== 'AbortError') error.show(describe(e, 'adding to the do-not-contact list'));
      }
    });
  });

  uploadForm.addEventListener('submit', (event) => {
    event.preventDefault();
    busy(uploadButton, async () => {
      ok.hide();
      error.hide();
      const file = fileInput.files?.[0];
      if (!file) {
        error.show('Choose a file first.');
        fileInput.focus();
        return;
      }
      try {
        const answer = await api('/suppression/upload', { method: 'POST', raw: file, contentType: 'text/csv', signal });
        fileInput.value = '';
        ok.show(`${file.name}: ${addedMessage(answer)}`);
        await load();
      } catch (e) {
        if (e.name !== 'AbortError') error.show(describe(e, `uploading ${file.name}`));
      }
    });
  });

  return { section, load };
}
