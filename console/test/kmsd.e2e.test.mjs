// End to end against a real kmsd, through the console's own signedCall.
// Uses $KMSD_BIN, else the workspace's target/debug/kmsd (`cargo build` first): a missing
// binary fails the test, it is never skipped.
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { signedCall, signRequest, acsDate, newNonce } from '../src/sign.js';
import { textToBase64, base64ToText } from '../src/b64.js';

const BIN = process.env.KMSD_BIN || fileURLToPath(new URL('../../target/debug/kmsd', import.meta.url));
const ID = 'LTAIconsoleTest00001';
const SECRET = 'console-secret-0123456789';
const creds = { accessKeyId: ID, accessKeySecret: SECRET };

async function startKmsd(dir) {
  const child = spawn(BIN, ['--listen', '127.0.0.1:0', '--data-dir', join(dir, 'data'), '--log', 'warn'], {
    env: { ...process.env, KMSD_BOOTSTRAP_ACCESS_KEY_ID: ID, KMSD_BOOTSTRAP_ACCESS_KEY_SECRET: SECRET },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  const lines = createInterface({ input: child.stdout });
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`kmsd did not start in 30 s: ${stderr}`)), 30000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`kmsd exited (${code}): ${stderr}`));
    });
    lines.once('line', (line) => {
      clearTimeout(timer);
      const m = /listening on (http:\/\/\S+)/.exec(line);
      if (m) resolve(m[1]);
      else reject(new Error(`unexpected first line: ${line}`));
    });
  });
  const u = new URL(url);
  return { child, opts: { host: u.host, baseUrl: `${u.protocol}//${u.host}` } };
}

