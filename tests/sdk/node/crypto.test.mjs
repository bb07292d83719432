// Encrypt, Decrypt, GenerateDataKey, GenerateDataKeyWithoutPlaintext through every Node client mode.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';

import {
  MODES, assertRequestId, b64, createAlias, createKey, expectError, randomUuid, startKmsd, unb64,
} from './helpers.mjs';

let server;
before(async () => { server = await startKmsd(); });
after(async () => { await server?.stop(); });

const MAX_PLAINTEXT = 6144;
// A map context: @alicloud/kms20160120 sends it flattened (EncryptionContext.<k>=<v>), the
// others as a JSON string. Keys/values need escaping; one key contains a dot.
const CONTEXT = { purpose: 'sdk-test', 'app.name': 'node', tenant: "a b/c+d=é!'()*" };

async function encrypt(kms, keyRef, plaintext, context) {
  const params = { KeyId: keyRef, Plaintext: b64(plaintext) };
  if (context !== undefined) params.EncryptionContext = context;
  const body = await kms.call('Encrypt', params);
  assertRequestId(body);
  return body;
}

async function decrypt(kms, blob, context) {
  const params = { CiphertextBlob: blob };
  if (context !== undefined) params.EncryptionContext = context;
  const body = await kms.call('Decrypt', params);
  assertRequestId(body);
  return body;
}

function checkBlob(blob, keyVersionId) {
  const raw = unb64(blob);
  assert.equal(raw.subarray(0, 36).toString('latin1'), keyVersionId); // spec §8 layout
  return raw;
}

