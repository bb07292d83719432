// Secrets Manager through every Node client mode: a ~30 KB value (pop-core GET puts it in the
// query string), reads by stage, version and ARN, new versions, version lists, metadata, stage
// moves, deletion with a recovery window, restore, passwords, listing, batch reads and errors.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { MODES, assertRequestId, createKey, expectError, listAll, startKmsd, unique } from './helpers.mjs';

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

    it('moves stages, deletes, restores and makes passwords', async () => {
      const name = `node-life/${unique()}`;
      await kms().call('CreateSecret', { SecretName: name, VersionId: 'v1', SecretData: 'one' });
      await kms().call('PutSecretValue', { SecretName: name, VersionId: 'v2', SecretData: 'two' });
      await kms().call('UpdateSecretVersionStage', { SecretName: name, VersionStage: 'ACSCurrent',
        MoveToVersion: 'v1', RemoveFromVersion: 'v2' });
      assert.equal((await kms().call('GetSecretValue', { SecretName: name })).SecretData, 'one');
      const v2 = await kms().call('GetSecretValue', { SecretName: name, VersionId: 'v2' });
      assert.deepEqual(v2.VersionStages.VersionStage, ['ACSPrevious']);
      await expectError(kms(), 'UpdateSecretVersionStage', { SecretName: name, VersionStage: 'ACSCurrent',
        MoveToVersion: 'v2', RemoveFromVersion: 'v2' }, 'Rejected.InvalidRequest', 400);
      await kms().call('UpdateSecret', { SecretName: name, Description: 'updated' });
      assert.equal((await kms().call('DescribeSecret', { SecretName: name })).Description, 'updated');

      const deleted = await kms().call('DeleteSecret', { SecretName: name, RecoveryWindowInDays: '7' });
      assert.equal(deleted.SecretName, name);
      assert.match(deleted.PlannedDeleteTime, /Z$/);
      await expectError(kms(), 'GetSecretValue', { SecretName: name }, 'Rejected.ResourceInDeleteWindow', 409);
      await expectError(kms(), 'PutSecretValue', { SecretName: name, VersionId: 'v3', SecretData: 'x' },
        'Rejected.ResourceInDeleteWindow', 409);
      await kms().call('RestoreSecret', { SecretName: name });
      await expectError(kms(), 'RestoreSecret', { SecretName: name }, 'Rejected.ResourceInUse', 409);
      assert.equal((await kms().call('GetSecretValue', { SecretName: name })).SecretData, 'one');
      await kms().call('DeleteSecret', { SecretName: name, ForceDeleteWithoutRecovery: 'true' });
      await expectError(kms(), 'DescribeSecret', { SecretName: name }, 'Forbidden.ResourceNotFound', 404);

      const { RandomPassword: password } = await kms().call('GetRandomPassword', {
        PasswordLength: '40', ExcludePunctuation: 'true', RequireEachIncludedType: 'true' });
      assert.equal(password.length, 40);
      assert.match(password, /^[A-Za-z0-9]+$/);
      assert.match(password, /[a-z]/);
      assert.match(password, /[A-Z]/);
      assert.match(password, /[0-9]/);
      await expectError(kms(), 'RotateSecret', { SecretName: `node-life/${unique()}`, VersionId: 'v9' },
        'Forbidden.ResourceNotFound', 404);
    });

    it('lists secrets with filters and tags, and reads a batch', async () => {
      const u = unique();
      const names = [0, 1, 2].map((i) => `node-list/${u}/${i}`);
      for (const [i, name] of names.entries()) {
        await kms().call('CreateSecret', { SecretName: name, VersionId: 'v1', SecretData: `value ${i}`,
          Tags: JSON.stringify([{ TagKey: 'team', TagValue: i === 1 ? 'blue' : 'red' }]) });
      }
      const wanted = JSON.stringify([{ SecretName: names[0] }, { SecretName: names[2] },
        { SecretName: `${names[0]}-absent` }]);
      const batch = await kms().call('BatchGetSecretValue', { SecretsList: wanted });
      assert.deepEqual(batch.SecretValues.map((v) => v.SecretData), ['value 0', 'value 2']);
      assert.deepEqual(batch.Errors.map((e) => [e.SecretName, e.Code]),
        [[`${names[0]}-absent`, 'Forbidden.ResourceNotFound']]);

      if (mode === 'tea-rpc') {
        // @alicloud/kms20160120 1.2.0's ListSecretsRequest has no Filters: page through everything
        const { items } = await listAll(kms(), 'ListSecrets', 'SecretList', 'Secret', { FetchTags: 'true' }, 2);
        const ours = items.filter((s) => s.SecretName.startsWith(`node-list/${u}/`));
        assert.deepEqual(ours.map((s) => s.SecretName), names);
        assert.deepEqual(ours[1].Tags.Tag, [{ TagKey: 'team', TagValue: 'blue' }]);
        return;
      }
      const byName = JSON.stringify([{ Key: 'SecretName', Values: [`node-list/${u}/`] }]);
      const page = await kms().call('ListSecrets', { Filters: byName, PageSize: '2', FetchTags: 'true' });
      assert.equal(Number(page.TotalCount), 3);
      assert.deepEqual(page.SecretList.Secret.map((s) => s.SecretName), names.slice(0, 2));
      assert.deepEqual(page.SecretList.Secret[1].Tags.Tag, [{ TagKey: 'team', TagValue: 'blue' }]);
      const blue = JSON.stringify([{ Key: 'SecretName', Values: [`node-list/${u}/`] },
        { Key: 'TagValue', Values: ['blue'] }]);
      const tagged = await kms().call('ListSecrets', { Filters: blue });
      assert.deepEqual(tagged.SecretList.Secret.map((s) => s.SecretName), [names[1]]);
    });
  });
}
