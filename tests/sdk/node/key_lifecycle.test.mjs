// Key states, deletion protection, versions and rotation through every Node client mode:
// UpdateKeyDescription, EnableKey, DisableKey, ScheduleKeyDeletion, CancelKeyDeletion,
// SetDeletionProtection, CreateKeyVersion, DescribeKeyVersion, ListKeyVersions and
// UpdateRotationPolicy (spec §7.2), against the key-state matrix of spec §5.4; rotation and
// destruction on schedule through kmsd's --dev-clock.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import {
  DATE_RE, MODES, UUID_RE,
  assertRequestId, b64, createAlias, createKey, expectError, listAll, randomUuid, startKmsd, unb64, unique,
} from './helpers.mjs';

const DAY = 86_400;
const DAY_MS = DAY * 1000;
const SLACK_MS = 60_000; // between the test's clock and kmsd's

let server;
before(async () => { server = await startKmsd(); });

const withoutUsage = ({ EncryptCount, DecryptCount, LastUsedDate, ...rest }) => rest;
after(async () => { await server?.stop(); });

async function ok(kms, action, params) {
  const body = await kms.call(action, params);
  assertRequestId(body);
  return body;
}

const describeKey = async (kms, keyRef) => (await ok(kms, 'DescribeKey', { KeyId: keyRef })).KeyMetadata;
const encrypt = async (kms, keyRef, text = 'data') => ok(kms, 'Encrypt', { KeyId: keyRef, Plaintext: b64(text) });
async function decrypt(kms, blob) {
  const body = await ok(kms, 'Decrypt', { CiphertextBlob: blob });
  return [body.KeyVersionId, unb64(body.Plaintext).toString()];
}
function dateMs(value) {
  assert.match(value, DATE_RE);
  return Date.parse(value);
}
const assertNear = (value, expectedMs) =>
  assert.ok(Math.abs(dateMs(value) - expectedMs) < SLACK_MS, `${value} vs ${new Date(expectedMs).toISOString()}`);

// The §5.4 row refused with Rejected.<KeyState> unless the key is Enabled.
const useCalls = (keyId, blob) => [
  ['Encrypt', { KeyId: keyId, Plaintext: b64('x') }],
  ['Decrypt', { CiphertextBlob: blob }],
  ['GenerateDataKey', { KeyId: keyId }],
  ['GenerateDataKeyWithoutPlaintext', { KeyId: keyId }],
  ['ReEncrypt', { CiphertextBlob: blob, DestinationKeyId: keyId }],
  ['CreateKeyVersion', { KeyId: keyId }],
  ['UpdateRotationPolicy', { KeyId: keyId, EnableAutomaticRotation: true, RotationInterval: '30d' }],
];
// The §5.4 row allowed in every key state.
const readCalls = (keyId, versionId) => [
  ['DescribeKey', { KeyId: keyId }],
  ['DescribeKeyVersion', { KeyId: keyId, KeyVersionId: versionId }],
  ['ListKeyVersions', { KeyId: keyId }],
  ['ListResourceTags', { KeyId: keyId }],
];
const TAGS = JSON.stringify([{ TagKey: 'team', TagValue: 'pay' }]);

const KEY_ACTIONS = {
  UpdateKeyDescription: { Description: 'x' },
  EnableKey: {},
  DisableKey: {},
  ScheduleKeyDeletion: { PendingWindowInDays: 7 },
  CancelKeyDeletion: {},
  CreateKeyVersion: {},
  DescribeKeyVersion: { KeyVersionId: randomUuid() },
  ListKeyVersions: {},
  UpdateRotationPolicy: { EnableAutomaticRotation: false },
};

/** A fresh --dev-clock server per test, so the job counts it reports are exact. */
async function withDevServer(fn) {
  const dev = await startKmsd(['--dev-clock']);
  try {
    await fn(dev);
  } finally {
    await dev.stop();
  }
}

