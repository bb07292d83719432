// Shared pieces: error banners, notices, pager, tables, empty states, page context.

import { h, replace, select, nextId } from './dom.js';

export const STALE = Symbol('stale');

/** True for failures that must not be shown: a page left behind or an aborted request. */
export function ignorable(e) {
  return e === STALE || (e && e.name === 'AbortError');
}

/** The error block: code, message and request id visibly. */
export function errorBox(e, { dismissable = false, onDismiss } = {}) {
  const err = e || {};
  const code = err.code || err.name || 'Error';
  const box = h(
    'div',
    { class: ['banner', 'banner-error', dismissable ? null : 'inline'], role: 'alert', testid: 'error-banner', data: { code } },
    h(
      'div',
      { class: 'banner-body' },
      h('strong', { class: 'err-code', testid: 'error-code' }, code),
      ' ',
      h('span', { class: 'err-message', testid: 'error-message' }, err.message || String(e)),
      h(
        'div',
        { class: 'err-meta' },
        err.requestId ? ['RequestId: ', h('code', { testid: 'error-request-id' }, err.requestId)] : null,
        err.action ? h('span', { class: 'err-action' }, ` · ${err.action}`) : null,
        err.status ? h('span', { class: 'err-status' }, ` · HTTP ${err.status}`) : null,
      ),
    ),
  );
  if (dismissable) {
    box.appendChild(
      h(
        'button',
        {
          type: 'button',
          class: 'dismiss',
          testid: 'error-dismiss',
          'aria-label': 'Dismiss error',
          on: {
            click: () => {
              box.remove();
              if (onDismiss) onDismiss();
            },
          },
        },
        '×',
      ),
    );
  }
  return box;
}

let generation = 0;
/** The router's navigation counter: errors are cleared on the next navigation, notices one later. */
export function setGeneration(n) {
  generation = n;
}

function bannerRegion() {
  return document.getElementById('banners');
}

/** Shows an error in the dismissable banner area at the top. */
export function showError(e) {
  if (ignorable(e)) return;
  const region = bannerRegion();
  if (!region) return;
  const errors = region.querySelectorAll('.banner-error');
  if (errors.length >= 5) errors[0].remove();
  const box = errorBox(e, { dismissable: true });
  box.dataset.gen = String(generation);
  region.appendChild(box);
  if (typeof console !== 'undefined' && e && !e.code) console.error(e);
}

/** A success notice (role=status), dismissable. */
export function notice(text) {
  const region = bannerRegion();
  if (!region) return;
  const old = region.querySelectorAll('.banner-notice');
  if (old.length >= 3) old[0].remove();
  const box = h(
    'div',
    { class: 'banner banner-notice', role: 'status', testid: 'notice' },
    h('div', { class: 'banner-body' }, text),
    h('button', { type: 'button', class: 'dismiss', testid: 'notice-dismiss', 'aria-label': 'Dismiss', on: { click: () => box.remove() } }, '×'),
  );
  box.dataset.gen = String(generation);
  region.appendChild(box);
}

/** On navigation `gen`: drops errors from earlier pages and notices older than the last one. */
export function clearBanners(gen) {
  const region = bannerRegion();
  if (!region) return;
  for (const b of Array.from(region.children)) {
    const g = Number(b.dataset.gen || 0);
    const keep = b.classList.contains('banner-notice') ? g >= gen - 1 : g >= gen;
    if (!keep) b.remove();
  }
}

/** Runs an async UI action: disables `button` meanwhile, shows any error in the banner. */
export async function act(ctx, button, fn) {
  if (button) button.disabled = true;
  try {
    return await fn();
  } catch (e) {
    if (!ignorable(e) && (!ctx || ctx.alive())) showError(e);
    return undefined;
  } finally {
    if (button) button.disabled = false;
  }
}

export function loadingRow(cols, text = 'Loading…') {
  return h('tr', { class: 'loading-row' }, h('td', { colspan: cols }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), ' ', text));
}

export function emptyState(testid, title, ...rest) {
  return h('div', { class: 'empty', testid }, h('p', { class: 'empty-title' }, title), ...rest);
}

/** A table in a horizontally scrolling wrapper. */
export function table(testid, headers, body) {
  return h(
    'div',
    { class: 'table-wrap' },
    h('table', { testid }, h('thead', null, h('tr', null, headers.map((x) => h('th', { scope: 'col' }, x)))), body),
  );
}

/** A description list of [label, value] pairs; values may be nodes. */
export function meta(pairs, testid) {
  return h(
    'dl',
    { class: 'meta', testid },
    pairs.map(([k, v, field]) => [h('dt', null, k), h('dd', { data: { field: field || k } }, v === undefined || v === null || v === '' ? '—' : v)]),
  );
}

export function stateBadge(state, testid = 'key-state') {
  return h('span', { class: ['badge', `state-${String(state || 'unknown').toLowerCase()}`], testid }, state || '—');
}

/**
 * Paging controls. opts: {page, size, total, noun, sizes, onPage(n), onSize(n), prefix}.
 * testids: <prefix>page-first/-prev/-next/-last, page-info, page-input, page-size.
 */
