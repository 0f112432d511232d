// /: plan, credits, renewal date, recent ledger entries; buy credits when at zero.

import { api, describe } from '../api.js';
import { alertBox, fmtDate, fmtDateTime, fmtNumber, h, table } from '../ui.js';

/** What a ledger line was, in words. */
export function entryKind(entry) {
  const reason = (entry.reason || '').toLowerCase();
  if (entry.change < 0) return 'Deduction';
  if (reason.includes('refund')) return 'Refund';
  if (reason.includes('signup') || reason.includes('free credits')) return 'Free credits';
  if (entry.amount_usd != null || /purchase|plan|add-?on|renewal|checkout|invoice/.test(reason)) return 'Purchase';
  return 'Credit grant';
}

function describeReason(reason) {
  // "job deduction: <uuid>" → show the short job id, linked.
  const m = /^(.*?):\s*([0-9a-f-]{36})$/i.exec(reason || '');
  if (!m) return reason || '';
  return [m[1].charAt(0).toUpperCase() + m[1].slice(1), ' · ', h('a', { href: `/jobs/${m[2]}` }, `job ${m[2].slice(0, 8)}`)];
}

export async function render(main, ctx) {
  const error = alertBox('error');
  main.append(h('div', { class: 'page-head' }, h('h1', {}, 'Dashboard'), h('a', { class: 'button', href: '/upload' }, 'New upload')), error);
  let me;
  let ledger;
  try {
    [me, ledger] = await Promise.all([api('/me', { signal: ctx.signal }), api('/ledger?limit=15', { signal: ctx.signal })]);
  } catch (e) {
    if (e.name === 'AbortError') return;
    error.show(describe(e, 'loading your account'));
    return;
  }

  const plan = me.plan_type ? me.plan_type.charAt(0).toUpperCase() + me.plan_type.slice(1) : 'Free';
  const active = me.subscription_status === 'active';
  const credits = h('section', { class: 'card', 'aria-labelledby': 'credits-h' },
    h('div', { class: 'stat-label', id: 'credits-h' }, 'Credits remaining'),
    h('div', { class: 'big-number', id: 'credits-remaining', 'data-credits': me.credits_remaining }, fmtNumber(me.credits_remaining)),
    h('p', { class: 'muted small' }, 'One credit per row processed.'),
    me.credits_remaining <= 0
      ? h('div', { class: 'alert warn', id: 'buy-cta' },
        h('p', {}, 'You have no credits left. Buy a plan or a credit pack to run more files.'),
        h('a', { class: 'button', href: '/billing' }, 'Buy credits'))
      : h('a', { class: 'button secondary small', href: '/billing' }, 'Buy more credits'));

  const planCard = h('section', { class: 'card', 'aria-labelledby': 'plan-h' },
    h('div', { class: 'stat-label', id: 'plan-h' }, 'Plan'),
    h('div', { class: 'big-number' }, plan),
    h('dl', { class: 'facts' },
      h('dt', {}, 'Subscription'), h('dd', {}, active ? 'Active' : me.subscription_status === 'inactive' ? 'None' : me.subscription_status),
      h('dt', {}, 'Renews'), h('dd', { id: 'renewal-date' }, me.renewal_date ? fmtDate(me.renewal_date) : '—'),
      me.max_credits ? [h('dt', {}, 'Credits per period'), h('dd', {}, fmtNumber(me.max_credits))] : null,
      h('dt', {}, 'Signed in as'), h('dd', {}, me.email || ctx.session.user.email || '—')));

  const rows = ledger.entries.map((e) =>
    h('tr', { 'data-kind': entryKind(e).toLowerCase() },
      h('td', {}, fmtDateTime(e.ts)),
      h('td', {}, entryKind(e)),
      h('td', {}, describeReason(e.reason)),
      h('td', { class: `num ${e.change < 0 ? 'minus' : 'plus'}` }, `${e.change > 0 ? '+' : ''}${fmtNumber(e.change)}`),
      h('td', { class: 'num' }, fmtNumber(e.balance_after))));
  const history = h('section', { class: 'card', 'aria-labelledby': 'ledger-h' },
    h('div', { class: 'spread' }, h('h2', { id: 'ledger-h' }, 'Recent activity'),
      h('span', { class: 'muted small' }, `${fmtNumber(ledger.total)} entr${ledger.total === 1 ? 'y' : 'ies'}`)),
    rows.length
      ? table(['When', 'Type', 'Details', h('th', { class: 'num', scope: 'col' }, 'Change'), h('th', { class: 'num', scope: 'col' }, 'Balance')], rows, { label: 'Credit history', caption: 'Credit history, newest first' })
      : h('p', { class: 'muted' }, 'Nothing yet.'));

  main.append(h('div', { class: 'grid' }, credits, planCard), history);
}