for (const mode of MODES) {
  describe(mode, () => {
    const kms = () => server.client(mode);
    // @alicloud/kms20160120 1.2.0's KeyMetadata model has no DeletionProtection fields (they are
    // dropped from its typed response): read them through openapi-client for that mode.
    const protectionOf = async (keyId) => {
      const md = await describeKey(server.client(mode === 'tea-rpc' ? 'openapi-v3' : mode), keyId);
      return [md.DeletionProtection, md.DeletionProtectionDescription];
    };

    it('UpdateKeyDescription by id, alias and ARN; an empty Description clears it', async () => {
      const md = await createKey(kms(), { Description: 'first' });
      const alias = await createAlias(kms(), md.KeyId);
      for (const ref of [md.KeyId, alias, md.Arn]) {
        await ok(kms(), 'UpdateKeyDescription', { KeyId: ref, Description: `set via ${ref}` });
        assert.equal((await describeKey(kms(), md.KeyId)).Description, `set via ${ref}`);
      }
      await ok(kms(), 'UpdateKeyDescription', { KeyId: md.KeyId, Description: '' });
      assert.equal((await describeKey(kms(), md.KeyId)).Description ?? '', '');
      await expectError(kms(), 'UpdateKeyDescription', { KeyId: md.KeyId }, 'MissingParameter', 400);
    });

    it('a Disabled key refuses use and allows reads; Enable/Disable are idempotent', async () => {
      const md = await createKey(kms());
      const key = md.KeyId;
      const alias = await createAlias(kms(), key);
      const blob = (await encrypt(kms(), key)).CiphertextBlob;
      await ok(kms(), 'EnableKey', { KeyId: key }); // no-op on an Enabled key
      assert.equal((await describeKey(kms(), key)).KeyState, 'Enabled');
      await ok(kms(), 'DisableKey', { KeyId: alias });
      await ok(kms(), 'DisableKey', { KeyId: md.Arn }); // no-op on a Disabled key
      assert.equal((await describeKey(kms(), key)).KeyState, 'Disabled');
      for (const [action, params] of useCalls(key, blob)) {
        await expectError(kms(), action, params, 'Rejected.Disabled', 409);
      }
      for (const [action, params] of readCalls(key, md.PrimaryKeyVersion)) await ok(kms(), action, params);
      await ok(kms(), 'UpdateKeyDescription', { KeyId: key, Description: 'while disabled' });
      await ok(kms(), 'TagResource', { KeyId: key, Tags: TAGS });
      await createAlias(kms(), key);
      await expectError(kms(), 'CancelKeyDeletion', { KeyId: key }, 'Rejected.StateModifiedFailed', 409);

      await ok(kms(), 'EnableKey', { KeyId: alias });
      await ok(kms(), 'EnableKey', { KeyId: key });
      const back = await describeKey(kms(), key);
      assert.deepEqual([back.KeyState, back.Description, back.PrimaryKeyVersion],
        ['Enabled', 'while disabled', md.PrimaryKeyVersion]);
      assert.deepEqual(await decrypt(kms(), blob), [md.PrimaryKeyVersion, 'data']);

      // Disabled → PendingDeletion → CancelKeyDeletion → Enabled (spec §5.4)
      await ok(kms(), 'DisableKey', { KeyId: key });
      await ok(kms(), 'ScheduleKeyDeletion', { KeyId: key, PendingWindowInDays: 30 });
      await ok(kms(), 'CancelKeyDeletion', { KeyId: key });
      assert.equal((await describeKey(kms(), key)).KeyState, 'Enabled');
    });

    it('a PendingDeletion key: DeleteDate, refusals, CancelKeyDeletion', async () => {
      const md = await createKey(kms());
      const key = md.KeyId;
      const alias = await createAlias(kms(), key);
      const blob = (await encrypt(kms(), key)).CiphertextBlob;
      const scheduledAt = Date.now();
      await ok(kms(), 'ScheduleKeyDeletion', { KeyId: alias, PendingWindowInDays: 7 });
      const pending = await describeKey(kms(), key);
      assert.equal(pending.KeyState, 'PendingDeletion');
      assertNear(pending.DeleteDate, scheduledAt + 7 * DAY_MS);

      for (const [action, params] of useCalls(key, blob)) {
        await expectError(kms(), action, params, 'Rejected.PendingDeletion', 409);
      }
      for (const [action, params] of readCalls(key, md.PrimaryKeyVersion)) await ok(kms(), action, params);
      for (const [action, params, code] of [
        ['EnableKey', { KeyId: key }, 'Rejected.StateModifiedFailed'],
        ['DisableKey', { KeyId: key }, 'Rejected.StateModifiedFailed'],
        ['ScheduleKeyDeletion', { KeyId: key, PendingWindowInDays: 30 }, 'Rejected.StateModifiedFailed'],
        ['CreateAlias', { AliasName: `alias/sdk-node-${unique()}`, KeyId: key }, 'Rejected.StateModifiedFailed'],
        ['UpdateKeyDescription', { KeyId: key, Description: 'x' }, 'Rejected.PendingDeletion'],
        ['TagResource', { KeyId: key, Tags: TAGS }, 'Rejected.PendingDeletion'],
        ['SetDeletionProtection', { ProtectedResourceArn: md.Arn, EnableDeletionProtection: true }, 'Rejected.PendingDeletion'],
      ]) {
        await expectError(kms(), action, params, code, 409);
      }
      assert.equal((await describeKey(kms(), key)).DeleteDate, pending.DeleteDate);

      await ok(kms(), 'CancelKeyDeletion', { KeyId: md.Arn });
      const cancelled = await describeKey(kms(), key);
      assert.equal(cancelled.KeyState, 'Enabled');
      assert.ok(!cancelled.DeleteDate, JSON.stringify(cancelled));
      await expectError(kms(), 'CancelKeyDeletion', { KeyId: key }, 'Rejected.StateModifiedFailed', 409);
      assert.deepEqual(await decrypt(kms(), blob), [md.PrimaryKeyVersion, 'data']);
    });

    it('ScheduleKeyDeletion window: 7 and 366 accepted; 6, 367, 0 and none refused', async () => {
      for (const days of [7, 366]) {
        const key = (await createKey(kms())).KeyId;
        const scheduledAt = Date.now();
        await ok(kms(), 'ScheduleKeyDeletion', { KeyId: key, PendingWindowInDays: days });
        assertNear((await describeKey(kms(), key)).DeleteDate, scheduledAt + days * DAY_MS);
      }
      const key = (await createKey(kms())).KeyId;
      for (const days of [6, 367, 0]) {
        await expectError(kms(), 'ScheduleKeyDeletion', { KeyId: key, PendingWindowInDays: days }, 'InvalidParameter', 400);
      }
      await expectError(kms(), 'ScheduleKeyDeletion', { KeyId: key }, 'MissingParameter', 400);
      assert.equal((await describeKey(kms(), key)).KeyState, 'Enabled');
    });

    // @alicloud/kms20160120 1.2.0 has no SetDeletionProtection method: the adapter uses its doRequest
    it('SetDeletionProtection blocks ScheduleKeyDeletion until turned off', async () => {
      const md = await createKey(kms());
      await ok(kms(), 'SetDeletionProtection', {
        ProtectedResourceArn: md.Arn, EnableDeletionProtection: true, DeletionProtectionDescription: 'used by billing',
      });
      assert.deepEqual(await protectionOf(md.KeyId), ['Enabled', 'used by billing']);
      await expectError(kms(), 'ScheduleKeyDeletion', { KeyId: md.KeyId, PendingWindowInDays: 7 },
        'Rejected.UnsupportedOperation', 400);
      assert.equal((await describeKey(kms(), md.KeyId)).KeyState, 'Enabled');
      await ok(kms(), 'SetDeletionProtection', { ProtectedResourceArn: md.Arn, EnableDeletionProtection: false });
      assert.equal((await protectionOf(md.KeyId))[0], 'Disabled');
      await ok(kms(), 'ScheduleKeyDeletion', { KeyId: md.KeyId, PendingWindowInDays: 7 });
      assert.equal((await describeKey(kms(), md.KeyId)).KeyState, 'PendingDeletion');

      await expectError(kms(), 'SetDeletionProtection', { ProtectedResourceArn: md.Arn }, 'MissingParameter', 400);
      await expectError(kms(), 'SetDeletionProtection', { EnableDeletionProtection: true }, 'MissingParameter', 400);
      await expectError(kms(), 'SetDeletionProtection',
        { ProtectedResourceArn: md.Arn.replace(/[^/]+$/, randomUuid()), EnableDeletionProtection: true },
        'Forbidden.KeyNotFound', 404);
    });

    it('key versions: create, describe, list newest first; old ciphertext decrypts', async () => {
      const md = await createKey(kms());
      const [key, first] = [md.KeyId, md.PrimaryKeyVersion];
      const alias = await createAlias(kms(), key);
      const old = (await encrypt(kms(), key, 'old')).CiphertextBlob;

      const made = (await ok(kms(), 'CreateKeyVersion', { KeyId: alias })).KeyVersion;
      assert.equal(made.KeyId, key);
      assert.match(made.KeyVersionId, UUID_RE);
      assertNear(made.CreationDate, Date.now());
      const second = made.KeyVersionId;
      assert.equal((await describeKey(kms(), key)).PrimaryKeyVersion, second);
      assert.equal((await encrypt(kms(), key)).KeyVersionId, second);
      const third = (await ok(kms(), 'CreateKeyVersion', { KeyId: md.Arn })).KeyVersion.KeyVersionId;
      assert.equal(new Set([first, second, third]).size, 3);
      assert.equal((await describeKey(kms(), key)).PrimaryKeyVersion, third);
      const fresh = await encrypt(kms(), key, 'new');
      assert.equal(fresh.KeyVersionId, third);
      assert.deepEqual(await decrypt(kms(), old), [first, 'old']);
      assert.deepEqual(await decrypt(kms(), fresh.CiphertextBlob), [third, 'new']);

      const { items, total } = await listAll(kms(), 'ListKeyVersions', 'KeyVersions', 'KeyVersion', { KeyId: key }, 2);
      assert.equal(total, 3);
      assert.deepEqual(items.map((v) => v.KeyVersionId), [third, second, first]);
      for (const v of items) {
        assert.equal(v.KeyId, key);
        assertNear(v.CreationDate, Date.now());
        const got = (await ok(kms(), 'DescribeKeyVersion', { KeyId: alias, KeyVersionId: v.KeyVersionId })).KeyVersion;
        // Usage counters are live: each node adds its own unflushed uses, and the others'
        // arrive with the next flush (every few seconds), so only the metadata must agree.
        assert.deepEqual(withoutUsage(got), withoutUsage(v));
      }
      const page = await ok(kms(), 'ListKeyVersions', { KeyId: key });
      assert.deepEqual([page.PageNumber, page.PageSize, page.TotalCount].map(Number), [1, 10, 3]);

      const other = await createKey(kms());
      for (const version of [randomUuid(), other.PrimaryKeyVersion]) { // unknown, or another key's
        await expectError(kms(), 'DescribeKeyVersion', { KeyId: key, KeyVersionId: version },
          'Forbidden.KeyVersionNotFound', 404);
      }
      await expectError(kms(), 'DescribeKeyVersion', { KeyId: key }, 'MissingParameter', 400);
    });

    it('UpdateRotationPolicy: intervals, Suspended while Disabled, turning it off', async () => {
      const md = await createKey(kms(), { EnableAutomaticRotation: true, RotationInterval: '7d' });
      const key = md.KeyId;
      assert.deepEqual([md.AutomaticRotation, md.RotationInterval], ['Enabled', '604800s']);
      let got = await describeKey(kms(), key);
      assert.deepEqual([got.AutomaticRotation, got.RotationInterval], ['Enabled', '604800s']);
      assertNear(got.LastRotationDate, Date.now());
      const last = dateMs(got.LastRotationDate);
      assert.equal(dateMs(got.NextRotationDate), last + 7 * DAY_MS); // §6.8: LastRotationDate + interval

      await ok(kms(), 'UpdateRotationPolicy', { KeyId: key, EnableAutomaticRotation: true, RotationInterval: '30d' });
      got = await describeKey(kms(), key);
      assert.deepEqual([got.AutomaticRotation, got.RotationInterval], ['Enabled', '2592000s']);
      assert.equal(dateMs(got.NextRotationDate), last + 30 * DAY_MS);
      for (const [interval, seconds] of [['168h', 604_800], ['10080m', 604_800], ['604800s', 604_800], ['730d', 63_072_000]]) {
        await ok(kms(), 'UpdateRotationPolicy', { KeyId: key, EnableAutomaticRotation: true, RotationInterval: interval });
        assert.equal((await describeKey(kms(), key)).RotationInterval, `${seconds}s`, interval);
      }

      await ok(kms(), 'DisableKey', { KeyId: key });
      got = await describeKey(kms(), key);
      assert.deepEqual([got.AutomaticRotation, got.RotationInterval], ['Suspended', '63072000s']);
      assert.ok(got.NextRotationDate);
      await ok(kms(), 'EnableKey', { KeyId: key });
      assert.equal((await describeKey(kms(), key)).AutomaticRotation, 'Enabled');

      await ok(kms(), 'UpdateRotationPolicy', { KeyId: key, EnableAutomaticRotation: false });
      got = await describeKey(kms(), key);
      assert.equal(got.AutomaticRotation, 'Disabled');
      assert.ok(!got.RotationInterval && !got.NextRotationDate, JSON.stringify(got));

      await expectError(kms(), 'UpdateRotationPolicy', { KeyId: key, EnableAutomaticRotation: true }, 'MissingParameter', 400);
      await expectError(kms(), 'UpdateRotationPolicy', { KeyId: key, RotationInterval: '30d' }, 'MissingParameter', 400);
      await expectError(kms(), 'CreateKey', { EnableAutomaticRotation: true }, 'MissingParameter', 400);
      for (const bad of ['6d', '731d', '604799s', '7', '7w']) {
        await expectError(kms(), 'UpdateRotationPolicy', { KeyId: key, EnableAutomaticRotation: true, RotationInterval: bad },
          'InvalidParameter', 400);
        await expectError(kms(), 'CreateKey', { EnableAutomaticRotation: true, RotationInterval: bad }, 'InvalidParameter', 400);
      }
      assert.equal((await describeKey(kms(), key)).AutomaticRotation, 'Disabled');
    });

    it('missing, unknown and unknown-alias KeyId for every action', async () => {
      for (const [action, params] of Object.entries(KEY_ACTIONS)) {
        await expectError(kms(), action, params, 'MissingParameter', 400);
        await expectError(kms(), action, { ...params, KeyId: randomUuid() }, 'Forbidden.KeyNotFound', 404);
        await expectError(kms(), action, { ...params, KeyId: 'alias/sdk-nope' }, 'Forbidden.AliasNotFound', 404);
      }
    });

    it('rotates on the dev clock, not while Disabled', () => withDevServer(async (dev) => {
      const c = dev.client(mode);
      const md = await createKey(c, { EnableAutomaticRotation: true, RotationInterval: '7d' });
      const [key, first] = [md.KeyId, md.PrimaryKeyVersion];
      const paused = await createKey(c, { EnableAutomaticRotation: true, RotationInterval: '7d' });
      await ok(c, 'DisableKey', { KeyId: paused.KeyId });
      const old = (await encrypt(c, key, 'before rotation')).CiphertextBlob;

      let tick = await dev.advanceClock(7 * DAY - 60);
      assert.deepEqual([tick.Rotated, tick.Destroyed], [0, 0]);
      assert.equal((await describeKey(c, key)).PrimaryKeyVersion, first);
      tick = await dev.advanceClock(120);
      assert.deepEqual([tick.Rotated, tick.Destroyed], [1, 0]);

      const got = await describeKey(c, key);
      const second = got.PrimaryKeyVersion;
      assert.match(second, UUID_RE);
      assert.notEqual(second, first);
      assertNear(got.LastRotationDate, dateMs(tick.Now));
      assert.equal(dateMs(got.NextRotationDate), dateMs(got.LastRotationDate) + 7 * DAY_MS);
      const listed = await ok(c, 'ListKeyVersions', { KeyId: key });
      assert.equal(Number(listed.TotalCount), 2);
      assert.deepEqual(listed.KeyVersions.KeyVersion.map((v) => v.KeyVersionId), [second, first]);
      assert.equal((await encrypt(c, key)).KeyVersionId, second);
      assert.deepEqual(await decrypt(c, old), [first, 'before rotation']);

      const still = await describeKey(c, paused.KeyId);
      assert.deepEqual([still.AutomaticRotation, still.PrimaryKeyVersion], ['Suspended', paused.PrimaryKeyVersion]);
    }));

    it('destroys on the dev clock: key, ciphertexts and aliases gone; a cancelled key survives', () => withDevServer(async (dev) => {
      const c = dev.client(mode);
      const doomed = (await createKey(c)).KeyId;
      const alias = await createAlias(c, doomed);
      const spared = (await createKey(c)).KeyId;
      const blob = (await encrypt(c, doomed, 'doomed')).CiphertextBlob;
      const sparedBlob = (await encrypt(c, spared, 'spared')).CiphertextBlob;
      for (const key of [doomed, spared]) await ok(c, 'ScheduleKeyDeletion', { KeyId: key, PendingWindowInDays: 7 });
      await ok(c, 'CancelKeyDeletion', { KeyId: spared });
      const deleteDate = dateMs((await describeKey(c, doomed)).DeleteDate);

      let tick = await dev.advanceClock(7 * DAY - 60);
      assert.deepEqual([tick.Destroyed, tick.Rotated], [0, 0]);
      assert.equal((await describeKey(c, doomed)).KeyState, 'PendingDeletion');
      tick = await dev.advanceClock(120);
      assert.deepEqual([tick.Destroyed, tick.Rotated], [1, 0]);
      assert.ok(dateMs(tick.Now) >= deleteDate);

      await expectError(c, 'DescribeKey', { KeyId: doomed }, 'Forbidden.KeyNotFound', 404);
      await expectError(c, 'Decrypt', { CiphertextBlob: blob }, 'Forbidden.KeyNotFound', 404);
      await expectError(c, 'CancelKeyDeletion', { KeyId: doomed }, 'Forbidden.KeyNotFound', 404);
      await expectError(c, 'DescribeKey', { KeyId: alias }, 'Forbidden.AliasNotFound', 404);
      const keys = (await listAll(c, 'ListKeys', 'Keys', 'Key')).items;
      assert.ok(!keys.some((k) => k.KeyId === doomed));
      const aliases = (await listAll(c, 'ListAliases', 'Aliases', 'Alias')).items;
      assert.ok(!aliases.some((a) => a.AliasName === alias));
      await createAlias(c, spared, alias); // the destroyed key's alias name is free again

      assert.equal((await describeKey(c, spared)).KeyState, 'Enabled');
      assert.deepEqual((await decrypt(c, sparedBlob))[1], 'spared');
    }));
  });
}