export function pager({ page, size, total, noun = 'items', sizes = [10, 20, 50, 100], onPage, onSize, prefix = '' }) {
  const pages = Math.max(1, Math.ceil((total || 0) / size));
  const btn = (label, testid, target, disabled, aria) =>
    h('button', { type: 'button', class: 'btn small', testid: prefix + testid, disabled, 'aria-label': aria, on: { click: () => onPage(target) } }, label);
  const jumpId = nextId('jump');
  const jump = h('input', { id: jumpId, type: 'number', min: 1, max: pages, value: String(page), class: 'page-input', testid: prefix + 'page-input', inputmode: 'numeric' });
  const form = h(
    'form',
    {
      class: 'page-jump',
      novalidate: true,
      on: {
        submit: (ev) => {
          ev.preventDefault();
          const n = Math.min(pages, Math.max(1, parseInt(jump.value, 10) || 1));
          if (n !== page) onPage(n);
        },
      },
    },
    h('label', { for: jumpId }, 'Page'),
    jump,
    h('span', null, `of ${pages}`),
    h('button', { type: 'submit', class: 'btn small' }, 'Go'),
  );
  const sizeId = nextId('size');
  const from = total ? (page - 1) * size + 1 : 0;
  const to = Math.min(total || 0, page * size);
  return h(
    'nav',
    { class: 'pager', 'aria-label': `${noun} pages` },
    btn('«', 'page-first', 1, page <= 1, 'First page'),
    btn('‹ Prev', 'page-prev', page - 1, page <= 1, 'Previous page'),
    h('span', { class: 'page-info', testid: prefix + 'page-info', 'aria-live': 'polite' }, `${from}–${to} of ${total || 0} ${noun}`),
    btn('Next ›', 'page-next', page + 1, page >= pages, 'Next page'),
    btn('»', 'page-last', pages, page >= pages, 'Last page'),
    form,
    onSize
      ? h(
          'span',
          { class: 'page-size' },
          h('label', { for: sizeId }, 'Per page'),
          select(
            { id: sizeId, testid: prefix + 'page-size', on: { change: (ev) => onSize(parseInt(ev.target.value, 10)) } },
            sizes.map((n) => [String(n), String(n)]),
            String(size),
          ),
        )
      : null,
  );
}

/** Runs `fn(item)` over items with at most `limit` in flight. */
export async function mapLimit(items, limit, fn) {
  const out = new Array(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next;
      next += 1;
      out[i] = await fn(items[i], i);
    }
  });
  await Promise.all(workers);
  return out;
}

/** Unwraps Alibaba's list shapes: {Keys:{Key:[...]}} → [...]. */
export function list(obj, outer, inner) {
  const o = obj && obj[outer];
  if (Array.isArray(o)) return o;
  const i = o && o[inner];
  return Array.isArray(i) ? i : [];
}

/** "8640000s" → "100 days"; passes other text through. */
export function humanInterval(v) {
  const m = /^(\d+)s$/.exec(String(v || ''));
  if (!m) return v || '';
  const secs = Number(m[1]);
  if (secs % 86400 === 0) return `${secs / 86400} days (${v})`;
  return `${v}`;
}

/** Accepts "8640000s", "100d" or "100" (days); returns the API form "<seconds>s" or null. */
export function parseInterval(text) {
  const t = String(text || '').trim();
  let m = /^(\d+)s$/i.exec(t);
  if (m) return `${Number(m[1])}s`;
  m = /^(\d+)\s*d?$/i.exec(t);
  if (m) return `${Number(m[1]) * 86400}s`;
  return null;
}

/** Parses "#/a/b?x=1" into {parts:['a','b'], query:URLSearchParams}. */
export function parseHash(hash) {
  const raw = String(hash || '').replace(/^#/, '');
  const [path, qs = ''] = raw.split('?');
  const parts = path
    .split('/')
    .filter(Boolean)
    .map((p) => {
      try {
        return decodeURIComponent(p);
      } catch {
        return p;
      }
    });
  return { parts, query: new URLSearchParams(qs) };
}

/** Builds "#/a/b?x=1" (parts encoded; empty query values dropped). */
export function makeHash(parts, query) {
  const path = '#/' + parts.map((p) => encodeURIComponent(p)).join('/');
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query || {})) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const qs = q.toString();
  return qs ? `${path}?${qs}` : path;
}

// A "+ Create …" button that opens and closes the form `makeForm(close)` in `slot`; the form
// gets focus when it opens. Returns { button, toggle }.
export function formToggle(slot, testid, label, makeForm) {
  const button = h('button', { type: 'button', class: 'btn primary', testid, 'aria-expanded': 'false' }, label);
  const toggle = (open) => {
    const show = open ?? !slot.firstChild;
    replace(slot, show ? makeForm(() => toggle(false)) : null);
    button.setAttribute('aria-expanded', String(show));
    if (show) slot.querySelector('input,select').focus();
  };
  button.addEventListener('click', () => toggle());
  return { button, toggle };
}
