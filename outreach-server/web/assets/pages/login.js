// /login: sign in or create an account (this server's accounts, or Supabase Auth).

import { api, describe } from '../api.js';
import { AuthError, readSession, signIn, signOut, signUp, useToken } from '../auth.js';
import { safeNext } from '../next.js';
import { alertBox, busy, h } from '../ui.js';

export async function render(main, ctx) {
  const { config, query, navigate } = ctx;
  const next = safeNext(query.get('next'), window.location.origin);
  const supabase = config.auth.mode === 'supabase';
  const canSignUp = supabase || config.auth.signup;
  let mode = query.get('mode') === 'signup' && canSignUp ? 'signup' : 'signin';

  const error = alertBox('error');
  const info = alertBox('info');
  if (query.get('expired')) info.show('Your session has ended. Sign in again.');
  const existing = readSession();

  const email = h('input', { id: 'email', name: 'email', type: 'email', autocomplete: 'email', required: true });
  const password = h('input', { id: 'password', name: 'password', type: 'password', required: true, minlength: 8 });
  const passwordHint = h('p', { class: 'hint', id: 'password-hint' }, 'At least 10 characters.');
  const submit = h('button', { class: 'button', type: 'submit' });
  const title = h('h1', { id: 'auth-title' });

  const tabSignIn = h('button', { type: 'button', role: 'tab', id: 'tab-signin' }, 'Sign in');
  const tabSignUp = h('button', { type: 'button', role: 'tab', id: 'tab-signup' }, 'Create account');
  const tabs = h('div', { class: 'tabs', role: 'tablist', 'aria-label': 'Sign in or create an account' }, tabSignIn, canSignUp ? tabSignUp : null);

  function setMode(m) {
    mode = m;
    const signup = m === 'signup';
    title.textContent = signup ? 'Create your account' : 'Sign in';
    submit.textContent = signup ? 'Create account' : 'Sign in';
    password.autocomplete = signup ? 'new-password' : 'current-password';
    passwordHint.hidden = !signup;
    tabSignIn.setAttribute('aria-selected', String(!signup));
    tabSignUp.setAttribute('aria-selected', String(signup));
    tabSignIn.tabIndex = signup ? -1 : 0;
    tabSignUp.tabIndex = signup ? 0 : -1;
    error.hide();
  }
  tabSignIn.addEventListener('click', () => setMode('signin'));
  tabSignUp.addEventListener('click', () => setMode('signup'));
  tabs.addEventListener('keydown', (e) => {
    if (e.key === 'ArrowRight' || e.key === 'ArrowLeft') {
      setMode(mode === 'signin' && canSignUp ? 'signup' : 'signin');
      (mode === 'signin' ? tabSignIn : tabSignUp).focus();
    }
  });

  const form = h('form', { novalidate: true, 'aria-labelledby': 'auth-title' },
    h('div', { class: 'field' }, h('label', { for: 'email' }, 'Email'), email),
    h('div', { class: 'field' }, h('label', { for: 'password' }, 'Password'), password, passwordHint),
    error,
    submit,
    supabase ? null : h('p', { class: 'hint', id: 'forgot' }, h('a', { href: '/reset' }, 'Forgot your password?')));
  password.setAttribute('aria-describedby', 'password-hint');

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    error.hide();
    const address = email.value.trim();
    if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(address)) {
      error.show('Enter a valid email address, like name@company.com.');
      email.focus();
      return;
    }
    if (mode === 'signup' && password.value.length < 10) {
      error.show('The password must have at least 10 characters.');
      password.focus();
      return;
    }
    if (!password.value) {
      error.show('Enter your password.');
      password.focus();
      return;
    }
    await busy(submit, async () => {
      try {
        if (mode === 'signup') {
          const session = await signUp(config, address, password.value);
          if (!session) {
            info.show('Check your inbox: confirm your email address, then sign in.');
            setMode('signin');
            return;
          }
        } else {
          await signIn(config, address, password.value);
        }
        navigate(next, { replace: true });
      } catch (err) {
        error.show(err instanceof AuthError ? err.message : `Sign-in failed: ${err.message || err}`);
      }
    });
  });

  let tokenBox = null;
  if (!supabase) {
    const token = h('textarea', { id: 'token', rows: 3, spellcheck: 'false', autocomplete: 'off' });
    const tokenError = alertBox('error');
    const useButton = h('button', { class: 'button secondary', type: 'button' }, 'Use this token');
    useButton.addEventListener('click', () =>
      busy(useButton, async () => {
        tokenError.hide();
        try {
          useToken(token.value);
          await api('/me');
          navigate(next, { replace: true });
        } catch (err) {
          signOut();
          tokenError.show(err instanceof AuthError ? err.message : describe(err));
        }
      }));
    tokenBox = h('details', { class: 'card' },
      h('summary', {}, 'Have a token from ', h('code', {}, 'outreach token'), '?'),
      h('div', { class: 'field' }, h('label', { for: 'token' }, 'Access token'), token,
        h('p', { class: 'hint' }, 'Administrators can mint one with ', h('code', {}, 'outreach token --email you@example.com'), '.')),
      tokenError, useButton);
  }

  main.append(h('div', { class: 'auth-box' },
    existing ? h('div', { class: 'alert info' }, `You are signed in as ${existing.user?.email || 'a user'}. `, h('a', { href: next }, 'Continue')) : null,
    h('div', { class: 'card' },
      tabs, title,
      h('p', { class: 'muted' }, supabase ? 'Use your account.' : 'Turn prospect lists into researched, personal openers.'),
      info, form),
    tokenBox));
  setMode(mode);
  email.focus();
}