for (const mode of MODES) {
  describe(mode, () => {
    it('Encrypt/Decrypt round trip, by id, alias and ARN', async () => {
      const kms = server.client(mode);
      const key = await createKey(kms);
      const alias = await createAlias(kms, key.KeyId);
      for (const [ref, plaintext] of [[key.KeyId, Buffer.from('Hello world')], [alias, randomBytes(MAX_PLAINTEXT)],
        [key.Arn, Buffer.from([...Array(256).keys()])]]) {
        const enc = await encrypt(kms, ref, plaintext);
        assert.equal(enc.KeyId, key.KeyId, ref);
        assert.equal(enc.KeyVersionId, key.PrimaryKeyVersion);
        checkBlob(enc.CiphertextBlob, enc.KeyVersionId);
        const dec = await decrypt(kms, enc.CiphertextBlob);
        assert.deepEqual(unb64(dec.Plaintext), plaintext);
        assert.equal(dec.KeyId, key.KeyId);
        assert.equal(dec.KeyVersionId, enc.KeyVersionId);
      }
    });

    it('EncryptionContext map round trip, in any key order, and across SDKs', async () => {
      const kms = server.client(mode);
      const key = await createKey(kms);
      const enc = await encrypt(kms, key.KeyId, 'bound', CONTEXT);
      const reordered = Object.fromEntries(Object.entries(CONTEXT).reverse());
      for (const ctx of [CONTEXT, reordered, JSON.stringify(reordered)]) {
        assert.equal(unb64((await decrypt(kms, enc.CiphertextBlob, ctx)).Plaintext).toString(), 'bound');
      }
      for (const other of MODES) {
        const dec = await decrypt(server.client(other), enc.CiphertextBlob, CONTEXT);
        assert.equal(unb64(dec.Plaintext).toString(), 'bound', `decrypted by ${other}`);
      }
    });

    it('GenerateDataKey sizes, and its blob decrypts to its plaintext', async () => {
      const kms = server.client(mode);
      const key = await createKey(kms);
      const cases = [[{}, 32], [{ KeySpec: 'AES_128' }, 16], [{ KeySpec: 'AES_256' }, 32],
        [{ NumberOfBytes: 1 }, 1], [{ NumberOfBytes: 1024 }, 1024], [{ KeySpec: 'AES_128', NumberOfBytes: 7 }, 7]];
      for (const [params, size] of cases) {
        const body = await kms.call('GenerateDataKey', { KeyId: key.KeyId, EncryptionContext: CONTEXT, ...params });
        assertRequestId(body);
        assert.equal(body.KeyId, key.KeyId);
        assert.equal(body.KeyVersionId, key.PrimaryKeyVersion);
        assert.equal(unb64(body.Plaintext).length, size, JSON.stringify(params));
        checkBlob(body.CiphertextBlob, body.KeyVersionId);
        assert.equal((await decrypt(kms, body.CiphertextBlob, CONTEXT)).Plaintext, body.Plaintext);
      }
    });

    it('GenerateDataKeyWithoutPlaintext', async () => {
      const kms = server.client(mode);
      const key = await createKey(kms);
      const alias = await createAlias(kms, key.KeyId);
      const body = await kms.call('GenerateDataKeyWithoutPlaintext', { KeyId: alias, NumberOfBytes: 48 });
      assertRequestId(body);
      assert.equal(body.Plaintext, undefined);
      assert.equal(body.KeyId, key.KeyId);
      checkBlob(body.CiphertextBlob, key.PrimaryKeyVersion);
      assert.equal(unb64((await decrypt(kms, body.CiphertextBlob)).Plaintext).length, 48);
    });

    it('errors', async () => {
      const kms = server.client(mode);
      const key = await createKey(kms);
      const x = b64('x');
      await expectError(kms, 'Encrypt', { KeyId: randomUuid(), Plaintext: x }, 'Forbidden.KeyNotFound', 404);
      await expectError(kms, 'Encrypt', { KeyId: 'alias/nope', Plaintext: x }, 'Forbidden.AliasNotFound', 404);
      await expectError(kms, 'Encrypt', { Plaintext: x }, 'MissingParameter', 400);
      await expectError(kms, 'Encrypt', { KeyId: key.KeyId, Plaintext: b64(randomBytes(MAX_PLAINTEXT + 1)) },
        'InvalidParameter', 400);
      await expectError(kms, 'Encrypt', { KeyId: key.KeyId, Plaintext: 'not base64!' }, 'InvalidParameter', 400);
      for (const ctx of ['[1]', '{"a":1}', 'not json']) {
        await expectError(kms, 'Encrypt', { KeyId: key.KeyId, Plaintext: x, EncryptionContext: ctx },
          'InvalidParameter', 400);
      }

      const enc = await encrypt(kms, key.KeyId, 'bound', CONTEXT);
      await expectError(kms, 'Decrypt', { CiphertextBlob: enc.CiphertextBlob }, 'InvalidParameter', 400);
      await expectError(kms, 'Decrypt', { CiphertextBlob: enc.CiphertextBlob, EncryptionContext: { ...CONTEXT, purpose: 'x' } },
        'InvalidParameter', 400);
      const raw = unb64(enc.CiphertextBlob);
      const tampered = Buffer.from(raw);
      tampered[40] ^= 1;
      await expectError(kms, 'Decrypt', { CiphertextBlob: b64(tampered), EncryptionContext: CONTEXT },
        'InvalidParameter', 400);
      const orphan = Buffer.concat([Buffer.from(randomUuid(), 'latin1'), raw.subarray(36)]);
      await expectError(kms, 'Decrypt', { CiphertextBlob: b64(orphan), EncryptionContext: CONTEXT },
        'Forbidden.KeyNotFound', 404);
      await expectError(kms, 'Decrypt', {}, 'MissingParameter', 400);

      for (const action of ['GenerateDataKey', 'GenerateDataKeyWithoutPlaintext']) {
        for (const n of [0, 1025]) {
          await expectError(kms, action, { KeyId: key.KeyId, NumberOfBytes: n }, 'InvalidParameter', 400);
        }
        await expectError(kms, action, { KeyId: randomUuid() }, 'Forbidden.KeyNotFound', 404);
      }
    });

    for (const spec of ['Aliyun_AES_128', 'Aliyun_AES_192']) {
      it(`${spec} keys: Encrypt/Decrypt with context, data keys, a new version`, async () => {
        const kms = server.client(mode);
        const key = await createKey(kms, { KeySpec: spec });
        assert.equal(key.KeySpec, spec);
        const plaintext = randomBytes(300);
        const enc = await encrypt(kms, key.KeyId, plaintext, CONTEXT);
        const raw = checkBlob(enc.CiphertextBlob, key.PrimaryKeyVersion);
        assert.equal(raw.length, 36 + 12 + plaintext.length + 16);
        assert.deepEqual(unb64((await decrypt(kms, enc.CiphertextBlob, CONTEXT)).Plaintext), plaintext);
        const dk = await kms.call('GenerateDataKey', { KeyId: key.KeyId, NumberOfBytes: 24 });
        assert.equal((await decrypt(kms, dk.CiphertextBlob)).Plaintext, dk.Plaintext);
        await kms.call('CreateKeyVersion', { KeyId: key.KeyId });
        assert.deepEqual(unb64((await decrypt(kms, enc.CiphertextBlob, CONTEXT)).Plaintext), plaintext);
      });
    }
  });
}
