// Keys list: ListKeys (paged, filtered) + DescribeKey per row; the Create key form.

import { h, replace, field, select } from '../dom.js';
import { act, emptyState, formToggle, errorBox, ignorable, list, loadingRow, makeHash, mapLimit, notice, pager, parseInterval, stateBadge, table, humanInterval } from '../ui.js';

export const KEY_SPECS = ['Aliyun_AES_256', 'Aliyun_AES_128', 'Aliyun_AES_192', 'Aliyun_SM4', 'RSA_2048', 'RSA_3072', 'EC_P256', 'EC_P256K', 'EC_SM2'];
const STATES = ['Enabled', 'Disabled', 'PendingDeletion', 'PendingImport'];
const USAGES = ['ENCRYPT/DECRYPT', 'SIGN/VERIFY'];
const LEVELS = ['SOFTWARE', 'HSM'];
const CREATORS = ['User', 'Service'];
const FILTERS = [
  ['KeyState', 'State', STATES],
  ['KeySpec', 'Spec', KEY_SPECS],
  ['KeyUsage', 'Usage', USAGES],
  ['ProtectionLevel', 'Protection', LEVELS],
  ['CreatorType', 'Creator', CREATORS],
];
const SIZES = [10, 20, 50, 100];

function readState(query) {
  const page = Math.max(1, parseInt(query.get('page'), 10) || 1);
  let size = parseInt(query.get('size'), 10) || 20;
  if (!SIZES.includes(size)) size = 20;
  const filters = {};
  for (const [k] of FILTERS) if (query.get(k)) filters[k] = query.get(k);
  return { page, size, filters };
}

function hashFor(st) {
  return makeHash(['keys'], { page: st.page > 1 ? st.page : '', size: st.size !== 20 ? st.size : '', ...st.filters });
}

function createKeyForm(ctx, onCancel) {
  const desc = h('input', { type: 'text', testid: 'create-key-description', maxlength: 8192, autocomplete: 'off' });
  const spec = select({ testid: 'create-key-spec' }, KEY_SPECS, 'Aliyun_AES_256');
  const usage = select({ testid: 'create-key-usage' }, USAGES, 'ENCRYPT/DECRYPT');
  const level = select({ testid: 'create-key-protection' }, LEVELS, 'SOFTWARE');
  const rotate = h('input', { type: 'checkbox', id: 'create-key-rotation', testid: 'create-key-rotation' });
  const interval = h('input', { type: 'text', testid: 'create-key-interval', value: '8640000s', placeholder: '8640000s or 100d', autocomplete: 'off', disabled: true });
  rotate.addEventListener('change', () => {
    interval.disabled = !rotate.checked;
  });
  spec.addEventListener('change', () => {
    // Asymmetric specs cannot rotate automatically; symmetric ones only encrypt.
    const symmetric = spec.value.startsWith('Aliyun_');
    if (symmetric) usage.value = 'ENCRYPT/DECRYPT';
    rotate.disabled = !symmetric;
    if (!symmetric) {
      rotate.checked = false;
      interval.disabled = true;
    }
  });
  const submit = h('button', { type: 'submit', class: 'btn primary', testid: 'create-key-submit' }, 'Create key');
  const form = h(
    'form',
    {
      class: 'panel form-grid',
      testid: 'create-key-form',
      autocomplete: 'off',
      method: 'post',
      'aria-label': 'Create key',
      on: {
        submit: (ev) => {
          ev.preventDefault();
          const params = { KeySpec: spec.value, KeyUsage: usage.value, ProtectionLevel: level.value };
          if (desc.value) params.Description = desc.value;
          if (rotate.checked) {
            const iv = parseInterval(interval.value);
            if (!iv) {
              interval.setCustomValidity('Use seconds like 8640000s, or days like 100d.');
              interval.reportValidity();
              return;
            }
            params.EnableAutomaticRotation = 'true';
            params.RotationInterval = iv;
          } else {
            params.EnableAutomaticRotation = 'false';
          }
          act(ctx, submit, async () => {
            const res = await ctx.call('CreateKey', params);
            const id = res.KeyMetadata && res.KeyMetadata.KeyId;
            notice(`Key ${id} created.`);
            ctx.go(makeHash(['keys', id]));
          });
        },
      },
    },
    h('h2', null, 'Create key'),
    field('Description', desc)[0],
    field('Key spec', spec)[0],
    field('Key usage', usage)[0],
    field('Protection level', level)[0],
    h('div', { class: 'field check' }, rotate, h('label', { for: 'create-key-rotation' }, 'Automatic rotation')),
    field('Rotation interval', interval, 'Seconds (8640000s) or days (100d); 7–365 days.')[0],
    h('div', { class: 'actions' }, submit, h('button', { type: 'button', class: 'btn', testid: 'create-key-cancel', on: { click: onCancel } }, 'Cancel')),
  );
  interval.addEventListener('input', () => interval.setCustomValidity(''));
  return form;
}

