// /account: the signed-in account — its email and whether it is confirmed (with a
// "send the link again" button), a new password (needs the current one; this browser
// stays signed in, every other session ends), and signing out everywhere.

import { api, describe } from '../api.js';
import { AuthError, changePassword, resendVerification, signOutEverywhere } from '../auth.js';
import { alertBox, busy, h } from '../ui.js';

const MIN_PASSWORD = 10;

export async function render(main, ctx) {
  const { config, session, navigate, signal } = ctx;
  const local = config.auth.mode === 'local' && session.mode === 'local';
  main.append(h('div', { class: 'page-head' }, h('h1', {}, 'Account')));
  const me = await api('/me', { signal });
  const verified = session.user?.email_verified;

  const emailCard = h('section', { class: 'card', 'aria-labelledby': 'account-email' },
    h('h2', { id: 'account-email' }, 'Email'), h('p', { id: 'account-address' }, me.email || session.user?.email || ''));
  if (local && verified === false) {
    const note = alertBox('info');
    const resend = h('button', { class: 'button secondary', type: 'button' }, 'Send the link again');
    resend.addEventListener('click', () => busy(resend, async () => {
      note.hide();
      try {
        await resendVerification();
        note.show('A new link is on its way. Open it to confirm your email.');
      } catch (err) {
        note.show(err instanceof AuthError ? err.message : describe(err));
      }
    }));
    emailCard.append(
      h('p', { id: 'verify-note' }, `Not confirmed yet: open the link we mailed you${config.free_credits > 0 ? ` to receive your ${config.free_credits} free credits` : ''}.`),
      note, resend);
  }
  main.append(emailCard);
  if (!local) {
    main.append(h('p', { class: 'muted' }, 'Your password and sessions are managed where you signed in.'));
    return;
  }

  const error = alertBox('error');
  const done = alertBox('ok');
  const current = h('input', { id: 'current-password', type: 'password', autocomplete: 'current-password', required: true });
  const next = h('input', { id: 'new-password', type: 'password', autocomplete: 'new-password', required: true, minlength: MIN_PASSWORD });
  const save = h('button', { class: 'button', type: 'submit' }, 'Change password');
  const form = h('form', { novalidate: true, 'aria-labelledby': 'account-password' },
    h('div', { class: 'field' }, h('label', { for: 'current-password' }, 'Current password'), current),
    h('div', { class: 'field' }, h('label', { for: 'new-password' }, 'New password'), next,
      h('p', { class: 'hint' }, `At least ${MIN_PASSWORD} characters. Every other device will be signed out.`)),
    error, done, save);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    error.hide();
    done.hide();
    if (next.value.length < MIN_PASSWORD) {
      error.show(`The new password must have at least ${MIN_PASSWORD} characters.`);
      next.focus();
      return;
    }
    await busy(save, async () => {
      try {
        await changePassword(current.value, next.value);
        current.value = '';
        next.value = '';
        done.show('Password changed. Other devices are signed out.');
      } catch (err) {
        error.show(err instanceof AuthError ? err.message : describe(err));
      }
    });
  });
  main.append(h('section', { class: 'card' }, h('h2', { id: 'account-password' }, 'Password'), form));

  const out = h('button', { class: 'button secondary', type: 'button' }, 'Sign out everywhere');
  out.addEventListener('click', () => busy(out, async () => {
    await signOutEverywhere();
    navigate('/login', { replace: true });
  }));
  main.append(h('section', { class: 'card', 'aria-labelledby': 'account-sessions' },
    h('h2', { id: 'account-sessions' }, 'Sessions'),
    h('p', {}, 'Ends every session of this account, on every device.'), out));
}
