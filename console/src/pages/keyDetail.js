// Key detail: metadata, state, deletion, deletion protection, rotation, tags, aliases,
// versions (table + usage chart) and an Encrypt/Decrypt try-out.

import { h, replace, field } from '../dom.js';
import { act, emptyState, errorBox, ignorable, list, loadingRow, mapLimit, meta, notice, pager, parseInterval, stateBadge, table, humanInterval } from '../ui.js';
import { usageChart } from '../chart.js';
import { base64ToText, textToBase64 } from '../b64.js';

const VERSION_PAGE = 20;

function panel(title, testid, ...children) {
  return h('section', { class: 'panel', testid, 'aria-label': title }, h('h2', null, title), ...children);
}

export function keyDetailPage(ctx, keyId) {
  const root = h('section', { class: 'page', testid: 'key-detail' });
  const badgeSlot = h('span');
  const metaSlot = h('div', null, h('p', { class: 'muted' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), ' Loading…'));
  const stateSlot = h('div');
  const protectionSlot = h('div');
  const rotationSlot = h('div');
  const rest = h('div', { class: 'detail-rest' });
  root.append(
    h('p', { class: 'crumbs' }, h('a', { href: '#/keys', testid: 'back-keys' }, '← Keys')),
    h('div', { class: 'page-head' }, h('h1', null, 'Key ', h('span', { class: 'mono', testid: 'key-id' }, keyId)), badgeSlot),
    metaSlot,
    h('div', { class: 'cols' }, stateSlot, protectionSlot, rotationSlot),
    rest,
  );

  let current = null;

  async function loadMeta() {
    const d = await ctx.call('DescribeKey', { KeyId: keyId });
    const m = d.KeyMetadata || {};
    current = m;
    replace(badgeSlot, stateBadge(m.KeyState));
    const known = [
      ['Key ID', m.KeyId, 'KeyId'],
      ['ARN', m.Arn, 'Arn'],
      ['State', m.KeyState, 'KeyState'],
      ['Spec', m.KeySpec, 'KeySpec'],
      ['Usage', m.KeyUsage, 'KeyUsage'],
      ['Protection level', m.ProtectionLevel, 'ProtectionLevel'],
      ['Origin', m.Origin, 'Origin'],
      ['Description', m.Description, 'Description'],
      ['Created', m.CreationDate, 'CreationDate'],
      ['Creator', m.Creator, 'Creator'],
      ['Deletion date', m.DeleteDate || m.DeletionDate, 'DeleteDate'],
      ['Automatic rotation', m.AutomaticRotation, 'AutomaticRotation'],
      ['Rotation interval', m.RotationInterval ? humanInterval(m.RotationInterval) : '', 'RotationInterval'],
      ['Last rotation', m.LastRotationDate, 'LastRotationDate'],
      ['Next rotation', m.NextRotationDate, 'NextRotationDate'],
      ['Primary version', m.PrimaryKeyVersion, 'PrimaryKeyVersion'],
      ['Deletion protection', m.DeletionProtection, 'DeletionProtection'],
      ['Protection note', m.DeletionProtectionDescription, 'DeletionProtectionDescription'],
    ];
    const seen = new Set(known.map((x) => x[2]).concat(['DeletionDate']));
    const extra = Object.keys(m)
      .filter((k) => !seen.has(k) && m[k] !== '' && typeof m[k] !== 'object')
      .map((k) => [k, String(m[k]), k]);
    replace(metaSlot, h('section', { class: 'panel', 'aria-label': 'Metadata' }, h('h2', null, 'Metadata'), meta(known.concat(extra), 'key-metadata')));
    renderState(m);
    renderProtection(m);
    renderRotation(m);
    renderTry(m);
    return m;
  }

  const refresh = () => loadMeta().catch((e) => { if (!ignorable(e)) throw e; });

  function renderState(m) {
    const enable = h('button', { type: 'button', class: 'btn', testid: 'enable-key', disabled: m.KeyState !== 'Disabled' }, 'Enable');
    const disable = h('button', { type: 'button', class: 'btn', testid: 'disable-key', disabled: m.KeyState !== 'Enabled' }, 'Disable');
    enable.addEventListener('click', () =>
      act(ctx, enable, async () => {
        await ctx.call('EnableKey', { KeyId: keyId });
        notice('Key enabled.');
        await refresh();
      }),
    );
    disable.addEventListener('click', () =>
      act(ctx, disable, async () => {
        await ctx.call('DisableKey', { KeyId: keyId });
        notice('Key disabled.');
        await refresh();
      }),
    );
    let deletion;
    if (m.KeyState === 'PendingDeletion') {
      const cancel = h('button', { type: 'button', class: 'btn', testid: 'cancel-deletion' }, 'Cancel deletion');
      cancel.addEventListener('click', () =>
        act(ctx, cancel, async () => {
          await ctx.call('CancelKeyDeletion', { KeyId: keyId });
          notice('Deletion cancelled; the key is Disabled until you enable it.');
          await refresh();
        }),
      );
      deletion = h('div', null, h('p', { class: 'warn' }, `Scheduled for deletion on ${m.DeleteDate || m.DeletionDate || '?'}.`), cancel);
    } else {
      const days = h('input', { type: 'number', min: 7, max: 366, value: '30', required: true, testid: 'deletion-days', inputmode: 'numeric' });
      const btn = h('button', { type: 'submit', class: 'btn danger', testid: 'schedule-deletion' }, 'Schedule deletion');
      deletion = h(
        'form',
        {
          class: 'inline-form',
          method: 'post',
          'aria-label': 'Schedule deletion',
          on: {
            submit: (ev) => {
              ev.preventDefault();
              if (!ev.target.reportValidity()) return;
              act(ctx, btn, async () => {
                await ctx.call('ScheduleKeyDeletion', { KeyId: keyId, PendingWindowInDays: String(parseInt(days.value, 10)) });
                notice(`Key deletion scheduled in ${days.value} days.`);
                await refresh();
              });
            },
          },
        },
        field('Pending window (days, 7–366)', days)[0],
        btn,
      );
    }
    replace(stateSlot, panel('State', 'state-panel', h('div', { class: 'actions' }, enable, disable), deletion));
  }

  function renderProtection(m) {
    const on = m.DeletionProtection === 'Enabled';
    const descr = h('input', { type: 'text', testid: 'protection-description', value: m.DeletionProtectionDescription || '', autocomplete: 'off' });
    const btn = h('button', { type: 'submit', class: 'btn', testid: on ? 'protection-disable' : 'protection-enable' }, on ? 'Disable protection' : 'Enable protection');
    const form = h(
      'form',
      {
        class: 'inline-form',
        method: 'post',
        'aria-label': 'Deletion protection',
        on: {
          submit: (ev) => {
            ev.preventDefault();
            const params = { ProtectedResourceArn: m.Arn, EnableDeletionProtection: on ? 'false' : 'true' };
            if (!on && descr.value) params.DeletionProtectionDescription = descr.value;
            act(ctx, btn, async () => {
              await ctx.call('SetDeletionProtection', params);
              notice(on ? 'Deletion protection disabled.' : 'Deletion protection enabled.');
              await refresh();
            });
          },
        },
      },
      on ? null : field('Description (optional)', descr)[0],
      btn,
    );
    replace(
      protectionSlot,
      panel('Deletion protection', 'protection-panel', h('p', null, 'Status: ', h('strong', { testid: 'protection-state' }, m.DeletionProtection || 'Disabled')), form),
    );
  }

  function renderRotation(m) {
    const enabled = h('input', { type: 'checkbox', id: 'rotation-enabled', testid: 'rotation-enabled', checked: m.AutomaticRotation === 'Enabled' });
    const interval = h('input', { type: 'text', testid: 'rotation-interval', value: m.RotationInterval || '8640000s', placeholder: '8640000s or 100d', autocomplete: 'off' });
    const btn = h('button', { type: 'submit', class: 'btn', testid: 'rotation-save' }, 'Save rotation policy');
    interval.addEventListener('input', () => interval.setCustomValidity(''));
    const form = h(
      'form',
      {
        class: 'stack',
        method: 'post',
        'aria-label': 'Rotation policy',
        on: {
          submit: (ev) => {
            ev.preventDefault();
            const params = { KeyId: keyId, EnableAutomaticRotation: enabled.checked ? 'true' : 'false' };
            if (enabled.checked) {
              const iv = parseInterval(interval.value);
              if (!iv) {
                interval.setCustomValidity('Use seconds like 8640000s, or days like 100d.');
                interval.reportValidity();
                return;
              }
              params.RotationInterval = iv;
            }
            act(ctx, btn, async () => {
              await ctx.call('UpdateRotationPolicy', params);
              notice('Rotation policy saved.');
              await refresh();
            });
          },
        },
      },
      h('div', { class: 'field check' }, enabled, h('label', { for: 'rotation-enabled' }, 'Automatic rotation')),
      field('Interval', interval, 'Seconds (8640000s) or days (100d).')[0],
      btn,
    );
    replace(rotationSlot, panel('Rotation', 'rotation-panel', form));
  }

  // ---- Tags
  const tagBody = h('tbody', null, loadingRow(3));
  const tagMsg = h('div');
  async function loadTags() {
    let res;
    try {
      res = await ctx.call('ListResourceTags', { KeyId: keyId });
    } catch (e) {
      if (ignorable(e)) return;
      replace(tagBody);
      replace(tagMsg, errorBox(e));
      return;
    }
    replace(tagMsg);
    const tags = list(res, 'Tags', 'Tag');
    if (!tags.length) {
      replace(tagBody, h('tr', null, h('td', { colspan: 3, class: 'muted', testid: 'tags-empty' }, 'No tags.')));
      return;
    }
    replace(
      tagBody,
      tags.map((t) => {
        const rm = h('button', { type: 'button', class: 'btn small', testid: 'tag-remove', data: { tagKey: t.TagKey }, 'aria-label': `Remove tag ${t.TagKey}` }, 'Remove');
        rm.addEventListener('click', () =>
          act(ctx, rm, async () => {
            await ctx.call('UntagResource', { KeyId: keyId, TagKeys: JSON.stringify([t.TagKey]) });
            notice(`Tag ${t.TagKey} removed.`);
            await loadTags();
          }),
        );
        return h('tr', { testid: 'tag-row', data: { tagKey: t.TagKey } }, h('td', null, t.TagKey), h('td', null, t.TagValue), h('td', null, rm));
      }),
    );
  }
  const tagKey = h('input', { type: 'text', testid: 'tag-key', required: true, maxlength: 128, autocomplete: 'off' });
  const tagValue = h('input', { type: 'text', testid: 'tag-value', maxlength: 128, autocomplete: 'off' });
  const tagAdd = h('button', { type: 'submit', class: 'btn', testid: 'tag-add' }, 'Add tag');
  const tagForm = h(
    'form',
    {
      class: 'inline-form',
      method: 'post',
      'aria-label': 'Add tag',
      on: {
        submit: (ev) => {
          ev.preventDefault();
          if (!ev.target.reportValidity()) return;
          act(ctx, tagAdd, async () => {
            await ctx.call('TagResource', { KeyId: keyId, Tags: JSON.stringify([{ TagKey: tagKey.value, TagValue: tagValue.value }]) });
            notice(`Tag ${tagKey.value} added.`);
            tagKey.value = '';
            tagValue.value = '';
            await loadTags();
          });
        },
      },
    },
    field('Tag key', tagKey)[0],
    field('Tag value', tagValue)[0],
    tagAdd,
  );

  // ---- Aliases
  const aliasBody = h('tbody', null, loadingRow(3));
  const aliasMsg = h('div');
  async function loadAliases() {
    let res;
    try {
      res = await ctx.call('ListAliasesByKeyId', { KeyId: keyId, PageNumber: 1, PageSize: 100 });
    } catch (e) {
      if (ignorable(e)) return;
      replace(aliasBody);
      replace(aliasMsg, errorBox(e));
      return;
    }
    replace(aliasMsg);
    const aliases = list(res, 'Aliases', 'Alias');
    if (!aliases.length) {
      replace(aliasBody, h('tr', null, h('td', { colspan: 3, class: 'muted', testid: 'aliases-empty' }, 'No aliases.')));
      return;
    }
    replace(
      aliasBody,
      aliases.map((a) => {
        const rm = h('button', { type: 'button', class: 'btn small', testid: 'alias-remove', data: { alias: a.AliasName }, 'aria-label': `Remove alias ${a.AliasName}` }, 'Remove');
        rm.addEventListener('click', () =>
          act(ctx, rm, async () => {
            await ctx.call('DeleteAlias', { AliasName: a.AliasName });
            notice(`Alias ${a.AliasName} removed.`);
            await loadAliases();
          }),
        );
        return h('tr', { testid: 'alias-row', data: { alias: a.AliasName } }, h('td', { class: 'mono' }, a.AliasName), h('td', { class: 'mono small' }, a.AliasArn || '—'), h('td', null, rm));
      }),
    );
  }
  const aliasInput = h('input', { type: 'text', testid: 'alias-input', required: true, pattern: 'alias/.+', placeholder: 'alias/my-key', value: 'alias/', autocomplete: 'off', title: 'Alias names start with alias/' });
  const aliasAdd = h('button', { type: 'submit', class: 'btn', testid: 'alias-add' }, 'Add alias');
  const aliasForm = h(
    'form',
    {
      class: 'inline-form',
      method: 'post',
      'aria-label': 'Add alias',
      on: {
        submit: (ev) => {
          ev.preventDefault();
          if (!ev.target.reportValidity()) return;
          act(ctx, aliasAdd, async () => {
            await ctx.call('CreateAlias', { AliasName: aliasInput.value.trim(), KeyId: keyId });
            notice(`Alias ${aliasInput.value.trim()} created.`);
            aliasInput.value = 'alias/';
            await loadAliases();
          });
        },
      },
    },
    field('Alias name', aliasInput, 'Must start with alias/')[0],
    aliasAdd,
  );

  // ---- Versions
  const versionSlot = h('div', null, h('p', { class: 'muted' }, 'Loading versions…'));
  let versionPage = 1;
  async function loadVersions() {
    let res;
    try {
      res = await ctx.call('ListKeyVersions', { KeyId: keyId, PageNumber: versionPage, PageSize: VERSION_PAGE });
    } catch (e) {
      if (ignorable(e)) return;
      replace(versionSlot, errorBox(e));
      return;
    }
    const total = Number(res.TotalCount) || 0;
    const items = list(res, 'KeyVersions', 'KeyVersion');
    if (!items.length) {
      replace(versionSlot, emptyState('versions-empty', 'No key versions.'));
      return;
    }
    // kmsd's ListKeyVersions already carries the usage counters; ask DescribeKeyVersion only
    // where they are missing (Alibaba's own ListKeyVersions has none).
    const versions = await mapLimit(items, 6, async (v) => {
      if (v.EncryptCount !== undefined && v.DecryptCount !== undefined) return v;
      try {
        const d = await ctx.call('DescribeKeyVersion', { KeyId: keyId, KeyVersionId: v.KeyVersionId });
        return { ...v, ...(d.KeyVersion || {}) };
      } catch (e) {
        if (ignorable(e)) throw e;
        return { ...v, error: e };
      }
    }).catch((e) => {
      if (ignorable(e)) return null;
      throw e;
    });
    if (!versions) return;
    const primary = current && current.PrimaryKeyVersion;
    const rows = versions.map((v) =>
      h(
        'tr',
        { testid: 'version-row', data: { versionId: v.KeyVersionId } },
        h('td', { class: 'mono' }, v.KeyVersionId, v.KeyVersionId === primary ? h('span', { class: 'badge state-enabled small' }, 'primary') : null),
        h('td', null, v.CreationDate || '—'),
        h('td', { class: 'num', testid: 'version-encrypt-count' }, v.error ? v.error.code : String(v.EncryptCount ?? '—')),
        h('td', { class: 'num', testid: 'version-decrypt-count' }, v.error ? '' : String(v.DecryptCount ?? '—')),
        h('td', null, v.LastUsedDate || 'never'),
      ),
    );
    const pagerEl =
      total > VERSION_PAGE
        ? pager({
            page: versionPage,
            size: VERSION_PAGE,
            total,
            noun: 'versions',
            prefix: 'versions-',
            onPage: (p) => {
              versionPage = p;
              loadVersions();
            },
          })
        : null;
    replace(
      versionSlot,
      usageChart(versions, primary),
      table('version-table', ['Version ID', 'Created', 'Encrypts', 'Decrypts', 'Last used'], h('tbody', null, rows)),
      pagerEl,
    );
  }

  // ---- Try it
  const trySlot = h('div');
  function renderTry(m) {
    const symmetric = String(m.KeySpec || '').startsWith('Aliyun_') && m.KeyUsage === 'ENCRYPT/DECRYPT';
    if (!symmetric) {
      replace(trySlot, panel('Try it', 'try-panel', h('p', { class: 'muted' }, 'Encrypt/Decrypt try-out is for symmetric ENCRYPT/DECRYPT keys.')));
      return;
    }
    if (trySlot.firstChild) return; // keep what the user typed across metadata refreshes
    const input = h('textarea', { testid: 'encrypt-input', rows: 2, maxlength: 6144, placeholder: 'Some text to encrypt' });
    const encBtn = h('button', { type: 'submit', class: 'btn primary', testid: 'encrypt-submit' }, 'Encrypt');
    const cipher = h('textarea', { testid: 'ciphertext', rows: 3, readOnly: true, class: 'mono', placeholder: 'CiphertextBlob appears here' });
    const decInput = h('textarea', { testid: 'decrypt-input', rows: 3, class: 'mono', placeholder: 'CiphertextBlob (base64)' });
    const decBtn = h('button', { type: 'submit', class: 'btn', testid: 'decrypt-submit' }, 'Decrypt');
    const plain = h('output', { testid: 'plaintext', class: 'plain' });
    const encForm = h(
      'form',
      {
        class: 'stack',
        method: 'post',
        'aria-label': 'Encrypt',
        on: {
          submit: (ev) => {
            ev.preventDefault();
            act(ctx, encBtn, async () => {
              const res = await ctx.call('Encrypt', { KeyId: keyId, Plaintext: textToBase64(input.value) });
              cipher.value = res.CiphertextBlob || '';
              decInput.value = res.CiphertextBlob || '';
              loadVersions();
            });
          },
        },
      },
      field('Plaintext (UTF-8 text)', input)[0],
      encBtn,
      field('CiphertextBlob', cipher)[0],
    );
    const decForm = h(
      'form',
      {
        class: 'stack',
        method: 'post',
        'aria-label': 'Decrypt',
        on: {
          submit: (ev) => {
            ev.preventDefault();
            act(ctx, decBtn, async () => {
              replace(plain);
              const res = await ctx.call('Decrypt', { CiphertextBlob: decInput.value.trim() });
              const text = base64ToText(res.Plaintext || '');
              replace(plain, text === null ? `(not UTF-8 text; base64: ${res.Plaintext})` : text);
              loadVersions();
            });
          },
        },
      },
      field('CiphertextBlob to decrypt', decInput)[0],
      decBtn,
      field('Decrypted text', plain)[0],
    );
    replace(trySlot, panel('Try it', 'try-panel', h('div', { class: 'cols two' }, encForm, decForm)));
  }

  rest.append(
    panel('Tags', 'tags-panel', tagMsg, table('tag-table', ['Key', 'Value', ''], tagBody), tagForm),
    panel('Aliases', 'aliases-panel', aliasMsg, table('alias-table', ['Alias', 'ARN', ''], aliasBody), aliasForm),
    panel('Versions', 'versions-panel', versionSlot),
    trySlot,
  );

  (async () => {
    try {
      await loadMeta();
    } catch (e) {
      if (ignorable(e)) return;
      replace(metaSlot, errorBox(e));
      replace(rest);
      return;
    }
    await Promise.all([loadTags(), loadAliases(), loadVersions()]);
  })().catch((e) => {
    if (!ignorable(e)) replace(metaSlot, errorBox(e));
  });

  return root;
}

