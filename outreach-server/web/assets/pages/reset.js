// /reset: "forgot your password". Without a token, asks for the email and mails a link
// (the same answer whether or not the email has an account); with ?token=… from that
// link, sets a new password and signs in. The link works once, for an hour.

import { AuthError, confirmReset, requestReset } from '../auth.js';
import { alertBox, busy, h } from '../ui.js';

const MIN_PASSWORD = 10;

export async function render(main, ctx) {
  const token = ctx.query.get('token');
  if (token) {
    // Keep the token out of the address bar, history and screenshots.
    history.replaceState(null, '', '/reset');
    return choosePassword(main, ctx, token);
  }
  return askForLink(main);
}

function askForLink(main) {
  const error = alertBox('error');
  const info = alertBox('info');
  const email = h('input', { id: 'email', name: 'email', type: 'email', autocomplete: 'email', required: true });
  const submit = h('button', { class: 'button', type: 'submit' }, 'Send the link');
  const form = h('form', { novalidate: true, 'aria-labelledby': 'reset-title' },
    h('div', { class: 'field' }, h('label', { for: 'email' }, 'Email'), email), error, submit);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    error.hide();
    const address = email.value.trim();
    if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(address)) {
      error.show('Enter a valid email address, like name@company.com.');
      email.focus();
      return;
    }
    await busy(submit, async () => {
      try {
        await requestReset(address);
        info.show(`If an account uses ${address}, a link to choose a new password is on its way. It works once, for an hour.`);
      } catch (err) {
        error.show(err instanceof AuthError ? err.message : `That did not work: ${err.message || err}`);
      }
    });
  });
  main.append(h('div', { class: 'auth-box' }, h('div', { class: 'card' },
    h('h1', { id: 'reset-title' }, 'Reset your password'),
    h('p', { class: 'muted' }, 'We will mail you a link to choose a new one.'),
    info, form,
    h('p', {}, h('a', { href: '/login' }, 'Back to sign in')))));
  email.focus();
}

function choosePassword(main, ctx, token) {
  const error = alertBox('error');
  const password = h('input', { id: 'new-password', name: 'new-password', type: 'password', autocomplete: 'new-password', required: true, minlength: MIN_PASSWORD });
  const submit = h('button', { class: 'button', type: 'submit' }, 'Set the new password');
  const form = h('form', { novalidate: true, 'aria-labelledby': 'reset-title' },
    h('div', { class: 'field' }, h('label', { for: 'new-password' }, 'New password'), password,
      h('p', { class: 'hint', id: 'new-password-hint' }, `At least ${MIN_PASSWORD} characters.`)),
    error, submit);
  password.setAttribute('aria-describedby', 'new-password-hint');
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    error.hide();
    if (password.value.length < MIN_PASSWORD) {
      error.show(`The password must have at least ${MIN_PASSWORD} characters.`);
      password.focus();
      return;
    }
    await busy(submit, async () => {
      try {
        await confirmReset(token, password.value);
        ctx.navigate('/', { replace: true });
      } catch (err) {
        error.show(err instanceof AuthError ? err.message : `That did not work: ${err.message || err}`);
      }
    });
  });
  main.append(h('div', { class: 'auth-box' }, h('div', { class: 'card' },
    h('h1', { id: 'reset-title' }, 'Choose a new password'), form,
    h('p', {}, h('a', { href: '/reset' }, 'Ask for a new link')))));
  password.focus();
}
