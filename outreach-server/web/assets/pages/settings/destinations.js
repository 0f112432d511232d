// Settings: the account's push destinations (GET/PUT/DELETE /destinations/{to}). An API
// key is write-only: the server stores it sealed and answers its last four characters
// at most, so the field is always empty and a saved key shows as "saved".

import { api, describe } from '../../api.js';
import { DESTINATIONS } from '../../destinations.js';
import { alertBox, busy, fill, fmtDateTime, h } from '../../ui.js';

export function destinationsSection({ signal }) {
  const error = alertBox('error');
  const list = h('div', { class: 'grid wide' });
  const section = h('section', { class: 'card', id: 'destinations', 'aria-labelledby': 'destinations-h' },
    h('h2', { id: 'destinations-h' }, 'Destinations'),
    h('p', { class: 'muted' }, 'Where “Send to …” on a finished job pushes its rows. Keys are stored encrypted and are never shown again, not even to you.'),
    error, list);
  let saved = new Map();

  function destinationCard(d) {
    const current = saved.get(d.to);
    const ok = alertBox('ok');
    const cardError = alertBox('error');
    const keyInput = h('input', {
      type: 'password', id: `key-${d.to}`, name: 'api_key', autocomplete: 'new-password', spellcheck: 'false',
      placeholder: current ? 'saved (never shown)' : '', 'aria-describedby': `key-${d.to}-hint`,
    });
    const campaignInput = d.campaign
      ? h('input', { type: 'text', id: `campaign-${d.to}`, name: 'campaign', value: current?.campaign || '', autocomplete: 'off', spellcheck: 'false', 'aria-describedby': `campaign-${d.to}-hint` })
      : null;
    const save = h('button', { class: 'button small', type: 'submit', 'aria-label': `Save ${d.name}` }, 'Save');
    const remove = current
      ? h('button', { class: 'button small danger', type: 'button', 'aria-label': `Remove ${d.name}` }, 'Remove')
      : null;
    const status = h('p', { class: 'dest-status', 'data-saved': current ? 'true' : 'false' },
      current
        ? [h('strong', {}, 'Saved'), ` · key ${current.key_hint}`,
          current.campaign ? [' · default campaign ', h('code', { class: 'dest-campaign' }, current.campaign)] : null,
          h('span', { class: 'muted small' }, ` · ${fmtDateTime(current.updated_at)}`)]
        : h('span', { class: 'muted' }, 'Not set up'));
    const form = h('form', { class: 'destination-form', novalidate: true },
      h('div', { class: 'field' },
        h('label', { for: `key-${d.to}` }, `${d.name} API key`),
        keyInput,
        h('p', { class: 'hint', id: `key-${d.to}-hint` }, current ? 'Leave a new key here to replace the saved one; it is never shown back.' : 'Stored encrypted; never shown back.')),
      campaignInput
        ? h('div', { class: 'field' },
          h('label', { for: `campaign-${d.to}` }, `Default ${d.campaign}`),
          campaignInput,
          h('p', { class: 'hint', id: `campaign-${d.to}-hint` }, d.hint))
        : h('p', { class: 'hint' }, d.hint),
      h('div', { class: 'row' }, save, remove));

    form.addEventListener('submit', (event) => {
      event.preventDefault();
      busy(save, async () => {
        ok.hide();
        cardError.hide();
        const apiKey = keyInput.value.trim();
        const campaign = campaignInput ? campaignInput.value.trim() : '';
        if (!apiKey) {
          cardError.show(current ? `Enter the ${d.name} API key again to change this destination: saved keys are never shown back.` : `Enter your ${d.name} API key.`);
          keyInput.focus();
          return;
        }
        if (campaignInput && !campaign) {
          cardError.show(`Enter the default ${d.campaign}: pushes go to it unless you choose another.`);
          campaignInput.focus();
          return;
        }
        try {
          const answer = await api(`/destinations/${d.to}`, { method: 'PUT', json: { api_key: apiKey, campaign }, signal });
          keyInput.value = '';
          saved.set(d.to, answer);
          redraw(d.to, `${d.name} is saved. The key is stored encrypted and will not be shown again.`);
        } catch (e) {
          if (e.name !== 'AbortError') cardError.show(describe(e, `saving ${d.name}`));
        }
      });
    });
    remove?.addEventListener('click', () =>
      busy(remove, async () => {
        ok.hide();
        cardError.hide();
        if (!window.confirm(`Forget the ${d.name} key and campaign?`)) return;
        try {
          await api(`/destinations/${d.to}`, { method: 'DELETE', signal });
          saved.delete(d.to);
          redraw(d.to, `${d.name} is removed.`);
        } catch (e) {
          if (e.name !== 'AbortError') cardError.show(describe(e, `removing ${d.name}`));
        }
      }));
    const card = h('article', { class: 'destination', id: `destination-${d.to}`, 'data-to': d.to, 'aria-labelledby': `dest-${d.to}-h` },
      h('h3', { id: `dest-${d.to}-h` }, d.name), status, ok, cardError, form);
    card.ok = ok;
    return card;
  }

  function redraw(to, message) {
    const d = DESTINATIONS.find((x) => x.to === to);
    const old = list.querySelector(`[data-to="${to}"]`);
    const card = destinationCard(d);
    old.replaceWith(card);
    if (message) card.ok.show(message);
  }

  async function load() {
    try {
      const answer = await api('/destinations', { signal });
      saved = new Map(answer.destinations.map((d) => [d.to, d]));
    } catch (e) {
      if (e.name === 'AbortError') return;
      error.show(describe(e, 'loading your destinations'));
      return;
    }
    fill(list, DESTINATIONS.map(destinationCard));
  }

  return { section, load };
}
