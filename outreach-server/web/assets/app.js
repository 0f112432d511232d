// The app shell: loads /ui/config.json, routes the page URLs to page modules with the
// History API, keeps signed-out visitors on /login, and tidies up (open event streams)
// when the user leaves a page.

import { setUnauthorizedHandler } from './api.js';
import { currentSession, readSession, signOutEverywhere } from './auth.js';
import { clear, fill, h } from './ui.js';

// The pages come from /ui/config.json (the server's one list, `web/assets.rs` PAGES):
// `{id}` in a path matches one segment and becomes a parameter.
let ROUTES = [];

function routePattern(path) {
  if (path === '/') return /^\/$/;
  const segments = path.split('/').map((s) => (s === '{id}' ? '([^/]+)' : s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
  return new RegExp(`^${segments.join('\\/')}\\/?$`);
}

const main = document.getElementById('main');
let config = null;
let leave = null; // cleanup of the current page
let renderId = 0;

async function loadConfig() {
  const response = await fetch('/api/ui/config.json', { headers: { accept: 'application/json' } });
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  return response.json();
}

export function navigate(path, { replace = false } = {}) {
  if (replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  // A redirect (replace) is part of loading a page; a push is the user moving on.
  render({ moveFocus: !replace });
}

function setNav(session) {
  const nav = document.getElementById('nav');
  nav.hidden = !session;
  document.getElementById('who').textContent = session?.user?.email || '';
  const path = location.pathname;
  for (const a of nav.querySelectorAll('a[data-nav]')) {
    const target = a.dataset.nav;
    const current = target === '/' ? path === '/' : path === target || path.startsWith(`${target}/`);
    if (current) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

async function render({ moveFocus = false } = {}) {
  const id = ++renderId;
  if (leave) {
    try {
      leave();
    } catch {
      // a page's cleanup must not stop the next page
    }
    leave = null;
  }
  const path = location.pathname;
  const route = ROUTES.find((r) => r.pattern.test(path));
  if (!route) {
    fill(main, h('h1', {}, 'Page not found'), h('p', {}, h('a', { href: '/' }, 'Go to the dashboard')));
    return;
  }
  const session = await currentSession(config);
  if (id !== renderId) return;
  if (!route.public && !session) {
    const next = path + location.search;
    navigate(`/login?next=${encodeURIComponent(next)}`, { replace: true });
    return;
  }
  setNav(route.public ? null : session);
  const params = route.pattern.exec(path).slice(1).map(decodeURIComponent);
  document.title = `${route.title} · outreach`;
  const controller = new AbortController();
  const ctx = { config, session, params, signal: controller.signal, navigate, query: new URLSearchParams(location.search) };
  clear(main);
  // A new password account gets its free credits once its email is confirmed.
  if (session?.mode === 'local' && session.user?.email_verified === false && !['verify', 'account'].includes(route.page)) {
    main.append(h('div', { class: 'alert warn', role: 'status', id: 'verify-banner' },
      `Confirm your email: open the link we mailed to ${session.user.email}${config.free_credits > 0 ? ` to receive your ${config.free_credits} free credits` : ''}. `,
      h('a', { href: '/account' }, 'Send it again')));
  }
  try {
    const module = await import(`./pages/${route.page}.js`);
    if (id !== renderId) return;
    const cleanup = await module.render(main, ctx);
    leave = () => {
      controller.abort();
      if (typeof cleanup === 'function') cleanup();
    };
  } catch (e) {
    controller.abort();
    if (e.name === 'AbortError') return;
    console.error(e);
    fill(main, h('div', { class: 'alert error', role: 'alert' }, `This page could not be shown: ${e.message || e}`));
  }
  if (id === renderId) {
    // Move focus to the new page for keyboard and screen-reader users after an in-app
    // navigation (never on first load, where it would steal the user's first Tab).
    if (moveFocus) main.focus({ preventScroll: true });
  }
}

function onClick(event) {
  if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  const a = event.target.closest('a[href]');
  if (!a || a.target || a.hasAttribute('download') || a.origin !== location.origin) return;
  const url = new URL(a.href);
  if (!ROUTES.some((r) => r.pattern.test(url.pathname))) return;
  event.preventDefault();
  if (url.pathname + url.search !== location.pathname + location.search) navigate(url.pathname + url.search);
}

async function start() {
  try {
    config = await loadConfig();
    ROUTES = config.pages.map((p) => ({ pattern: routePattern(p.path), page: p.module, title: p.title, public: p.public }));
  } catch (e) {
    fill(main, h('div', { class: 'alert error', role: 'alert' }, `The app could not load its settings (${e.message}). Reload the page to try again.`));
    return;
  }
  setUnauthorizedHandler(() => {
    if (location.pathname !== '/login') navigate(`/login?next=${encodeURIComponent(location.pathname + location.search)}&expired=1`, { replace: true });
  });
  // Signing out ends the account's sessions on the server too (its tokens are revoked).
  document.getElementById('sign-out').addEventListener('click', async () => {
    try {
      await signOutEverywhere();
    } catch {
      // signed out here anyway
    }
    navigate('/login', { replace: true });
  });
  document.addEventListener('click', onClick);
  window.addEventListener('popstate', () => render({ moveFocus: true }));
  // Another tab signed in or out.
  window.addEventListener('storage', (e) => {
    if (e.key === 'outreach.session' && !readSession()) render();
  });
  render();
}

start();
