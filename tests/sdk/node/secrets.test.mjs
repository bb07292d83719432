// Secrets Manager through every Node client mode: a ~30 KB value (pop-core GET puts it in the
// query string), reads by stage, version and ARN, new versions, version lists, metadata, errors.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { MODES, assertRequestId, createKey, expectError, startKmsd, unique } from './helpers.mjs';

let server;
before(async () => { server = await startKmsd(); });
after(async () => { await server?.stop(); });

// 30,720 bytes: the largest value a secret holds.
const BIG = '0123456789abcdef'.repeat(1920);

for (const mode of MODES) {
  describe(mode, () => {
    const kms = () => server.client(mode);

    it('creates, reads and versions a secret', async () => {
      const name = `node/${unique()}`;
      const made = await kms().call('CreateSecret', { SecretName: name, VersionId: 'v1', SecretData: BIG });
      assertRequestId(made);
      assert.deepEqual([made.SecretName, made.VersionId], [name, 'v1']);
      // @alicloud/kms20160120 1.2.0's response model has no SecretType field.
      if (mode !== 'tea-rpc') assert.equal(made.SecretType, 'Generic');
      assert.ok(made.Arn.endsWith(`:secret/${name}`), made.Arn);

      const got = await kms().call('GetSecretValue', { SecretName: name });
      assert.equal(got.SecretData, BIG);
      assert.deepEqual(got.VersionStages.VersionStage, ['ACSCurrent']);

      const put = await kms().call('PutSecretValue', { SecretName: name, VersionId: 'v2', SecretData: 'next' });
      assert.deepEqual(put.VersionStages.VersionStage, ['ACSCurrent']);
      const prev = await kms().call('GetSecretValue', { SecretName: made.Arn, VersionStage: 'ACSPrevious' });
      assert.deepEqual([prev.SecretData, prev.VersionId], [BIG, 'v1']);

      const listed = await kms().call('ListSecretVersionIds', { SecretName: name });
      assert.deepEqual(listed.VersionIds.VersionId.map((v) => v.VersionId), ['v2', 'v1']);
      const described = await kms().call('DescribeSecret', { SecretName: name });
      assert.equal(described.SecretName, name);
      assert.equal(described.SecretData, undefined);
    });

    it('answers the documented errors', async () => {
      const name = `node-err/${unique()}`;
      await kms().call('CreateSecret', { SecretName: name, VersionId: 'v1', SecretData: 'one' });
      await expectError(kms(), 'CreateSecret', { SecretName: name, VersionId: 'v1', SecretData: 'x' },
        'Rejected.ResourceExist', 409);
      await expectError(kms(), 'PutSecretValue', { SecretName: name, VersionId: 'v1', SecretData: 'two' },
        'Rejected.ResourceExist', 409);
      await expectError(kms(), 'GetSecretValue', { SecretName: `${name}-absent` }, 'Forbidden.ResourceNotFound', 404);
      const key = (await createKey(kms())).KeyId;
      const guarded = `node-key/${unique()}`;
      await kms().call('CreateSecret', { SecretName: guarded, VersionId: 'v1', SecretData: 'g', EncryptionKeyId: key });
      await kms().call('DisableKey', { KeyId: key });
      await expectError(kms(), 'GetSecretValue', { SecretName: guarded }, 'Rejected.Disabled', 409);
    });
  });
}
