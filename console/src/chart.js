// A small grouped bar chart (EncryptCount / DecryptCount per key version) in inline SVG,
// built with createElementNS; colours come from CSS classes, never style attributes.

import { h, s } from './dom.js';

/** An axis maximum that is four whole-number steps (1, 2, 2.5 or 5 × 10^k each). */
function niceMax(n) {
  const raw = Math.max(1, n / 4);
  const p = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * p).find((x) => x >= raw && Number.isInteger(x));
  return Math.max(1, Math.ceil(step)) * 4;
}

/**
 * versions: [{KeyVersionId, EncryptCount, DecryptCount}], in the order of the table beside it;
 * primary: the key's primary version id (labelled). Returns a <figure> with the SVG and a legend.
 */
export function usageChart(versions, primary) {
  const W = 640;
  const H = 220;
  const left = 44;
  const right = 12;
  const top = 12;
  const bottom = 40;
  const plotW = W - left - right;
  const plotH = H - top - bottom;
  const max = niceMax(Math.max(0, ...versions.map((v) => Math.max(Number(v.EncryptCount) || 0, Number(v.DecryptCount) || 0))));
  const n = Math.max(1, versions.length);
  const group = plotW / n;
  const barW = Math.max(2, Math.min(28, (group - 8) / 2));
  const y = (val) => top + plotH - (val / max) * plotH;

  const svg = s('svg', {
    viewBox: `0 0 ${W} ${H}`,
    width: W,
    height: H,
    class: 'chart',
    role: 'img',
    'aria-labelledby': 'chart-title',
    testid: 'version-chart',
    preserveAspectRatio: 'xMinYMin meet',
  });
  svg.appendChild(s('title', { id: 'chart-title' }, 'Encrypt and decrypt calls per key version'));

  for (let i = 0; i <= 4; i += 1) {
    const val = (max / 4) * i;
    const yy = y(val);
    svg.appendChild(s('line', { x1: left, x2: W - right, y1: yy, y2: yy, class: 'grid' }));
    svg.appendChild(s('text', { x: left - 6, y: yy + 4, 'text-anchor': 'end', class: 'axis' }, String(val)));
  }

  versions.forEach((v, i) => {
    const enc = Number(v.EncryptCount) || 0;
    const dec = Number(v.DecryptCount) || 0;
    const x0 = left + group * i + (group - 2 * barW) / 2;
    const g = s('g', { class: 'bar-group', 'data-version': v.KeyVersionId });
    const bar = (x, val, cls, label) =>
      s('rect', { x, y: y(val), width: barW, height: Math.max(0, top + plotH - y(val)), class: cls }, s('title', null, `${label}: ${val} (last used ${v.LastUsedDate || 'never'})`));
    g.appendChild(bar(x0, enc, 'bar-encrypt', `${v.KeyVersionId} EncryptCount`));
    g.appendChild(bar(x0 + barW, dec, 'bar-decrypt', `${v.KeyVersionId} DecryptCount`));
    const every = Math.ceil(n / 12);
    if (i % every === 0) {
      const cx = left + group * i + group / 2;
      g.appendChild(s('text', { x: cx, y: H - bottom + 16, 'text-anchor': 'middle', class: 'axis' }, `…${String(v.KeyVersionId || '').slice(-6)}`));
      if (v.KeyVersionId === primary) g.appendChild(s('text', { x: cx, y: H - bottom + 30, 'text-anchor': 'middle', class: 'axis faint' }, 'primary'));
    }
    svg.appendChild(g);
  });
  svg.appendChild(s('line', { x1: left, x2: W - right, y1: top + plotH, y2: top + plotH, class: 'baseline' }));

  return h(
    'figure',
    { class: 'chart-figure' },
    h('div', { class: 'chart-scroll' }, svg),
    h(
      'figcaption',
      { class: 'legend' },
      h('span', { class: 'swatch swatch-encrypt', 'aria-hidden': 'true' }),
      ' EncryptCount ',
      h('span', { class: 'swatch swatch-decrypt', 'aria-hidden': 'true' }),
      ' DecryptCount',
    ),
  );
}
