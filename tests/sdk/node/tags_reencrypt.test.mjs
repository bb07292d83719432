// Tags (single and batch), ReEncrypt and Aliyun_SM4 keys through every Node client mode.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { MODES, assertRequestId, b64, createKey, expectError, randomUuid, startKmsd, unb64 } from './helpers.mjs';

let server;
before(async () => { server = await startKmsd(); });
after(async () => { await server?.stop(); });

const tagsJson = (pairs) => JSON.stringify(pairs.map(([k, v]) => ({ TagKey: k, TagValue: v })));

async function resourceTags(kms, keyId) {
  const body = await kms.call('ListResourceTags', { KeyId: keyId });
  assertRequestId(body);
  const rows = body.Tags.Tag;
  for (const r of rows) assert.equal(r.KeyId, keyId);
  return rows.map((r) => [r.TagKey, r.TagValue]);
}

// The batch actions' repeat lists, flattened as every Node SDK sends them.
function batch(ids, { tags, tagKeys, ...extra } = {}) {
  const params = { ResourceType: 'key', ...extra };
  ids.forEach((id, i) => { params[`ResourceId.${i + 1}`] = id; });
  (tags || []).forEach(([k, v], i) => { params[`Tag.${i + 1}.Key`] = k; params[`Tag.${i + 1}.Value`] = v; });
  (tagKeys || []).forEach((k, i) => { params[`TagKey.${i + 1}`] = k; });
  return params;
}

for (const mode of MODES) {
  describe(mode, () => {
    const kms = () => server.client(mode);

    it('tags one key', async () => {
      const initial = tagsJson([['team', 'pay'], ['env', 'prod']]);
      // @alicloud/kms20160120 1.2.0's CreateKeyRequest has no Tags field: tag right after.
      const key = mode === 'tea-rpc'
        ? (await createKey(kms())).KeyId
        : (await createKey(kms(), { Tags: initial })).KeyId;
      if (mode === 'tea-rpc') await kms().call('TagResource', { KeyId: key, Tags: initial });
      assert.deepEqual(await resourceTags(kms(), key), [['env', 'prod'], ['team', 'pay']]);
      assertRequestId(await kms().call('TagResource', { KeyId: key, Tags: tagsJson([['team', 'ops']]) }));
      assertRequestId(await kms().call('UntagResource', { KeyId: key, TagKeys: JSON.stringify(['env']) }));
      assert.deepEqual(await resourceTags(kms(), key), [['team', 'ops']]);
      await expectError(kms(), 'TagResource', { KeyId: key, Tags: tagsJson([['aliyun-x', 'v']]) }, 'InvalidParameter', 400);
    });

    it('tags keys in batches', async () => {
      const a = (await createKey(kms())).KeyId;
      const b = (await createKey(kms())).KeyId;
      assertRequestId(await kms().call('TagResources', batch([a, b], { tags: [['team', 'pay']] })));
      const listed = await kms().call('ListTagResources', batch([b]));
      assert.deepEqual(listed.TagResources.TagResource, [{ ResourceId: b, ResourceType: 'key', TagKey: 'team', TagValue: 'pay' }]);
      assert.equal(listed.NextToken, '');
      assertRequestId(await kms().call('UntagResources', batch([a], { tagKeys: ['team'] })));
      assert.deepEqual(await resourceTags(kms(), a), []);
      await expectError(kms(), 'TagResources', batch([randomUuid()], { tags: [['x', '1']] }), 'InvalidResourceId.NotFound', 404);
      await expectError(kms(), 'TagResources', batch([a], { tags: [['x', '1'], ['x', '2']] }), 'Duplicate.TagKey', 400);
    });

    it('re-encrypts under another key and context', async () => {
      const src = (await createKey(kms())).KeyId;
      const dst = (await createKey(kms())).KeyId;
      const enc = await kms().call('Encrypt', { KeyId: src, Plaintext: b64('moving'), EncryptionContext: { a: '1' } });
      const re = await kms().call('ReEncrypt', {
        CiphertextBlob: enc.CiphertextBlob,
        SourceEncryptionContext: JSON.stringify({ a: '1' }),
        DestinationKeyId: dst,
        DestinationEncryptionContext: JSON.stringify({ b: '2' }),
      });
      assert.equal(re.KeyId, dst);
      const dec = await kms().call('Decrypt', { CiphertextBlob: re.CiphertextBlob, EncryptionContext: { b: '2' } });
      assert.equal(unb64(dec.Plaintext).toString(), 'moving');
      await expectError(kms(), 'ReEncrypt', { CiphertextBlob: enc.CiphertextBlob, DestinationKeyId: dst }, 'InvalidParameter', 400);
    });

    it('serves SM4 keys', async () => {
      const md = await createKey(kms(), { KeySpec: 'Aliyun_SM4' });
      assert.equal(md.KeySpec, 'Aliyun_SM4');
      const enc = await kms().call('Encrypt', { KeyId: md.KeyId, Plaintext: b64('sm4 data') });
      const dec = await kms().call('Decrypt', { CiphertextBlob: enc.CiphertextBlob });
      assert.equal(unb64(dec.Plaintext).toString(), 'sm4 data');
    });
  });
}
