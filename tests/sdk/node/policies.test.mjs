// Identity and key policies through every Node client mode, with access keys made by
// `kmsd admin access-key create --name … --policy …`: an application reaches its own key and
// nothing else; a key policy grants it one more action; refusals are Forbidden.NoPermission 403.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { MODES, b64, createKey, expectError, startKmsd, unb64 } from './helpers.mjs';

let server;
let own;
let other;
let blob;
let app;
before(async () => {
  server = await startKmsd();
  const admin = server.client('openapi-v3');
  own = (await createKey(admin, { Tags: JSON.stringify([{ TagKey: 'app', TagValue: 'node-app' }]) })).KeyId;
  other = (await createKey(admin)).KeyId;
  blob = (await admin.call('Encrypt', { KeyId: other, Plaintext: b64(Buffer.from('other')) })).CiphertextBlob;
  const policy = path.join(server.workdir, 'node-app.json');
  fs.writeFileSync(policy, JSON.stringify({ Version: '1', Statement: [
    { Effect: 'Allow', Action: ['kms:Encrypt', 'kms:Decrypt'], Resource: 'acs:kms:*:*:key/*',
      Condition: { StringEquals: { 'kms:tag/app': 'node-app' } } },
  ] }));
  app = server.admin('create', '--name', 'node-app', '--policy', policy);
  const account = (await admin.call('DescribeKey', { KeyId: other })).KeyMetadata.Arn.split(':')[3];
  await admin.call('SetKeyPolicy', { KeyId: other, Policy: JSON.stringify({ Version: '1', Statement: [
    { Effect: 'Allow', Principal: { RAM: [`acs:ram::${account}:user/node-app`] }, Action: 'kms:Decrypt', Resource: '*' },
  ] }) });
  // Servers load new access keys within a second; behind a round-robin endpoint every node
  // must have, so wait for several answers in a row that know the key.
  const c = server.client('openapi-v3', { accessKeyId: app.AccessKeyId, accessKeySecret: app.AccessKeySecret });
  let known = 0;
  for (let i = 0; i < 400 && known < 6; i++) {
    try {
      await c.call('Encrypt', { KeyId: own, Plaintext: 'aGk=' });
      known += 1;
    } catch (e) {
      if (e.code !== 'InvalidAccessKeyId.NotFound') throw e;
      known = 0;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  assert.equal(known, 6, 'the access key never loaded on every node');
});
after(async () => { await server?.stop(); });

for (const mode of MODES) {
  describe(mode, () => {
    it('reaches what the policies allow and nothing else', async () => {
      const kms = server.client(mode, { accessKeyId: app.AccessKeyId, accessKeySecret: app.AccessKeySecret });
      const enc = await kms.call('Encrypt', { KeyId: own, Plaintext: b64(Buffer.from('mine')) });
      const dec = await kms.call('Decrypt', { CiphertextBlob: enc.CiphertextBlob });
      assert.equal(unb64(dec.Plaintext).toString(), 'mine');
      await expectError(kms, 'Encrypt', { KeyId: other, Plaintext: 'aGk=' }, 'Forbidden.NoPermission', 403);
      // the key policy of the other key grants Decrypt to this principal
      assert.equal(unb64((await kms.call('Decrypt', { CiphertextBlob: blob })).Plaintext).toString(), 'other');
      await expectError(kms, 'DisableKey', { KeyId: own }, 'Forbidden.NoPermission', 403);
      await expectError(kms, 'CreateKey', {}, 'Forbidden.NoPermission', 403);
    });

    it('signs with temporary credentials that act under the parent key\'s policy', async () => {
      // `kmsd admin access-key temporary`: each SDK's own STS support carries the token
      // (pop-core and rpc-client as the SecurityToken parameter, openapi-client as a header).
      const sts = server.admin('temporary', app.AccessKeyId, '--duration', '900');
      assert.ok(sts.AccessKeyId.startsWith('STS.'), sts.AccessKeyId);
      const creds = { accessKeyId: sts.AccessKeyId, accessKeySecret: sts.AccessKeySecret };
      const kms = server.client(mode, { ...creds, securityToken: sts.SecurityToken });
      const enc = await kms.call('Encrypt', { KeyId: own, Plaintext: b64(Buffer.from('temporary')) });
      assert.equal(unb64((await kms.call('Decrypt', { CiphertextBlob: enc.CiphertextBlob })).Plaintext).toString(),
        'temporary');
      await expectError(kms, 'Encrypt', { KeyId: other, Plaintext: 'aGk=' }, 'Forbidden.NoPermission', 403);
      // Without its token the temporary id is no stored key; with a bent token it does not open.
      await expectError(server.client(mode, creds), 'Encrypt', { KeyId: own, Plaintext: 'aGk=' },
        'InvalidAccessKeyId.NotFound', 404);
      const bent = server.client(mode, { ...creds, securityToken: `${sts.SecurityToken.slice(0, -8)}AAAAAAA=` });
      await expectError(bent, 'Encrypt', { KeyId: own, Plaintext: 'aGk=' }, 'InvalidSecurityToken.Malformed', 400);
    });
  });
}
