// Bring your own key, data-key export and ReEncrypt from a public-key ciphertext through every
// Node client mode, with node:crypto (OpenSSL) wrapping and unwrapping on this side.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, describe, it } from 'node:test';

import { MODES, b64, createKey, expectError, startKmsd, unb64 } from './helpers.mjs';

let server;
before(async () => { server = await startKmsd(); });
after(async () => { await server?.stop(); });

const oaep = (hash) => ({ padding: crypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: hash });

for (const mode of MODES) {
  describe(mode, () => {
    const kms = () => server.client(mode);

    it('imports material wrapped here and uses it', async () => {
      const md = await createKey(kms(), { KeySpec: 'Aliyun_AES_256', Origin: 'EXTERNAL' });
      assert.deepEqual([md.Origin, md.KeyState], ['EXTERNAL', 'PendingImport']);
      const params = await kms().call('GetParametersForImport', {
        KeyId: md.KeyId, WrappingAlgorithm: 'RSAES_OAEP_SHA_256', WrappingKeySpec: 'RSA_2048' });
      const publicKey = crypto.createPublicKey({ key: unb64(params.PublicKey), format: 'der', type: 'spki' });
      const material = crypto.randomBytes(32);
      const wrapped = crypto.publicEncrypt({ key: publicKey, ...oaep('sha256') }, material);
      await kms().call('ImportKeyMaterial', {
        KeyId: md.KeyId, ImportToken: params.ImportToken, EncryptedKeyMaterial: b64(wrapped), KeyMaterialExpireUnix: 0 });
      const described = await kms().call('DescribeKey', { KeyId: md.KeyId });
      assert.equal(described.KeyMetadata.KeyState, 'Enabled');

      // A blob sealed here with the material (spec §8.1 layout) decrypts on kmsd.
      const iv = crypto.randomBytes(12);
      const cipher = crypto.createCipheriv('aes-256-gcm', material, iv);
      const sealed = Buffer.concat([cipher.update('node offline'), cipher.final(), cipher.getAuthTag()]);
      const blob = Buffer.concat([Buffer.from(md.PrimaryKeyVersion), iv, sealed]);
      const dec = await kms().call('Decrypt', { CiphertextBlob: b64(blob) });
      assert.equal(unb64(dec.Plaintext).toString(), 'node offline');

      await kms().call('DeleteKeyMaterial', { KeyId: md.KeyId });
      await expectError(kms(), 'Decrypt', { CiphertextBlob: b64(blob) }, 'Rejected.PendingImport', 409);
      await expectError(kms(), 'ImportKeyMaterial', {
        KeyId: md.KeyId, ImportToken: params.ImportToken, EncryptedKeyMaterial: b64(crypto.publicEncrypt(
          { key: publicKey, ...oaep('sha256') }, crypto.randomBytes(32))), KeyMaterialExpireUnix: 0,
      }, 'InvalidKeyMaterial', 400);
    });

    it('exports data keys to a key pair made here', async () => {
      const aes = (await createKey(kms())).KeyId;
      const { publicKey, privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
      const wrap = {
        PublicKeyBlob: b64(publicKey.export({ format: 'der', type: 'spki' })),
        WrappingAlgorithm: 'RSAES_OAEP_SHA_256',
        WrappingKeySpec: 'RSA_2048',
      };
      const made = await kms().call('GenerateAndExportDataKey', { KeyId: aes, NumberOfBytes: 32, ...wrap });
      const inside = unb64((await kms().call('Decrypt', { CiphertextBlob: made.CiphertextBlob })).Plaintext);
      assert.deepEqual(crypto.privateDecrypt({ key: privateKey, ...oaep('sha256') }, unb64(made.ExportedDataKey)), inside);

      const dk = await kms().call('GenerateDataKey', { KeyId: aes });
      const exported = await kms().call('ExportDataKey', { CiphertextBlob: dk.CiphertextBlob, ...wrap });
      assert.deepEqual(crypto.privateDecrypt({ key: privateKey, ...oaep('sha256') }, unb64(exported.ExportedDataKey)),
        unb64(dk.Plaintext));
      await expectError(kms(), 'ExportDataKey', { CiphertextBlob: dk.CiphertextBlob, ...wrap, WrappingKeySpec: 'EC_SM2' },
        'InvalidParameter', 400);
    });

    it('re-encrypts a public-key ciphertext under a symmetric key', async () => {
      const rsa = await createKey(kms(), { KeySpec: 'RSA_2048', KeyUsage: 'ENCRYPT/DECRYPT' });
      const aes = (await createKey(kms())).KeyId;
      const { PublicKey } = await kms().call('GetPublicKey', { KeyId: rsa.KeyId, KeyVersionId: rsa.PrimaryKeyVersion });
      const ciphertext = crypto.publicEncrypt({ key: PublicKey, ...oaep('sha256') }, Buffer.from('node re-encrypt'));
      const moved = await kms().call('ReEncrypt', {
        CiphertextBlob: b64(ciphertext), SourceKeyId: rsa.KeyId, SourceKeyVersionId: rsa.PrimaryKeyVersion,
        SourceEncryptionAlgorithm: 'RSAES_OAEP_SHA_256', DestinationKeyId: aes });
      assert.equal(moved.KeyId, aes);
      const dec = await kms().call('Decrypt', { CiphertextBlob: moved.CiphertextBlob });
      assert.equal(unb64(dec.Plaintext).toString(), 'node re-encrypt');
    });
  });
}
