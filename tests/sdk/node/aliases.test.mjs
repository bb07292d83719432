// CreateAlias, UpdateAlias, DeleteAlias, ListAliases, ListAliasesByKeyId through every Node client mode.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import {
  KEY_ARN_RE, MODES, assertRequestId, createAlias, createKey, expectError, listAll, randomUuid, startKmsd, unique,
} from './helpers.mjs';

let server;
before(async () => { server = await startKmsd(); });
after(async () => { await server?.stop(); });

const aliasesOf = async (kms, keyRef) =>
  (await listAll(kms, 'ListAliasesByKeyId', 'Aliases', 'Alias', { KeyId: keyRef })).items;
const allAliases = async (kms) => (await listAll(kms, 'ListAliases', 'Aliases', 'Alias')).items;
const resolvedKeyId = async (kms, ref) => (await kms.call('DescribeKey', { KeyId: ref })).KeyMetadata.KeyId;

for (const mode of MODES) {
  describe(mode, () => {
    it('alias lifecycle: create, list, resolve, update, delete', async () => {
      const kms = server.client(mode);
      const key1 = await createKey(kms);
      const key2 = await createKey(kms);
      const account = KEY_ARN_RE.exec(key1.Arn)[1];
      const name = await createAlias(kms, key1.KeyId, `alias/sdk-node-${unique()}/sub_dir-x`);
      const expected = { AliasName: name, AliasArn: `acs:kms:cn-hangzhou:${account}:${name}`, KeyId: key1.KeyId };

      assert.deepEqual(await aliasesOf(kms, key1.KeyId), [expected]);
      assert.deepEqual((await allAliases(kms)).find((a) => a.AliasName === name), expected);
      assert.equal(await resolvedKeyId(kms, name), key1.KeyId);

      assertRequestId(await kms.call('UpdateAlias', { AliasName: name, KeyId: key2.KeyId }));
      assert.equal(await resolvedKeyId(kms, name), key2.KeyId);
      assert.deepEqual(await aliasesOf(kms, key1.KeyId), []);
      assert.deepEqual(await aliasesOf(kms, key2.Arn), [{ ...expected, KeyId: key2.KeyId }]);

      assertRequestId(await kms.call('DeleteAlias', { AliasName: name }));
      await expectError(kms, 'DescribeKey', { KeyId: name }, 'Forbidden.AliasNotFound', 404);
      assert.ok(!(await allAliases(kms)).some((a) => a.AliasName === name));
      assert.equal(await resolvedKeyId(kms, key2.KeyId), key2.KeyId);
    });

    it('several aliases per key, paged', async () => {
      const kms = server.client(mode);
      const key = await createKey(kms);
      const names = [];
      for (let i = 0; i < 3; i++) names.push(await createAlias(kms, key.KeyId));
      const page = await kms.call('ListAliasesByKeyId', { KeyId: key.KeyId, PageSize: 2, PageNumber: 2 });
      assert.equal(Number(page.TotalCount), 3);
      assert.equal(page.Aliases.Alias.length, 1);
      assert.deepEqual((await aliasesOf(kms, key.KeyId)).map((a) => a.AliasName).sort(), names.sort());
    });

    it('errors', async () => {
      const kms = server.client(mode);
      const key = await createKey(kms);
      const name = await createAlias(kms, key.KeyId);
      await expectError(kms, 'CreateAlias', { AliasName: name, KeyId: key.KeyId }, 'AliasAlreadyExists', 400);
      for (const bad of ['sdk-no-prefix', 'alias/', 'alias/has space', 'alias/star*', 'alias/acsreserved']) {
        await expectError(kms, 'CreateAlias', { AliasName: bad, KeyId: key.KeyId }, 'InvalidParameter', 400);
      }
      await expectError(kms, 'CreateAlias', { AliasName: `alias/sdk-${unique()}`, KeyId: randomUuid() },
        'Forbidden.KeyNotFound', 404);
      const missing = `alias/sdk-missing-${unique()}`;
      await expectError(kms, 'UpdateAlias', { AliasName: missing, KeyId: key.KeyId }, 'Forbidden.AliasNotFound', 404);
      await expectError(kms, 'DeleteAlias', { AliasName: missing }, 'Forbidden.AliasNotFound', 404);
      await expectError(kms, 'ListAliasesByKeyId', { KeyId: randomUuid() }, 'Forbidden.KeyNotFound', 404);
    });
  });
}
