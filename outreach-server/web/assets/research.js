// Reading result rows: the `sif_research` JSON as a few lines, and its evidence (fact,
// quote, source link) so a person can see where each fact was found. Shared by the
// upload wizard's preview and the job page. Text and links only (no innerHTML): the
// strict CSP stays, and nothing a search result says can become markup.

import { h } from './ui.js';

function parse(text) {
  try {
    const r = JSON.parse(text);
    return r && typeof r === 'object' ? r : null;
  } catch {
    return null;
  }
}

/** The research JSON of a result row as a few readable lines. */
export function researchLines(text) {
  const r = parse(text);
  if (!r) return [text];
  const lines = [];
  if (r.person?.name) lines.push(`${r.person.name}${r.person.info?.length ? `: ${r.person.info.slice(0, 2).join('; ')}` : ''}`);
  if (r.company?.name) lines.push(`${r.company.name}${r.company.info?.length ? `: ${r.company.info.slice(0, 2).join('; ')}` : ''}`);
  if (r.company?.moat) lines.push(`Edge: ${r.company.moat}`);
  return lines.length ? lines : [text];
}

/** Only http(s) links are shown as links; anything else stays text. */
function safeUrl(url) {
  try {
    const u = new URL(url);
    return u.protocol === 'https:' || u.protocol === 'http:' ? u.href : null;
  } catch {
    return null;
  }
}

/** The evidence of a `sif_research` cell: each fact, its quote and its source. */
export function evidenceList(text) {
  const r = parse(text);
  const evidence = Array.isArray(r?.evidence) ? r.evidence.filter((e) => e && e.fact) : [];
  if (!evidence.length) return null;
  return h('ul', { class: 'evidence small', 'aria-label': 'Evidence' }, evidence.map((e) => {
    const href = safeUrl(e.url);
    let host = '';
    try {
      host = href ? new URL(href).hostname : '';
    } catch {
      host = '';
    }
    return h('li', { class: 'evidence-item' },
      h('span', { class: 'fact' }, e.fact),
      e.quote ? h('q', { class: 'quote' }, e.quote) : null,
      href ? h('a', { class: 'source', href, rel: 'noopener noreferrer nofollow', target: '_blank' }, host || 'source') : (e.url ? h('span', { class: 'source muted' }, e.url) : null));
  }));
}

/** `sif_status` in plain words for people (the code itself is shown too). */
export function statusLabelOf(status) {
  const words = {
    enriched: 'Researched',
    no_signal: 'Nothing verifiable found',
    identity_unsure: 'Unsure it is this person',
    invalid_email: 'Not an email address',
    missing_key: 'Provider key missing',
    provider_failed: 'Provider failed',
    suppressed: 'Do not contact',
  };
  return words[status] || status || '';
}
