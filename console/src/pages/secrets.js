// Secrets list (ListSecrets, paged) and the Create secret form.

import { h, replace, field } from '../dom.js';
import { act, emptyState, formToggle, errorBox, ignorable, list, loadingRow, makeHash, notice, pager, table } from '../ui.js';

const SIZES = [10, 20, 50, 100];

function readState(query) {
  const page = Math.max(1, parseInt(query.get('page'), 10) || 1);
  let size = parseInt(query.get('size'), 10) || 20;
  if (!SIZES.includes(size)) size = 20;
  return { page, size };
}

function hashFor(st) {
  return makeHash(['secrets'], { page: st.page > 1 ? st.page : '', size: st.size !== 20 ? st.size : '' });
}

function createSecretForm(ctx, onCancel) {
  const name = h('input', { type: 'text', testid: 'create-secret-name', required: true, maxlength: 192, autocomplete: 'off', spellcheck: 'false' });
  const data = h('textarea', { testid: 'create-secret-data', required: true, rows: 3, autocomplete: 'off', spellcheck: 'false' });
  const version = h('input', { type: 'text', testid: 'create-secret-version', required: true, value: 'v1', maxlength: 64, autocomplete: 'off' });
  const keyId = h('input', { type: 'text', testid: 'create-secret-key', placeholder: 'default: the service key', autocomplete: 'off' });
  const desc = h('input', { type: 'text', testid: 'create-secret-description', autocomplete: 'off' });
  const submit = h('button', { type: 'submit', class: 'btn primary', testid: 'create-secret-submit' }, 'Create secret');
  return h(
    'form',
    {
      class: 'panel form-grid',
      testid: 'create-secret-form',
      autocomplete: 'off',
      method: 'post',
      'aria-label': 'Create secret',
      on: {
        submit: (ev) => {
          ev.preventDefault();
          if (!ev.target.reportValidity()) return;
          const params = { SecretName: name.value.trim(), SecretData: data.value, VersionId: version.value.trim(), SecretDataType: 'text' };
          if (keyId.value.trim()) params.EncryptionKeyId = keyId.value.trim();
          if (desc.value) params.Description = desc.value;
          act(ctx, submit, async () => {
            await ctx.call('CreateSecret', params);
            data.value = '';
            notice(`Secret ${params.SecretName} created.`);
            ctx.go(makeHash(['secrets', params.SecretName]));
          });
        },
      },
    },
    h('h2', null, 'Create secret'),
    field('Secret name', name)[0],
    field('Version ID', version)[0],
    field('Secret value (text)', data, null, 'wide')[0],
    field('Encryption key ID (optional)', keyId)[0],
    field('Description', desc)[0],
    h('div', { class: 'actions' }, submit, h('button', { type: 'button', class: 'btn', testid: 'create-secret-cancel', on: { click: onCancel } }, 'Cancel')),
  );
}

export function secretsPage(ctx) {
  const st = readState(ctx.query);
  const root = h('section', { class: 'page', testid: 'secrets-page', 'aria-labelledby': 'secrets-h' });
  const formSlot = h('div');
  const { button: createBtn, toggle: toggleCreate } = formToggle(formSlot, 'create-secret', '+ Create secret', (close) => createSecretForm(ctx, close));
  const body = h('tbody', null, loadingRow(5));
  const results = h('div', { class: 'results' }, table('secret-table', ['Name', 'Type', 'Created', 'Updated', 'Planned deletion'], body));
  const pagerTop = h('div');
  const pagerBottom = h('div');
  root.append(h('div', { class: 'page-head' }, h('h1', { id: 'secrets-h' }, 'Secrets'), createBtn), formSlot, pagerTop, results, pagerBottom);

  (async () => {
    let res;
    try {
      res = await ctx.call('ListSecrets', { PageNumber: st.page, PageSize: st.size, FetchTags: 'false' });
    } catch (e) {
      if (ignorable(e)) return;
      replace(results, errorBox(e));
      return;
    }
    const secrets = list(res, 'SecretList', 'Secret');
    const total = Number(res.TotalCount) || 0;
    const pages = Math.max(1, Math.ceil(total / st.size));
    if (!secrets.length && total > 0 && st.page > pages) {
      ctx.go(hashFor({ ...st, page: pages }), true);
      return;
    }
    if (!secrets.length) {
      replace(
        results,
        emptyState('empty-state', 'No secrets yet — create one.', h('button', { type: 'button', class: 'btn primary', testid: 'empty-create-secret', on: { click: () => toggleCreate(true) } }, '+ Create secret')),
      );
      return;
    }
    const mkPager = (prefix) =>
      pager({
        page: st.page,
        size: st.size,
        total,
        noun: 'secrets',
        sizes: SIZES,
        prefix,
        onPage: (p) => ctx.go(hashFor({ ...st, page: p })),
        onSize: (n) => ctx.go(hashFor({ ...st, page: 1, size: n })),
      });
    replace(pagerTop, mkPager(''));
    replace(pagerBottom, mkPager('bottom-'));
    replace(
      body,
      secrets.map((x) =>
        h(
          'tr',
          { testid: 'secret-row', data: { secretName: x.SecretName } },
          h('td', null, h('a', { href: makeHash(['secrets', x.SecretName]), testid: 'secret-link' }, x.SecretName)),
          h('td', null, x.SecretType || '—'),
          h('td', null, x.CreateTime || '—'),
          h('td', null, x.UpdateTime || '—'),
          h('td', null, x.PlannedDeleteTime || '—'),
        ),
      ),
    );
  })();

  return root;
}
