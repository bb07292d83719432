// Tiny DOM helpers. Text is always set with text nodes (never innerHTML), and no `style`
// attribute is ever written (the Content-Security-Policy forbids inline styles).

const SVG_NS = 'http://www.w3.org/2000/svg';

const PROPS = new Set(['value', 'checked', 'disabled', 'selected', 'readOnly', 'required', 'hidden', 'multiple']);

function apply(el, attrs) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'style') throw new Error('inline styles are not allowed');
    if (k === 'on') {
      for (const [ev, fn] of Object.entries(v)) el.addEventListener(ev, fn);
    } else if (k === 'class') {
      el.setAttribute('class', Array.isArray(v) ? v.filter(Boolean).join(' ') : v);
    } else if (k === 'testid') {
      el.setAttribute('data-testid', v);
    } else if (k === 'for') {
      el.setAttribute('for', v);
    } else if (k === 'data') {
      for (const [dk, dv] of Object.entries(v)) if (dv !== undefined && dv !== null) el.dataset[dk] = String(dv);
    } else if (PROPS.has(k)) {
      el[k] = v;
    } else {
      el.setAttribute(k, v === true ? '' : String(v));
    }
  }
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false || c === true) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

/** h('div', {class: 'x', testid: 'y', on: {click}}, ...children) */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  apply(el, attrs);
  append(el, children);
  return el;
}

/** The same for SVG elements (createElementNS). */
export function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'style') throw new Error('inline styles are not allowed');
    if (k === 'testid') el.setAttribute('data-testid', v);
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

/** Replaces all children of `el`. */
export function replace(el, ...children) {
  while (el.firstChild) el.removeChild(el.firstChild);
  append(el, children);
  return el;
}

let uid = 0;
/** A fresh element id for label/input pairs. */
export function nextId(prefix = 'f') {
  uid += 1;
  return `${prefix}-${uid}`;
}

/** A labelled form field: returns [wrapper, control]. */
export function field(label, control, hint, extraClass) {
  if (!control.id) control.id = nextId('fld');
  const wrap = h('div', { class: ['field', extraClass] }, h('label', { for: control.id }, label), control, hint ? h('small', { class: 'hint' }, hint) : null);
  return [wrap, control];
}

export function select(attrs, options, current) {
  return h(
    'select',
    attrs,
    options.map((o) => {
      const [value, label] = Array.isArray(o) ? o : [o, o];
      return h('option', { value, selected: value === current }, label);
    }),
  );
}
