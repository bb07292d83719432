// Key states, versions and rotation through every Node client mode; rotation and deletion on
// schedule through kmsd's --dev-clock.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { MODES, assertRequestId, b64, createKey, expectError, randomUuid, startKmsd, unb64 } from './helpers.mjs';

const DAY = 86_400;
let server;
let devServer;
before(async () => {
  server = await startKmsd();
  devServer = await startKmsd(['--dev-clock']);
});
after(async () => {
  await server?.stop();
  await devServer?.stop();
});

const describeKey = async (kms, keyId) => (await kms.call('DescribeKey', { KeyId: keyId })).KeyMetadata;

async function advance(s, seconds) {
  const res = await fetch(`${s.url}/-/clock/advance?seconds=${seconds}`, { method: 'POST' });
  assert.equal(res.status, 200);
  return res.json();
}

for (const mode of MODES) {
  describe(mode, () => {
    const kms = () => server.client(mode);

    it('disables, enables, schedules and cancels deletion', async () => {
      const key = (await createKey(kms())).KeyId;
      assertRequestId(await kms().call('UpdateKeyDescription', { KeyId: key, Description: 'node' }));
      assert.equal((await describeKey(kms(), key)).Description, 'node');
      await kms().call('DisableKey', { KeyId: key });
      await expectError(kms(), 'Encrypt', { KeyId: key, Plaintext: b64('x') }, 'Rejected.Disabled', 409);
      await kms().call('EnableKey', { KeyId: key });
      await kms().call('ScheduleKeyDeletion', { KeyId: key, PendingWindowInDays: 7 });
      const md = await describeKey(kms(), key);
      assert.equal(md.KeyState, 'PendingDeletion');
      assert.match(md.DeleteDate, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
      await expectError(kms(), 'EnableKey', { KeyId: key }, 'Rejected.StateModifiedFailed', 409);
      await kms().call('CancelKeyDeletion', { KeyId: key });
      assert.equal((await describeKey(kms(), key)).KeyState, 'Enabled');
      await expectError(kms(), 'ScheduleKeyDeletion', { KeyId: key, PendingWindowInDays: 6 }, 'InvalidParameter', 400);
    });

    it('protects keys from deletion', async () => {
      const md = await createKey(kms());
      await kms().call('SetDeletionProtection', { ProtectedResourceArn: md.Arn, EnableDeletionProtection: true });
      await expectError(kms(), 'ScheduleKeyDeletion', { KeyId: md.KeyId, PendingWindowInDays: 7 }, 'Rejected.UnsupportedOperation', 400);
      await kms().call('SetDeletionProtection', { ProtectedResourceArn: md.Arn, EnableDeletionProtection: false });
      await kms().call('ScheduleKeyDeletion', { KeyId: md.KeyId, PendingWindowInDays: 7 });
    });

    it('creates, describes and lists versions; old ciphertext decrypts', async () => {
      const md = await createKey(kms());
      const old = await kms().call('Encrypt', { KeyId: md.KeyId, Plaintext: b64('old') });
      const made = (await kms().call('CreateKeyVersion', { KeyId: md.KeyId })).KeyVersion;
      assert.equal((await describeKey(kms(), md.KeyId)).PrimaryKeyVersion, made.KeyVersionId);
      const dec = await kms().call('Decrypt', { CiphertextBlob: old.CiphertextBlob });
      assert.equal(dec.KeyVersionId, md.PrimaryKeyVersion);
      assert.equal(unb64(dec.Plaintext).toString(), 'old');
      const got = (await kms().call('DescribeKeyVersion', { KeyId: md.KeyId, KeyVersionId: md.PrimaryKeyVersion })).KeyVersion;
      assert.equal(got.KeyVersionId, md.PrimaryKeyVersion);
      const listed = await kms().call('ListKeyVersions', { KeyId: md.KeyId });
      assert.deepEqual(listed.KeyVersions.KeyVersion.map((v) => v.KeyVersionId), [made.KeyVersionId, md.PrimaryKeyVersion]);
      await expectError(kms(), 'DescribeKeyVersion', { KeyId: md.KeyId, KeyVersionId: randomUuid() }, 'Forbidden.KeyVersionNotFound', 404);
    });

    it('sets the rotation policy', async () => {
      const key = (await createKey(kms())).KeyId;
      await kms().call('UpdateRotationPolicy', { KeyId: key, EnableAutomaticRotation: true, RotationInterval: '30d' });
      const md = await describeKey(kms(), key);
      assert.equal(md.AutomaticRotation, 'Enabled');
      assert.equal(md.RotationInterval, '2592000s');
      await expectError(kms(), 'UpdateRotationPolicy', { KeyId: key, EnableAutomaticRotation: true, RotationInterval: '731d' },
        'InvalidParameter', 400);
    });

    it('rotates and destroys on the dev clock', async () => {
      const dev = devServer.client(mode);
      const key = (await createKey(dev)).KeyId;
      await dev.call('UpdateRotationPolicy', { KeyId: key, EnableAutomaticRotation: true, RotationInterval: '7d' });
      const first = (await describeKey(dev, key)).PrimaryKeyVersion;
      const old = await dev.call('Encrypt', { KeyId: key, Plaintext: b64('kept') });
      await advance(devServer, 7 * DAY + 60);
      assert.notEqual((await describeKey(dev, key)).PrimaryKeyVersion, first);
      assert.equal(unb64((await dev.call('Decrypt', { CiphertextBlob: old.CiphertextBlob })).Plaintext).toString(), 'kept');
      await dev.call('ScheduleKeyDeletion', { KeyId: key, PendingWindowInDays: 7 });
      await advance(devServer, 7 * DAY + 60);
      await expectError(dev, 'Decrypt', { CiphertextBlob: old.CiphertextBlob }, 'Forbidden.KeyNotFound', 404);
    });
  });
}