export function keysPage(ctx) {
  const st = readState(ctx.query);
  const root = h('section', { class: 'page', testid: 'keys-page', 'aria-labelledby': 'keys-h' });
  const formSlot = h('div');
  const { button: createBtn, toggle: toggleCreate } = formToggle(formSlot, 'create-key', '+ Create key', (close) => createKeyForm(ctx, close));

  const filterBar = h(
    'form',
    { class: 'filters', testid: 'key-filters', 'aria-label': 'Filter keys', on: { submit: (ev) => ev.preventDefault() } },
    FILTERS.map(([k, label, opts]) => {
      const sel = select(
        {
          testid: `filter-${k}`,
          on: {
            change: (ev) => {
              const filters = { ...st.filters };
              if (ev.target.value) filters[k] = ev.target.value;
              else delete filters[k];
              ctx.go(hashFor({ ...st, page: 1, filters }));
            },
          },
        },
        [['', 'Any'], ...opts],
        st.filters[k] || '',
      );
      return field(label, sel)[0];
    }),
    Object.keys(st.filters).length
      ? h('button', { type: 'button', class: 'btn small', testid: 'filter-clear', on: { click: () => ctx.go(hashFor({ ...st, page: 1, filters: {} })) } }, 'Clear filters')
      : null,
  );

  const body = h('tbody', null, loadingRow(9));
  const results = h('div', { class: 'results' });
  const pagerTop = h('div');
  const pagerBottom = h('div');
  root.append(
    h('div', { class: 'page-head' }, h('h1', { id: 'keys-h' }, 'Keys'), createBtn),
    formSlot,
    filterBar,
    pagerTop,
    results,
    pagerBottom,
  );
  replace(results, table('key-table', ['Key ID', 'State', 'Spec', 'Usage', 'Protection', 'Rotation', 'Description', 'Created', 'Deletion date'], body));

  (async () => {
    const params = { PageNumber: st.page, PageSize: st.size };
    const filterList = Object.entries(st.filters).map(([Key, v]) => ({ Key, Values: [v] }));
    if (filterList.length) params.Filters = JSON.stringify(filterList);
    let res;
    try {
      res = await ctx.call('ListKeys', params);
    } catch (e) {
      if (ignorable(e)) return;
      replace(results, errorBox(e));
      return;
    }
    const keys = list(res, 'Keys', 'Key');
    const total = Number(res.TotalCount) || 0;
    const pages = Math.max(1, Math.ceil(total / st.size));
    if (!keys.length && st.page > pages && total > 0) {
      ctx.go(hashFor({ ...st, page: pages }), true);
      return;
    }
    const mkPager = (prefix) =>
      pager({
        page: st.page,
        size: st.size,
        total,
        noun: 'keys',
        sizes: SIZES,
        prefix,
        onPage: (p) => ctx.go(hashFor({ ...st, page: p })),
        onSize: (n) => ctx.go(hashFor({ ...st, page: 1, size: n })),
      });
    if (!keys.length) {
      if (Object.keys(st.filters).length) {
        replace(results, emptyState('empty-state', 'No keys match these filters.', h('button', { type: 'button', class: 'btn', on: { click: () => ctx.go(hashFor({ ...st, page: 1, filters: {} })) } }, 'Clear filters')));
      } else {
        replace(
          results,
          emptyState('empty-state', 'No keys yet — create one.', h('button', { type: 'button', class: 'btn primary', testid: 'empty-create-key', on: { click: () => toggleCreate(true) } }, '+ Create key')),
        );
      }
      return;
    }
    replace(pagerTop, mkPager(''));
    replace(pagerBottom, mkPager('bottom-'));
    const rows = keys.map((k) => {
      const cells = Array.from({ length: 8 }, () => h('td', { class: 'muted' }, '…'));
      const tr = h(
        'tr',
        { testid: 'key-row', data: { keyId: k.KeyId } },
        h('td', null, h('a', { href: makeHash(['keys', k.KeyId]), class: 'mono', testid: 'key-link' }, k.KeyId)),
        cells,
      );
      return { k, tr, cells };
    });
    replace(body, rows.map((r) => r.tr));
    let shownError = false;
    await mapLimit(rows, 6, async ({ k, tr, cells }) => {
      try {
        const d = await ctx.call('DescribeKey', { KeyId: k.KeyId });
        const m = d.KeyMetadata || {};
        tr.dataset.keyState = m.KeyState || '';
        const vals = [
          stateBadge(m.KeyState),
          m.KeySpec,
          m.KeyUsage,
          m.ProtectionLevel,
          m.AutomaticRotation === 'Enabled' ? humanInterval(m.RotationInterval) : m.AutomaticRotation,
          m.Description,
          m.CreationDate,
          m.DeleteDate || m.DeletionDate,
        ];
        cells.forEach((td, i) => {
          td.classList.remove('muted');
          replace(td, vals[i] === undefined || vals[i] === '' ? '—' : vals[i]);
        });
      } catch (e) {
        if (ignorable(e)) throw e;
        replace(cells[0], h('span', { class: 'badge state-error', testid: 'key-state', title: `${e.code}: ${e.message}` }, e.code || 'Error'));
        if (!shownError) {
          shownError = true;
          results.prepend(errorBox(e));
        }
      }
    }).catch((e) => {
      if (!ignorable(e)) throw e;
    });
  })();

  return root;
}
