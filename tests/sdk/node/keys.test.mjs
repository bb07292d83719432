// CreateKey, DescribeKey, ListKeys through every Node client mode.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import {
  DATE_RE, KEY_ARN_RE, MODES, UUID_RE,
  assertRequestId, createAlias, createKey, expectError, listAll, randomUuid, startKmsd,
} from './helpers.mjs';

let server;
before(async () => { server = await startKmsd(); });
after(async () => { await server?.stop(); });

// Exercises each SDK's query/form encoding: space, + & = * ~ % ! ' ( ), quotes, non-ASCII.
const AWKWARD_TEXT = `sdk test: a+b & c=d *~ %20 !'()' "dq" ü 中文 /slash/`;

function checkMetadata(md) {
  assert.equal(md.AutomaticRotation, 'Disabled');
  assert.equal(md.KeySpec, 'Aliyun_AES_256');
  assert.equal(md.KeyState, 'Enabled');
  assert.equal(md.KeyUsage, 'ENCRYPT/DECRYPT');
  assert.equal(md.Origin, 'Aliyun_KMS');
  assert.equal(md.ProtectionLevel, 'SOFTWARE');
  assert.match(md.KeyId, UUID_RE);
  assert.match(md.PrimaryKeyVersion, UUID_RE);
  assert.match(md.CreationDate, DATE_RE);
  assert.ok(Math.abs(Date.parse(md.CreationDate) - Date.now()) < 600_000, md.CreationDate);
  const arn = KEY_ARN_RE.exec(md.Arn);
  assert.ok(arn, md.Arn);
  assert.equal(arn[2], md.KeyId);
  assert.equal(md.Creator, arn[1]);
  if (md.DeletionProtection !== undefined) assert.equal(md.DeletionProtection, 'Disabled');
}

for (const mode of MODES) {
  describe(mode, () => {
    it('CreateKey with defaults', async () => {
      checkMetadata(await createKey(server.client(mode)));
    });

    it('CreateKey with explicit parameters and an awkward Description', async () => {
      const md = await createKey(server.client(mode), {
        Description: AWKWARD_TEXT, KeySpec: 'Aliyun_AES_256', KeyUsage: 'ENCRYPT/DECRYPT',
        Origin: 'Aliyun_KMS', ProtectionLevel: 'SOFTWARE',
      });
      checkMetadata(md);
      assert.equal(md.Description, AWKWARD_TEXT);
    });

    it('DescribeKey by id, alias and ARN repeats CreateKey', async () => {
      const kms = server.client(mode);
      const created = await createKey(kms, { Description: 'describe me' });
      const alias = await createAlias(kms, created.KeyId);
      for (const ref of [created.KeyId, alias, created.Arn]) {
        const body = await kms.call('DescribeKey', { KeyId: ref });
        assertRequestId(body);
        checkMetadata(body.KeyMetadata);
        if (mode !== 'tea-rpc') { // the 1.2.0 KeyMetadata model has no DeletionProtection field
          assert.equal(body.KeyMetadata.DeletionProtection, 'Disabled');
        }
        for (const [field, value] of Object.entries(created)) {
          if (value !== undefined) assert.equal(body.KeyMetadata[field], value, `${ref} ${field}`);
        }
      }
    });

    it('ListKeys lists new keys with their ARNs, paging consistently', async () => {
      const kms = server.client(mode);
      const mine = [await createKey(kms), await createKey(kms), await createKey(kms)];
      const { items, total } = await listAll(kms, 'ListKeys', 'Keys', 'Key');
      assert.equal(new Set(items.map((k) => k.KeyId)).size, items.length, 'a key listed twice');
      const byId = new Map(items.map((k) => [k.KeyId, k.KeyArn]));
      for (const md of mine) assert.equal(byId.get(md.KeyId), md.Arn);

      const first = await kms.call('ListKeys');
      assert.deepEqual([Number(first.PageNumber), Number(first.PageSize)], [1, 10]);
      const small = await listAll(kms, 'ListKeys', 'Keys', 'Key', {}, 2);
      assert.equal(small.total, total);
      assert.deepEqual(small.items.map((k) => k.KeyId).sort(), items.map((k) => k.KeyId).sort());
    });

    // @alicloud/kms20160120 1.2.0's ListKeysRequest has no Filters field
    it('ListKeys Filters', { skip: mode === 'tea-rpc' && 'ListKeysRequest 1.2.0 cannot send Filters' }, async () => {
      const kms = server.client(mode);
      const { KeyId } = await createKey(kms);
      const cases = [
        [[{ Key: 'KeyState', Values: ['Enabled'] }], true],
        [[{ Key: 'KeyState', Values: ['Disabled', 'PendingDeletion'] }], false],
        [[{ Key: 'KeySpec', Values: ['Aliyun_AES_256'] }], true],
        [[{ Key: 'KeyUsage', Values: ['SIGN/VERIFY'] }], false],
        [[{ Key: 'KeyState', Values: ['Enabled'] }, { Key: 'KeyUsage', Values: ['ENCRYPT/DECRYPT'] }], true],
      ];
      for (const [filters, listed] of cases) {
        const { items } = await listAll(kms, 'ListKeys', 'Keys', 'Key', { Filters: JSON.stringify(filters) });
        assert.equal(items.some((k) => k.KeyId === KeyId), listed, JSON.stringify(filters));
      }
    });

    it('errors', async () => {
      const kms = server.client(mode);
      await expectError(kms, 'DescribeKey', { KeyId: randomUuid() }, 'Forbidden.KeyNotFound', 404);
      await expectError(kms, 'DescribeKey', { KeyId: 'alias/nope' }, 'Forbidden.AliasNotFound', 404);
      await expectError(kms, 'DescribeKey', {}, 'MissingParameter', 400);
      await expectError(kms, 'CreateKey', { KeySpec: 'Aliyun_DES3_192' }, 'UnsupportedOperation', 400);
      await expectError(kms, 'CreateKey', { KeySpec: 'Bogus' }, 'InvalidParameter', 400);
      await expectError(kms, 'ListKeys', { PageSize: 101 }, 'InvalidParameter', 400);
    });
  });
}
