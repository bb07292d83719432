// The rest of the 2016-01-20 surface through every Node client mode: managed data keys (made by
// `kmsd admin datakey`), DescribeService, and the attestation refusal. The pinned Node SDKs have
// no typed models for these: each mode sends them through its generic entry point.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { MODES, assertRequestId, expectError, startKmsd, unb64, unique } from './helpers.mjs';

let server;
before(async () => { server = await startKmsd(); });
after(async () => { await server?.stop(); });

for (const mode of MODES) {
  describe(mode, () => {
    it('managed data keys: first, latest, named, listed', async () => {
      const kms = server.client(mode);
      const name = `node/${unique()}`;
      const versions = [0, 1, 2].map(() => server.adminGroup('datakey', 'create', name).trim());
      const first = await kms.call('GetManagedDataKey', { DataKeyName: name });
      assertRequestId(first);
      assert.equal(first.DataKeyVersionId, versions[0]);
      assert.equal(first.DataKeyVersionName, `kms-datakeyversion!${name}!${versions[0]}`);
      assert.equal(unb64(first.Plaintext).length, 32);
      const latest = await kms.call('GetManagedDataKey', { DataKeyName: name, UseLatest: 'true' });
      assert.equal(latest.DataKeyVersionId, versions[2]);
      const named = await kms.call('GetManagedDataKey', { DataKeyName: name, DataKeyVersionId: versions[1] });
      assert.equal(named.DataKeyVersionId, versions[1]);
      assert.equal(new Set([first.Plaintext, latest.Plaintext, named.Plaintext]).size, 3);
      const listed = await kms.call('ListManagedDataKeyVersions', { DataKeyName: name, PageSize: '2', PageNumber: '2' });
      assert.equal(Number(listed.TotalCount), 3);
      assert.deepEqual(listed.ManagedDataKeyVersions.ManagedDataKeyVersion.map((v) => v.DataKeyVersionId), [versions[2]]);
      await expectError(kms, 'GetManagedDataKey', { DataKeyName: `none-${unique()}` }, 'Forbidden.ResourceNotFound', 404);
    });

    it('DescribeService, and GetChallenge refused', async () => {
      const kms = server.client(mode);
      const body = await kms.call('DescribeService');
      assertRequestId(body);
      const specs = Object.fromEntries(body.KeySpecs.KeySpec.map((s) => [s.Name, s.Usages.Usage]));
      assert.deepEqual(specs.HMAC_SHA_256, ['GENERATE/VERIFY_MAC']);
      assert.deepEqual(specs.Aliyun_AES_128, ['ENCRYPT/DECRYPT']);
      const err = await expectError(kms, 'GetChallenge', {}, 'UnsupportedOperation', 400);
      assert.match(err.body.Message, /trusted execution environment/);
    });
  });
}
