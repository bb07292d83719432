// kmsd console: app shell, sign-in, hash router.

import { h, replace } from './dom.js';
import * as api from './api.js';
import { STALE, clearBanners, errorBox, parseHash, setGeneration } from './ui.js';
import { keysPage } from './pages/keys.js';
import { keyDetailPage } from './pages/keyDetail.js';
import { secretsPage } from './pages/secrets.js';
import { secretDetailPage } from './pages/secretDetail.js';
import { instancesPage, instanceDetailPage } from './pages/instances.js';

const app = document.getElementById('app');
const loading = document.getElementById('loading');

let generation = 0;
let controller = null;
let shell = null;

api.onPending((n) => {
  if (loading) loading.hidden = n === 0;
  document.body.setAttribute('aria-busy', n > 0 ? 'true' : 'false');
});

function signInView() {
  const id = h('input', { id: 'signin-id', name: 'kmsd-access-key-id', type: 'text', testid: 'signin-id', required: true, autocomplete: 'off', autocapitalize: 'off', spellcheck: 'false' });
  const secret = h('input', { id: 'signin-secret', name: 'kmsd-access-key-secret', type: 'password', testid: 'signin-secret', required: true, autocomplete: 'new-password' });
  const submit = h('button', { id: 'signin-submit', type: 'submit', class: 'btn primary', testid: 'signin-submit' }, 'Sign in');
  const errSlot = h('div', { id: 'signin-error' });
  const form = h(
    'form',
    { id: 'signin-form', class: 'signin-card', testid: 'signin-form', method: 'post', autocomplete: 'off', 'aria-labelledby': 'signin-h' },
    h('h1', { id: 'signin-h' }, 'kmsd console'),
    h('p', { class: 'muted' }, 'Sign in with an AccessKey. It is kept in this tab’s memory only: reloading the page or signing out forgets it.'),
    h('div', { class: 'field' }, h('label', { for: 'signin-id' }, 'AccessKeyId'), id),
    h('div', { class: 'field' }, h('label', { for: 'signin-secret' }, 'AccessKeySecret'), secret),
    errSlot,
    submit,
  );
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (!form.reportValidity()) return;
    replace(errSlot);
    submit.disabled = true;
    const keyId = id.value.trim();
    const keySecret = secret.value;
    try {
      await api.verify(keyId, keySecret);
    } catch (e) {
      replace(errSlot, errorBox(e));
      submit.disabled = false;
      return;
    }
    api.signIn(keyId, keySecret);
    secret.value = '';
    shell = null;
    const { parts } = parseHash(location.hash);
    if (!parts.length) history.replaceState(null, '', '#/keys');
    render();
  });
  return h('main', { class: 'signin', id: 'main' }, form);
}

function buildShell() {
  const nav = h(
    'nav',
    { class: 'nav', 'aria-label': 'Main' },
    h('a', { href: '#/keys', testid: 'nav-keys', data: { section: 'keys' } }, 'Keys'),
    h('a', { href: '#/secrets', testid: 'nav-secrets', data: { section: 'secrets' } }, 'Secrets'),
    h('a', { href: '#/instances', testid: 'nav-instances', data: { section: 'instances' } }, 'Instances'),
  );
  const signout = h('button', { type: 'button', class: 'btn small', testid: 'signout', id: 'signout' }, 'Sign out');
  signout.addEventListener('click', () => {
    api.signOut();
    if (controller) controller.abort();
    generation += 1;
    shell = null;
    render();
  });
  const main = h('main', { id: 'main', class: 'content', tabindex: '-1' });
  const banners = h('div', { id: 'banners', class: 'banners', 'aria-live': 'polite' });
  const header = h(
    'header',
    { class: 'topbar' },
    h('a', { href: '#/keys', class: 'brand' }, 'kmsd console'),
    nav,
    h('div', { class: 'who' }, h('span', { class: 'muted' }, 'Signed in as '), h('code', { testid: 'whoami' }, api.accessKeyId()), signout),
  );
  replace(app, header, banners, main);
  return { nav, main };
}

function route(ctx, parts) {
  const [section, id] = parts;
  if (section === 'keys' && parts.length === 1) return ['keys', 'Keys', keysPage(ctx)];
  if (section === 'keys' && parts.length === 2) return ['keys', `Key ${id}`, keyDetailPage(ctx, id)];
  if (section === 'secrets' && parts.length === 1) return ['secrets', 'Secrets', secretsPage(ctx)];
  if (section === 'secrets' && parts.length >= 2) {
    const name = parts.slice(1).join('/');
    return ['secrets', `Secret ${name}`, secretDetailPage(ctx, name)];
  }
  if (section === 'instances' && parts.length === 1) return ['instances', 'Instances', instancesPage(ctx)];
  if (section === 'instances' && parts.length === 2) return ['instances', `Instance ${id}`, instanceDetailPage(ctx, id)];
  return ['', 'Not found', h('section', { class: 'page', testid: 'not-found' }, h('h1', null, 'Not found'), h('p', null, h('a', { href: '#/keys' }, 'Go to keys')))];
}

function render() {
  if (controller) controller.abort();
  controller = new AbortController();
  generation += 1;
  const mine = generation;
  const { signal } = controller;

  if (!api.signedIn()) {
    shell = null;
    replace(app, signInView());
    document.title = 'Sign in · kmsd console';
    const first = document.getElementById('signin-id');
    if (first) first.focus();
    return;
  }
  if (!shell) shell = buildShell();
  setGeneration(mine);
  clearBanners(mine);

  const { parts, query } = parseHash(location.hash);
  if (!parts.length) {
    history.replaceState(null, '', '#/keys');
    render();
    return;
  }
  const ctx = {
    query,
    parts,
    signal,
    alive: () => mine === generation && api.signedIn(),
    async call(action, params) {
      if (!ctx.alive()) throw STALE;
      const res = await api.call(action, params, { signal });
      if (!ctx.alive()) throw STALE;
      return res;
    },
    go(hash, replaceEntry = false) {
      if (!ctx.alive()) return;
      if (replaceEntry) {
        history.replaceState(null, '', hash);
        render();
      } else if (location.hash === hash) {
        render();
      } else {
        location.hash = hash;
      }
    },
  };
  const [section, title, page] = route(ctx, parts);
  for (const a of shell.nav.querySelectorAll('a')) {
    if (a.dataset.section === section) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  document.title = `${title} · kmsd console`;
  replace(shell.main, page);
}

window.addEventListener('hashchange', render);
window.addEventListener('unhandledrejection', (ev) => {
  if (ev.reason === STALE || (ev.reason && ev.reason.name === 'AbortError')) ev.preventDefault();
});
render();
