// Secret detail: DescribeSecret, versions (ListSecretVersionIds), reveal a version's value on
// demand (GetSecretValue), and PutSecretValue. Revealed values live only in this page's DOM,
// which is thrown away on navigation.

import { h, replace, field } from '../dom.js';
import { act, errorBox, ignorable, list, loadingRow, meta, notice, table } from '../ui.js';
import { newNonce } from '../sign.js';

export function secretDetailPage(ctx, name) {
  const root = h('section', { class: 'page', testid: 'secret-detail' });
  const metaSlot = h('div', null, h('p', { class: 'muted' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), ' Loading…'));
  const versionBody = h('tbody', null, loadingRow(4));
  const versionMsg = h('div');
  root.append(
    h('p', { class: 'crumbs' }, h('a', { href: '#/secrets', testid: 'back-secrets' }, '← Secrets')),
    h('div', { class: 'page-head' }, h('h1', null, 'Secret ', h('span', { class: 'mono', testid: 'secret-name' }, name))),
    metaSlot,
  );

  async function loadMeta() {
    const d = await ctx.call('DescribeSecret', { SecretName: name });
    const known = [
      ['Name', d.SecretName, 'SecretName'],
      ['ARN', d.Arn, 'Arn'],
      ['Type', d.SecretType, 'SecretType'],
      ['Description', d.Description, 'Description'],
      ['Encryption key', d.EncryptionKeyId, 'EncryptionKeyId'],
      ['Created', d.CreateTime, 'CreateTime'],
      ['Updated', d.UpdateTime, 'UpdateTime'],
      ['Planned deletion', d.PlannedDeleteTime, 'PlannedDeleteTime'],
    ];
    const seen = new Set(known.map((x) => x[2]).concat(['RequestId']));
    const extra = Object.keys(d)
      .filter((k) => !seen.has(k) && d[k] !== '' && typeof d[k] !== 'object')
      .map((k) => [k, String(d[k]), k]);
    replace(metaSlot, h('section', { class: 'panel', 'aria-label': 'Metadata' }, h('h2', null, 'Metadata'), meta(known.concat(extra), 'secret-metadata')));
  }

  function revealCell(v) {
    const cell = h('td', { class: 'reveal-cell' });
    const btn = h('button', { type: 'button', class: 'btn small', testid: 'reveal', data: { versionId: v.VersionId }, 'aria-expanded': 'false' }, 'Reveal');
    const out = h('div', { class: 'secret-out' });
    let shown = false;
    btn.addEventListener('click', () => {
      if (shown) {
        replace(out);
        shown = false;
        btn.textContent = 'Reveal';
        btn.setAttribute('aria-expanded', 'false');
        return;
      }
      act(ctx, btn, async () => {
        const res = await ctx.call('GetSecretValue', { SecretName: name, VersionId: v.VersionId });
        replace(out, h('pre', { class: 'secret-value', testid: 'secret-value', data: { versionId: v.VersionId } }, res.SecretData ?? ''));
        shown = true;
        btn.textContent = 'Hide';
        btn.setAttribute('aria-expanded', 'true');
      });
    });
    cell.append(btn, out);
    return cell;
  }

  async function loadVersions() {
    let res;
    try {
      res = await ctx.call('ListSecretVersionIds', { SecretName: name, IncludeDeprecated: 'true', PageNumber: 1, PageSize: 100 });
    } catch (e) {
      if (ignorable(e)) return;
      replace(versionBody);
      replace(versionMsg, errorBox(e));
      return;
    }
    replace(versionMsg);
    const versions = list(res, 'VersionIds', 'VersionId');
    if (Number(res.TotalCount) > versions.length) {
      replace(versionMsg, h('p', { class: 'muted' }, `Showing ${versions.length} of ${res.TotalCount} versions.`));
    }
    if (!versions.length) {
      replace(versionBody, h('tr', null, h('td', { colspan: 4, class: 'muted' }, 'No versions.')));
      return;
    }
    replace(
      versionBody,
      versions.map((v) => {
        const stages = list(v, 'VersionStages', 'VersionStage');
        return h(
          'tr',
          { testid: 'secret-version-row', data: { versionId: v.VersionId } },
          h('td', { class: 'mono' }, v.VersionId),
          h('td', null, stages.length ? stages.map((st) => h('span', { class: ['badge', st === 'ACSCurrent' ? 'state-enabled' : 'state-neutral'] }, st)) : '—'),
          h('td', null, v.CreateTime || '—'),
          revealCell(v),
        );
      }),
    );
  }

  const newVersion = () => `v-${newNonce().slice(0, 12)}`;
  const vid = h('input', { type: 'text', testid: 'put-value-version', required: true, value: newVersion(), maxlength: 64, autocomplete: 'off' });
  const data = h('textarea', { testid: 'put-value-data', required: true, rows: 3, autocomplete: 'off', spellcheck: 'false' });
  const stages = h('input', { type: 'text', testid: 'put-value-stages', placeholder: '["ACSCurrent"] (optional)', autocomplete: 'off' });
  const putBtn = h('button', { type: 'submit', class: 'btn primary', testid: 'put-value' }, 'Put new value');
  stages.addEventListener('input', () => stages.setCustomValidity(''));
  const putForm = h(
    'form',
    {
      class: 'form-grid',
      method: 'post',
      autocomplete: 'off',
      'aria-label': 'Put a new value',
      on: {
        submit: (ev) => {
          ev.preventDefault();
          if (!ev.target.reportValidity()) return;
          const params = { SecretName: name, VersionId: vid.value.trim(), SecretData: data.value };
          const st = stages.value.trim();
          if (st) {
            let ok = false;
            try {
              const parsed = JSON.parse(st);
              ok = Array.isArray(parsed) && parsed.every((x) => typeof x === 'string');
            } catch {
              ok = false;
            }
            if (!ok) {
              stages.setCustomValidity('A JSON array of strings, e.g. ["ACSCurrent"].');
              stages.reportValidity();
              return;
            }
            params.VersionStages = st;
          }
          act(ctx, putBtn, async () => {
            await ctx.call('PutSecretValue', params);
            notice(`Version ${params.VersionId} stored.`);
            data.value = '';
            vid.value = newVersion();
            await Promise.all([loadVersions(), loadMeta().catch(() => {})]);
          });
        },
      },
    },
    field('Version ID', vid)[0],
    field('Version stages', stages)[0],
    field('New value (text)', data, null, 'wide')[0],
    h('div', { class: 'actions' }, putBtn),
  );

  (async () => {
    try {
      await loadMeta();
    } catch (e) {
      if (ignorable(e)) return;
      replace(metaSlot, errorBox(e));
      return;
    }
    root.append(
      h('section', { class: 'panel', testid: 'secret-versions', 'aria-label': 'Versions' }, h('h2', null, 'Versions'), versionMsg, table('secret-version-table', ['Version ID', 'Stages', 'Created', 'Value'], versionBody)),
      h('section', { class: 'panel', testid: 'put-value-panel', 'aria-label': 'Put a new value' }, h('h2', null, 'Put a new value'), putForm),
    );
    await loadVersions();
  })();

  return root;
}
