// /verify?token=…: the link mailed at sign-up. Confirms the email with the server,
// which grants the plan's free credits the first time (a second click grants nothing).

import { AuthError, readSession, verifyEmail } from '../auth.js';
import { h } from '../ui.js';

export async function render(main, ctx) {
  const token = ctx.query.get('token') || '';
  const status = h('div', { class: 'alert info', role: 'status', id: 'verify-status' }, 'Confirming your email…');
  const card = h('div', { class: 'card' }, h('h1', {}, 'Confirm your email'), status);
  main.append(h('div', { class: 'auth-box' }, card));
  // The token stays out of the address bar (and so out of history and screenshots).
  history.replaceState(null, '', '/verify');
  if (!token) {
    status.className = 'alert error';
    status.textContent = 'This link has no token. Open the link from the mail again.';
    return;
  }
  const next = readSession() ? h('a', { class: 'button', href: '/upload' }, 'Upload a list') : h('a', { class: 'button', href: '/login' }, 'Sign in');
  try {
    const { email, credits_granted: granted } = await verifyEmail(token);
    status.className = 'alert ok';
    status.textContent = granted > 0
      ? `${email} is confirmed. ${granted} free credits were added to your account.`
      : `${email} is confirmed already.`;
  } catch (err) {
    status.className = 'alert error';
    status.setAttribute('role', 'alert');
    status.textContent = err instanceof AuthError ? err.message : `Confirmation failed: ${err.message || err}`;
    card.append(h('p', {}, 'Signed in? Ask for a new link on ', h('a', { href: '/account' }, 'your account page'), '.'));
    return;
  }
  card.append(h('p', {}, next));
}