test('console signing against a real kmsd', { timeout: 120000 }, async (t) => {
  assert.ok(existsSync(BIN), `no kmsd binary at ${BIN}: cargo build first, or set KMSD_BIN`);
  const dir = mkdtempSync(join(tmpdir(), 'kmsd-console-'));
  const { child, opts } = await startKmsd(dir);
  t.after(() => {
    child.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  });
  const call = (action, params) => signedCall(creds, action, params, opts);
  const fails = async (promise) => {
    try {
      await promise;
    } catch (e) {
      return e;
    }
    assert.fail('expected the call to fail');
  };

  await t.test('ListKeys answers with the Keys/TotalCount shape', async () => {
    const res = await call('ListKeys', { PageNumber: 1, PageSize: 100 });
    assert.ok(res.RequestId);
    assert.ok(Array.isArray(res.Keys.Key));
    assert.equal(typeof res.TotalCount, 'number');
  });

  await t.test('a wrong secret is refused, and the server signed the same string we did', async () => {
    const bad = { accessKeyId: ID, accessKeySecret: 'not-the-secret' };
    const date = acsDate();
    const nonce = newNonce();
    const mine = await signRequest(bad, 'ListKeys', { PageSize: 10 }, { host: opts.host, date, nonce });
    const e = await fails(signedCall(bad, 'ListKeys', { PageSize: 10 }, { ...opts, date, nonce }));
    assert.ok(['SignatureDoesNotMatch', 'IncompleteSignature'].includes(e.code), e.code);
    assert.equal(e.code, 'SignatureDoesNotMatch');
    assert.equal(e.status, 400);
    assert.ok(e.requestId);
    assert.ok(e.message.endsWith(mine.stringToSign), `server: ${e.message}\nours: ${mine.stringToSign}`);
  });

  await t.test('an unknown AccessKeyId is refused', async () => {
    const e = await fails(signedCall({ accessKeyId: 'LTAInobody', accessKeySecret: 'x' }, 'ListKeys', {}, opts));
    assert.equal(e.code, 'InvalidAccessKeyId.NotFound');
  });

  let keyId;
  await t.test('CreateKey, Encrypt, Decrypt round trip', async () => {
    const created = await call('CreateKey', { Description: 'console e2e', KeySpec: 'Aliyun_AES_256', KeyUsage: 'ENCRYPT/DECRYPT', EnableAutomaticRotation: 'true', RotationInterval: '8640000s' });
    keyId = created.KeyMetadata.KeyId;
    assert.ok(keyId);
    const d = await call('DescribeKey', { KeyId: keyId });
    assert.equal(d.KeyMetadata.KeyState, 'Enabled');
    assert.match(d.KeyMetadata.Arn, /^acs:kms:/);
    const text = 'héllo wörld + / = & ?';
    const enc = await call('Encrypt', { KeyId: keyId, Plaintext: textToBase64(text) });
    assert.ok(enc.CiphertextBlob);
    const dec = await call('Decrypt', { CiphertextBlob: enc.CiphertextBlob });
    assert.equal(base64ToText(dec.Plaintext), text);
    const versions = await call('ListKeyVersions', { KeyId: keyId, PageNumber: 1, PageSize: 20 });
    const v = versions.KeyVersions.KeyVersion[0];
    const dv = await call('DescribeKeyVersion', { KeyId: keyId, KeyVersionId: v.KeyVersionId });
    assert.equal(dv.KeyVersion.EncryptCount, 1);
    assert.equal(dv.KeyVersion.DecryptCount, 1);
  });

  await t.test('tags, aliases and filters with JSON parameters', async () => {
    await call('TagResource', { KeyId: keyId, Tags: JSON.stringify([{ TagKey: 'team', TagValue: 'a/b+c=d:e@f' }]) });
    const tags = await call('ListResourceTags', { KeyId: keyId });
    assert.deepEqual(tags.Tags.Tag.map((x) => [x.TagKey, x.TagValue]), [['team', 'a/b+c=d:e@f']]);
    await call('UntagResource', { KeyId: keyId, TagKeys: JSON.stringify(['team']) });
    await call('CreateAlias', { AliasName: 'alias/console-e2e', KeyId: keyId });
    const aliases = await call('ListAliasesByKeyId', { KeyId: keyId });
    assert.equal(aliases.Aliases.Alias[0].AliasName, 'alias/console-e2e');
    const filtered = await call('ListKeys', { PageNumber: 1, PageSize: 10, Filters: JSON.stringify([{ Key: 'KeyState', Values: ['Enabled'] }, { Key: 'KeySpec', Values: ['Aliyun_AES_256'] }]) });
    assert.ok(filtered.Keys.Key.some((k) => k.KeyId === keyId));
  });

  await t.test('a disabled key refuses Encrypt with Rejected.Disabled', async () => {
    await call('DisableKey', { KeyId: keyId });
    const e = await fails(call('Encrypt', { KeyId: keyId, Plaintext: textToBase64('x') }));
    assert.equal(e.code, 'Rejected.Disabled');
    assert.equal(e.status, 409);
    assert.ok(e.requestId);
    assert.ok(e.message);
    await call('EnableKey', { KeyId: keyId });
  });

  await t.test('secrets: create, put a new value, read a version', async () => {
    await call('CreateSecret', { SecretName: 'console/e2e', SecretData: 'first value', VersionId: 'v1', SecretDataType: 'text', Description: 'e2e' });
    await call('PutSecretValue', { SecretName: 'console/e2e', VersionId: 'v2', SecretData: 'second ü', VersionStages: '["ACSCurrent"]' });
    const ids = await call('ListSecretVersionIds', { SecretName: 'console/e2e', IncludeDeprecated: 'true' });
    assert.deepEqual(ids.VersionIds.VersionId.map((v) => v.VersionId).sort(), ['v1', 'v2']);
    assert.equal((await call('GetSecretValue', { SecretName: 'console/e2e' })).SecretData, 'second ü');
    assert.equal((await call('GetSecretValue', { SecretName: 'console/e2e', VersionId: 'v1' })).SecretData, 'first value');
    const listed = await call('ListSecrets', { PageNumber: 1, PageSize: 10, FetchTags: 'false' });
    assert.ok(listed.SecretList.Secret.some((x) => x.SecretName === 'console/e2e'));
  });

  await t.test('instances and application access answer empty lists', async () => {
    const inst = await call('ListKmsInstances', { PageNumber: 1, PageSize: 20 });
    assert.equal(inst.TotalCount, 0);
    assert.deepEqual(inst.KmsInstances.KmsInstance, []);
    for (const [a, o, i] of [['ListApplicationAccessPoints', 'ApplicationAccessPoints', 'ApplicationAccessPoint'], ['ListPolicies', 'Policies', 'Policy'], ['ListNetworkRules', 'NetworkRules', 'NetworkRule']]) {
      const r = await call(a, { PageNumber: 1, PageSize: 20 });
      assert.ok(Array.isArray(r[o][i]), a);
    }
  });

  await t.test('a policy that denies an action gives Forbidden.NoPermission', async () => {
    const policy = join(dir, 'ro.json');
    writeFileSync(policy, JSON.stringify({ Version: '1', Statement: [{ Effect: 'Allow', Action: ['kms:List*', 'kms:Describe*'], Resource: '*' }] }));
    const out = execFileSync(BIN, ['admin', '--data-dir', join(dir, 'data'), '--log', 'warn', 'access-key', 'create', '--name', 'readonly', '--policy', policy], { encoding: 'utf8' });
    const id = /AccessKeyId:\s*(\S+)/.exec(out)[1];
    const secret = /AccessKeySecret:\s*(\S+)/.exec(out)[1];
    const ro = { accessKeyId: id, accessKeySecret: secret };
    // Running nodes pick new keys up within a second.
    let listed = null;
    for (let i = 0; i < 40 && !listed; i += 1) {
      listed = await signedCall(ro, 'ListKeys', {}, opts).catch(() => null);
      if (!listed) await new Promise((r) => setTimeout(r, 250));
    }
    assert.ok(listed, 'the read-only key can list');
    const e = await fails(signedCall(ro, 'DisableKey', { KeyId: keyId }, opts));
    assert.equal(e.code, 'Forbidden.NoPermission');
    assert.equal(e.status, 403);
  });
});
