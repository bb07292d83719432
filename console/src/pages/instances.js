// KMS instances (ListKmsInstances + GetKmsInstance) and application access (access points,
// policies, network rules). Errors are shown in place, section by section.

import { h, replace } from '../dom.js';
import { emptyState, errorBox, ignorable, list, loadingRow, makeHash, mapLimit, meta, pager, table } from '../ui.js';

const PAGE = 20;

/** A panel that lists one paged action in place. */
function pagedSection(ctx, { title, testid, action, outer, inner, columns, row, emptyTestid, emptyText, after }) {
  const slot = h('div', null, table(`${testid}-table`, columns, h('tbody', null, loadingRow(columns.length))));
  const section = h('section', { class: 'panel', testid, 'aria-label': title }, h('h2', null, title), slot);
  let page = 1;
  async function load() {
    let res;
    try {
      res = await ctx.call(action, { PageNumber: page, PageSize: PAGE });
    } catch (e) {
      if (ignorable(e)) return;
      replace(slot, errorBox(e));
      return;
    }
    const items = list(res, outer, inner);
    const total = Number(res.TotalCount) || items.length;
    if (!items.length) {
      replace(slot, emptyState(emptyTestid, emptyText));
      return;
    }
    const rows = items.map(row);
    replace(
      slot,
      table(`${testid}-table`, columns, h('tbody', null, rows.map((r) => r.tr || r))),
      total > PAGE
        ? pager({
            page,
            size: PAGE,
            total,
            noun: title.toLowerCase(),
            prefix: `${testid}-`,
            onPage: (p) => {
              page = p;
              load();
            },
          })
        : null,
    );
    if (after) await after(rows);
  }
  return { section, load };
}

export function instancesPage(ctx) {
  const root = h('section', { class: 'page', testid: 'instances-page', 'aria-labelledby': 'inst-h' });
  const instances = pagedSection(ctx, {
    title: 'KMS instances',
    testid: 'instances',
    action: 'ListKmsInstances',
    outer: 'KmsInstances',
    inner: 'KmsInstance',
    columns: ['Instance ID', 'Name', 'Status', 'Spec', 'Keys', 'Secrets', 'VPCs', 'Charge type', 'Created'],
    emptyTestid: 'instances-empty',
    emptyText: 'No KMS instances.',
    row: (it) => {
      const cells = Array.from({ length: 8 }, () => h('td', { class: 'muted' }, '…'));
      const tr = h(
        'tr',
        { testid: 'instance-row', data: { instanceId: it.KmsInstanceId } },
        h('td', null, h('a', { href: makeHash(['instances', it.KmsInstanceId]), class: 'mono', testid: 'instance-link' }, it.KmsInstanceId)),
        cells,
      );
      return { it, tr, cells };
    },
    after: async (rows) => {
      await mapLimit(rows, 4, async ({ it, cells }) => {
        try {
          const res = await ctx.call('GetKmsInstance', { KmsInstanceId: it.KmsInstanceId });
          const k = res.KmsInstance || {};
          const vals = [k.InstanceName, k.Status, k.Spec, k.KeyNum, k.SecretNum, k.VpcNum, k.ChargeType, k.CreateTime];
          cells.forEach((td, i) => {
            td.classList.remove('muted');
            replace(td, vals[i] === undefined || vals[i] === '' ? '—' : String(vals[i]));
          });
        } catch (e) {
          if (ignorable(e)) throw e;
          cells.forEach((td) => replace(td));
          cells[0].setAttribute('colspan', '8');
          cells.slice(1).forEach((td) => td.remove());
          replace(cells[0], errorBox(e));
        }
      }).catch((e) => {
        if (!ignorable(e)) throw e;
      });
    },
  });
  const aaps = pagedSection(ctx, {
    title: 'Application access points',
    testid: 'aaps',
    action: 'ListApplicationAccessPoints',
    outer: 'ApplicationAccessPoints',
    inner: 'ApplicationAccessPoint',
    columns: ['Name', 'Authentication', 'Description'],
    emptyTestid: 'aaps-empty',
    emptyText: 'No application access points.',
    row: (a) => h('tr', { testid: 'aap-row', data: { name: a.Name } }, h('td', null, a.Name), h('td', null, a.AuthenticationMethod || '—'), h('td', null, a.Description || '—')),
  });
  const policies = pagedSection(ctx, {
    title: 'Policies',
    testid: 'policies',
    action: 'ListPolicies',
    outer: 'Policies',
    inner: 'Policy',
    columns: ['Name', 'Description'],
    emptyTestid: 'policies-empty',
    emptyText: 'No policies.',
    row: (p) => h('tr', { testid: 'policy-row', data: { name: p.Name } }, h('td', null, p.Name), h('td', null, p.Description || '—')),
  });
  const rules = pagedSection(ctx, {
    title: 'Network rules',
    testid: 'network-rules',
    action: 'ListNetworkRules',
    outer: 'NetworkRules',
    inner: 'NetworkRule',
    columns: ['Name', 'Type', 'Description'],
    emptyTestid: 'network-rules-empty',
    emptyText: 'No network rules.',
    row: (r) => h('tr', { testid: 'network-rule-row', data: { name: r.Name } }, h('td', null, r.Name), h('td', null, r.Type || '—'), h('td', null, r.Description || '—')),
  });
  root.append(
    h('div', { class: 'page-head' }, h('h1', { id: 'inst-h' }, 'Instances')),
    instances.section,
    h('h2', { class: 'section-title' }, 'Application access'),
    h('div', { class: 'cols' }, aaps.section, policies.section, rules.section),
  );
  Promise.all([instances.load(), aaps.load(), policies.load(), rules.load()]).catch((e) => {
    if (!ignorable(e)) throw e;
  });
  return root;
}

