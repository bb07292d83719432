// HMAC keys through every Node client mode: CreateKey with the HMAC specs, GenerateMac and
// VerifyMac (none of the pinned Node SDKs has typed models for them: every mode sends them
// through its own generic entry point, as a user of these SDKs would).
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';

import { MODES, assertRequestId, b64, createKey, expectError, startKmsd, unb64 } from './helpers.mjs';

let server;
before(async () => { server = await startKmsd(); });
after(async () => { await server?.stop(); });

const SPECS = [['HMAC_SM3', 32], ['HMAC_SHA_224', 28], ['HMAC_SHA_256', 32], ['HMAC_SHA_384', 48], ['HMAC_SHA_512', 64]];

async function generateMac(kms, keyId, algorithm, message) {
  const body = await kms.call('GenerateMac', { KeyId: keyId, Algorithm: algorithm, Message: b64(message) });
  assertRequestId(body);
  assert.equal(body.Algorithm, algorithm);
  assert.equal(body.KeyId, keyId);
  return unb64(body.Mac);
}

async function verifyMac(kms, keyId, algorithm, message, mac) {
  const body = await kms.call('VerifyMac', { KeyId: keyId, Algorithm: algorithm, Message: b64(message), Mac: b64(mac) });
  assertRequestId(body);
  assert.equal(typeof body.Value, 'boolean', JSON.stringify(body));
  return body.Value;
}

for (const mode of MODES) {
  describe(mode, () => {
    for (const [spec, length] of SPECS) {
      it(`${spec}: deterministic, ${length} bytes, verifies only the right key, message and MAC`, async () => {
        const kms = server.client(mode);
        const key = await createKey(kms, { KeySpec: spec });
        assert.equal(key.KeySpec, spec);
        assert.equal(key.KeyUsage, 'GENERATE/VERIFY_MAC');
        const other = await createKey(kms, { KeySpec: spec });
        const message = randomBytes(100);

        const mac = await generateMac(kms, key.KeyId, spec, message);
        assert.equal(mac.length, length);
        assert.deepEqual(await generateMac(kms, key.KeyId, spec, message), mac);
        assert.equal(await verifyMac(kms, key.KeyId, spec, message, mac), true);
        // another message, another key, another MAC
        const otherMessage = Buffer.concat([message, Buffer.from([0])]);
        assert.equal(await verifyMac(kms, key.KeyId, spec, otherMessage, mac), false);
        assert.notDeepEqual(await generateMac(kms, other.KeyId, spec, message), mac);
        assert.equal(await verifyMac(kms, other.KeyId, spec, message, mac), false);
        const flipped = Buffer.from(mac);
        flipped[0] ^= 1;
        assert.equal(await verifyMac(kms, key.KeyId, spec, message, flipped), false);
        // a MAC made outside kmsd with a key of our own is not the key's
        if (spec !== 'HMAC_SM3') {
          const hash = spec.replace('HMAC_SHA_', 'sha');
          const foreign = createHmac(hash, randomBytes(length)).update(message).digest();
          assert.equal(await verifyMac(kms, key.KeyId, spec, message, foreign), false);
        }
      });
    }

    it('refusals: another algorithm, another kind of key, bad input, dry run', async () => {
      const kms = server.client(mode);
      const key = await createKey(kms, { KeySpec: 'HMAC_SHA_256' });
      const aes = await createKey(kms);
      const msg = b64(Buffer.from('m'));
      await expectError(kms, 'GenerateMac', { KeyId: key.KeyId, Algorithm: 'HMAC_SHA_512', Message: msg },
        'InvalidParameter', 400);
      await expectError(kms, 'GenerateMac', { KeyId: aes.KeyId, Algorithm: 'HMAC_SHA_256', Message: msg },
        'UnsupportedOperation', 400);
      await expectError(kms, 'Encrypt', { KeyId: key.KeyId, Plaintext: msg }, 'UnsupportedOperation', 400);
      await expectError(kms, 'GenerateMac', { KeyId: key.KeyId, Algorithm: 'HMAC_SHA_256', Message: b64(randomBytes(6145)) },
        'InvalidParameter', 400);
      await expectError(kms, 'GenerateMac', { KeyId: key.KeyId, Algorithm: 'HMAC_SHA_256', Message: msg, DryRun: 'true' },
        'DryRunOperationError', 400);
      await expectError(kms, 'CreateKeyVersion', { KeyId: key.KeyId }, 'Rejected.UnsupportedOperation', 400);
    });
  });
}
