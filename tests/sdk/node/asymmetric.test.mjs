// Asymmetric keys through every Node client mode: GetPublicKey, AsymmetricSign/Verify and
// AsymmetricEncrypt/Decrypt. Node's own crypto (OpenSSL) verifies kmsd's RSA and ECDSA
// signatures and makes OAEP ciphertexts that kmsd decrypts; SM2 round-trips through kmsd.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, describe, it } from 'node:test';

import { MODES, assertRequestId, b64, createKey, expectError, startKmsd, unb64 } from './helpers.mjs';

let server;
let keys;
before(async () => {
  server = await startKmsd();
  const admin = server.client('openapi-v3');
  keys = {};
  for (const [spec, usage] of [['RSA_2048', 'SIGN/VERIFY'], ['EC_P256', 'SIGN/VERIFY'], ['EC_P256K', 'SIGN/VERIFY'],
    ['EC_SM2', 'SIGN/VERIFY'], ['RSA_2048', 'ENCRYPT/DECRYPT'], ['EC_SM2', 'ENCRYPT/DECRYPT']]) {
    const md = await createKey(admin, { KeySpec: spec, KeyUsage: usage });
    keys[`${spec} ${usage}`] = { id: md.KeyId, version: md.PrimaryKeyVersion };
  }
});
after(async () => { await server?.stop(); });

const sha256 = (data) => crypto.createHash('sha256').update(data).digest();

for (const mode of MODES) {
  describe(mode, () => {
    const kms = () => server.client(mode);

    for (const [spec, algorithm] of [['RSA_2048', 'RSA_PSS_SHA_256'], ['RSA_2048', 'RSA_PKCS1_SHA_256'],
      ['EC_P256', 'ECDSA_SHA_256'], ['EC_P256K', 'ECDSA_SHA_256']]) {
      it(`${spec} ${algorithm} signatures verify in node:crypto`, async () => {
        const { id, version } = keys[`${spec} SIGN/VERIFY`];
        const got = await kms().call('GetPublicKey', { KeyId: id, KeyVersionId: version });
        assertRequestId(got);
        const publicKey = crypto.createPublicKey(got.PublicKey);
        const message = Buffer.from(`node ${mode} ${spec} ${algorithm}`);
        const params = { KeyId: id, KeyVersionId: version, Algorithm: algorithm, Digest: b64(sha256(message)) };
        const signed = await kms().call('AsymmetricSign', params);
        const signature = unb64(signed.Value);
        const options = { key: publicKey };
        if (algorithm === 'RSA_PSS_SHA_256') {
          options.padding = crypto.constants.RSA_PKCS1_PSS_PADDING;
          options.saltLength = 32;
        }
        assert.equal(crypto.verify('sha256', message, options, signature), true);
        assert.equal(crypto.verify('sha256', Buffer.concat([message, Buffer.from('!')]), options, signature), false);
        const verified = await kms().call('AsymmetricVerify', { ...params, Value: signed.Value });
        assert.equal(verified.Value, true);
      });
    }

    it('SM2DSA signs and verifies', async () => {
      const { id, version } = keys['EC_SM2 SIGN/VERIFY'];
      const digest = b64(crypto.randomBytes(32));
      const params = { KeyId: id, KeyVersionId: version, Algorithm: 'SM2DSA', Digest: digest };
      const signed = await kms().call('AsymmetricSign', params);
      assert.equal(unb64(signed.Value)[0], 0x30);
      assert.equal((await kms().call('AsymmetricVerify', { ...params, Value: signed.Value })).Value, true);
      const other = { ...params, Digest: b64(crypto.randomBytes(32)), Value: signed.Value };
      assert.equal((await kms().call('AsymmetricVerify', other)).Value, false);
    });

    for (const [algorithm, oaepHash] of [['RSAES_OAEP_SHA_256', 'sha256'], ['RSAES_OAEP_SHA_1', 'sha1']]) {
      it(`${algorithm} ciphertexts from node:crypto decrypt on kmsd`, async () => {
        const { id, version } = keys['RSA_2048 ENCRYPT/DECRYPT'];
        const { PublicKey } = await kms().call('GetPublicKey', { KeyId: id, KeyVersionId: version });
        const plaintext = Buffer.from(`oaep ${mode} ${algorithm}`);
        const ciphertext = crypto.publicEncrypt(
          { key: PublicKey, padding: crypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash }, plaintext);
        const params = { KeyId: id, KeyVersionId: version, Algorithm: algorithm };
        const dec = await kms().call('AsymmetricDecrypt', { ...params, CiphertextBlob: b64(ciphertext) });
        assert.deepEqual(unb64(dec.Plaintext), plaintext);
        const enc = await kms().call('AsymmetricEncrypt', { ...params, Plaintext: b64(plaintext) });
        assert.equal(unb64(enc.CiphertextBlob).length, 256);
      });
    }

    it('SM2PKE round-trips and refuses what does not decrypt', async () => {
      const { id, version } = keys['EC_SM2 ENCRYPT/DECRYPT'];
      const params = { KeyId: id, KeyVersionId: version, Algorithm: 'SM2PKE' };
      const plaintext = crypto.randomBytes(500);
      const enc = await kms().call('AsymmetricEncrypt', { ...params, Plaintext: b64(plaintext) });
      const dec = await kms().call('AsymmetricDecrypt', { ...params, CiphertextBlob: enc.CiphertextBlob });
      assert.deepEqual(unb64(dec.Plaintext), plaintext);
      const bent = unb64(enc.CiphertextBlob);
      bent[bent.length - 1] ^= 1;
      await expectError(kms(), 'AsymmetricDecrypt', { ...params, CiphertextBlob: b64(bent) }, 'InvalidParameter', 400);
      await expectError(kms(), 'AsymmetricEncrypt', { ...params, Plaintext: b64(Buffer.alloc(6048)) },
        'InvalidParameter', 400);
    });
  });
}