export function instanceDetailPage(ctx, id) {
  const root = h('section', { class: 'page', testid: 'instance-detail' });
  const slot = h('div', null, h('p', { class: 'muted' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), ' Loading…'));
  root.append(
    h('p', { class: 'crumbs' }, h('a', { href: '#/instances', testid: 'back-instances' }, '← Instances')),
    h('div', { class: 'page-head' }, h('h1', null, 'Instance ', h('span', { class: 'mono' }, id))),
    slot,
  );
  (async () => {
    let res;
    try {
      res = await ctx.call('GetKmsInstance', { KmsInstanceId: id });
    } catch (e) {
      if (ignorable(e)) return;
      replace(slot, errorBox(e));
      return;
    }
    const k = res.KmsInstance || {};
    const fmt = (v) => (Array.isArray(v) ? v.join(', ') : typeof v === 'boolean' ? String(v) : v === undefined || v === null ? '' : String(v));
    const pairs = Object.keys(k)
      .filter((x) => x !== 'CaCertificateChainPem' && x !== 'BindVpcs')
      .map((x) => [x, fmt(k[x]), x]);
    const vpcs = list(k, 'BindVpcs', 'BindVpc');
    replace(
      slot,
      h('section', { class: 'panel', 'aria-label': 'Instance' }, h('h2', null, 'Details'), meta(pairs, 'instance-metadata')),
      h(
        'section',
        { class: 'panel', 'aria-label': 'Bound VPCs' },
        h('h2', null, 'Bound VPCs'),
        vpcs.length
          ? table('bindvpc-table', ['VPC', 'vSwitch', 'Region', 'Owner'], h('tbody', null, vpcs.map((v) => h('tr', null, h('td', null, v.VpcId), h('td', null, v.VSwitchId), h('td', null, v.RegionId), h('td', null, v.VpcOwnerId)))))
          : h('p', { class: 'muted' }, 'None.'),
      ),
      k.CaCertificateChainPem ? h('section', { class: 'panel', 'aria-label': 'CA certificate' }, h('h2', null, 'CA certificate chain'), h('pre', { class: 'pem' }, k.CaCertificateChainPem)) : null,
    );
  })();
  return root;
}
