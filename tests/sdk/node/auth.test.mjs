// Authentication errors through every Node client mode.
import { after, before, describe, it } from 'node:test';

import { ACCESS_KEY_SECRET, MODES, b64, expectError, startKmsd } from './helpers.mjs';

let server;
before(async () => { server = await startKmsd(); });
after(async () => { await server?.stop(); });

for (const mode of MODES) {
  describe(mode, () => {
    it('wrong AccessKeySecret -> SignatureDoesNotMatch 400', async () => {
      const kms = server.client(mode, { accessKeySecret: `${ACCESS_KEY_SECRET}x` });
      await expectError(kms, 'DescribeRegions', {}, 'SignatureDoesNotMatch', 400);
      await expectError(kms, 'Encrypt', { KeyId: 'alias/whatever', Plaintext: b64('x') }, 'SignatureDoesNotMatch', 400);
    });

    it('unknown AccessKeyId -> InvalidAccessKeyId.NotFound 404', async () => {
      const kms = server.client(mode, { accessKeyId: 'LTAI5tUnknownKeyId99' });
      await expectError(kms, 'DescribeRegions', {}, 'InvalidAccessKeyId.NotFound', 404);
    });
  });
}
