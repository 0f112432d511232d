// /settings: where a finished job's rows can be sent (destinations and their keys),
// who is never contacted (the account's do-not-contact list), and the webhook told
// when a job or a push finishes.

import { destinationsSection } from './settings/destinations.js';
import { suppressionSection } from './settings/suppression.js';
import { webhookSection } from './settings/webhook.js';
import { h } from '../ui.js';

export async function render(main, ctx) {
  const { signal } = ctx;
  const parts = [destinationsSection({ signal }), suppressionSection({ signal }), webhookSection({ signal })];
  main.append(h('div', { class: 'page-head' }, h('h1', {}, 'Settings')), ...parts.map((p) => p.section));
  await Promise.all(parts.map((p) => p.load()));
}
