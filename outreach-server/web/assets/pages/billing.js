// /billing: plans and credit packs (from the server's catalog), the current
// subscription, and Stripe Checkout (the browser goes to the URL the server returns).

import { api, describe } from '../api.js';
import { alertBox, busy, fmtDate, fmtNumber, h } from '../ui.js';

const cap = (s) => (s ? s.charAt(0).toUpperCase() + s.slice(1) : s);

export async function render(main, ctx) {
  const { config, query, signal } = ctx;
  const error = alertBox('error');
  main.append(h('div', { class: 'page-head' }, h('h1', {}, 'Billing')));
  const checkout = query.get('checkout');
  if (checkout === 'success') main.append(h('div', { class: 'alert ok', role: 'status' }, 'Thank you! Your payment went through; the credits appear as soon as Stripe confirms it (usually within seconds).'));
  if (checkout === 'cancelled') main.append(h('div', { class: 'alert info', role: 'status' }, 'Checkout was cancelled; nothing was charged.'));
  main.append(error);

  let me;
  try {
    me = await api('/me', { signal });
  } catch (e) {
    if (e.name !== 'AbortError') error.show(describe(e, 'loading your account'));
    return;
  }
  const billing = config.billing;
  const active = me.subscription_status === 'active';

  main.append(h('section', { class: 'card', 'aria-labelledby': 'sub-h' },
    h('h2', { id: 'sub-h' }, 'Your subscription'),
    h('dl', { class: 'facts' },
      h('dt', {}, 'Plan'), h('dd', { id: 'current-plan' }, cap(me.plan_type) || 'Free'),
      h('dt', {}, 'Status'), h('dd', {}, active ? 'Active' : cap(me.subscription_status) || 'Inactive'),
      h('dt', {}, 'Renews'), h('dd', {}, me.renewal_date ? fmtDate(me.renewal_date) : '—'),
      h('dt', {}, 'Credits remaining'), h('dd', {}, fmtNumber(me.credits_remaining)))));

  if (!billing.checkout) {
    main.append(h('div', { class: 'alert info' }, 'Online payment is not set up on this server. Ask your administrator for credits (', h('code', {}, 'outreach credits grant'), ').'));
  }

  function offerCard(kind, offer) {
    const current = kind === 'plan' && active && me.plan_type === offer.name;
    const canBuy = billing.checkout && offer.available && !current;
    const label = kind === 'plan' ? (current ? 'Current plan' : `Subscribe to ${cap(offer.name)}`) : `Buy ${fmtNumber(offer.credits)} credits`;
    const button = h('button', { class: `button${kind === 'addon' ? ' secondary' : ''}`, type: 'button', disabled: !canBuy }, label);
    const cardError = alertBox('error');
    button.addEventListener('click', () =>
      busy(button, async () => {
        cardError.hide();
        try {
          const { url } = await api('/create_checkout_session', { method: 'POST', json: { [kind]: offer.name } });
          window.location.assign(url);
        } catch (e) {
          cardError.show(describe(e, 'starting checkout'));
        }
      }));
    return h('article', { class: `card offer${current ? ' current' : ''}`, 'aria-label': `${cap(offer.name)} ${kind === 'plan' ? 'plan' : 'credit pack'}` },
      h('h3', {}, cap(offer.name)),
      h('div', { class: 'price' }, offer.price || '—'),
      h('p', {}, kind === 'plan' ? `${fmtNumber(offer.credits)} credits every month` : `${fmtNumber(offer.credits)} credits, once`),
      !offer.available && billing.checkout ? h('p', { class: 'hint' }, 'Not for sale on this server yet (no Stripe price).') : null,
      cardError, button);
  }

  main.append(
    h('section', { 'aria-labelledby': 'plans-h' }, h('h2', { id: 'plans-h' }, 'Plans'),
      h('div', { class: 'grid' }, billing.plans.map((p) => offerCard('plan', p)))),
    h('section', { 'aria-labelledby': 'addons-h' }, h('h2', { id: 'addons-h', class: 'spaced' }, 'Credit packs'),
      h('div', { class: 'grid' }, billing.addons.map((a) => offerCard('addon', a)))));
}
