// Settings: the account's outgoing webhook (GET/PUT/DELETE /webhook). Saving answers
// the signing secret once; it is shown here once and never again (the server keeps it
// sealed), so the page says so and offers to copy it.

import { api, ApiError, describe } from '../../api.js';
import { alertBox, busy, clear, fill, fmtDateTime, h } from '../../ui.js';

export function webhookSection({ signal }) {
  const error = alertBox('error');
  const ok = alertBox('ok');
  const current = h('p', { id: 'webhook-current' }, 'Loading…');
  const secretBox = h('div', { id: 'webhook-secret', class: 'alert warn', hidden: true });
  const urlInput = h('input', { type: 'url', id: 'webhook-url', name: 'url', autocomplete: 'off', spellcheck: 'false', placeholder: 'https://hooks.zapier.com/…', 'aria-describedby': 'webhook-url-hint' });
  const save = h('button', { class: 'button small', type: 'submit' }, 'Save webhook');
  const remove = h('button', { class: 'button small danger', type: 'button', hidden: true }, 'Remove webhook');
  const form = h('form', { novalidate: true },
    h('div', { class: 'field' },
      h('label', { for: 'webhook-url' }, 'Webhook URL'),
      urlInput,
      h('p', { class: 'hint', id: 'webhook-url-hint' }, 'Saving a URL makes a new signing secret; the old one stops working.')),
    h('div', { class: 'row' }, save, remove));
  const section = h('section', { class: 'card', id: 'webhook', 'aria-labelledby': 'webhook-h' },
    h('h2', { id: 'webhook-h' }, 'Webhook'),
    h('p', { class: 'muted' }, 'When a job or a push finishes, the server POSTs ', h('code', {}, 'job.finished'), ' or ', h('code', {}, 'push.finished'),
      ' to this URL (Zapier, Make, n8n…), signed in the header ', h('code', {}, 'Outreach-Signature: t=…,v1=…'),
      ' with HMAC-SHA256 of ', h('code', {}, '"<t>.<body>"'), ' under your signing secret, the way Stripe signs.'),
    current, error, ok, secretBox, form);

  function showCurrent(hook) {
    remove.hidden = !hook;
    if (hook) fill(current, 'Sending to ', h('code', { class: 'webhook-url' }, hook.url), h('span', { class: 'muted small' }, ` · since ${fmtDateTime(hook.updated_at)}`));
    else fill(current, h('span', { class: 'muted' }, 'No webhook is set.'));
  }

  function showSecret(secret) {
    const copy = h('button', { class: 'button small secondary', type: 'button' }, 'Copy the secret');
    copy.addEventListener('click', async () => {
      try {
        await navigator.clipboard.writeText(secret);
        copy.textContent = 'Copied';
      } catch {
        copy.textContent = 'Select it and copy it by hand';
      }
    });
    fill(secretBox,
      h('p', {}, h('strong', {}, 'Your signing secret. Copy it now: it is shown only this once.')),
      h('p', {}, h('code', { id: 'webhook-secret-value', class: 'secret' }, secret)),
      copy);
    secretBox.hidden = false;
  }

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    busy(save, async () => {
      ok.hide();
      error.hide();
      const url = urlInput.value.trim();
      if (!/^https?:\/\/\S+$/i.test(url)) {
        error.show('Enter the full address of the webhook, starting with https://.');
        urlInput.focus();
        return;
      }
      try {
        const hook = await api('/webhook', { method: 'PUT', json: { url }, signal });
        urlInput.value = '';
        showCurrent(hook);
        showSecret(hook.secret);
        ok.show('The webhook is saved.');
      } catch (e) {
        if (e.name !== 'AbortError') error.show(describe(e, 'saving the webhook'));
      }
    });
  });

  remove.addEventListener('click', () =>
    busy(remove, async () => {
      ok.hide();
      error.hide();
      if (!window.confirm('Stop sending webhooks to this URL?')) return;
      try {
        await api('/webhook', { method: 'DELETE', signal });
        showCurrent(null);
        clear(secretBox);
        secretBox.hidden = true;
        ok.show('The webhook is removed.');
      } catch (e) {
        if (e.name !== 'AbortError') error.show(describe(e, 'removing the webhook'));
      }
    }));

  async function load() {
    try {
      showCurrent(await api('/webhook', { signal }));
    } catch (e) {
      if (e.name === 'AbortError') return;
      if (e instanceof ApiError && e.status === 404) showCurrent(null);
      else {
        current.textContent = '';
        error.show(describe(e, 'loading the webhook'));
      }
    }
  }

  return { section, load };
}
