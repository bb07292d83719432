// DescribeRegions, DescribeAccountKmsStatus, OpenKmsService through every Node client mode.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { MODES, assertRequestId, startKmsd } from './helpers.mjs';

let server;
before(async () => { server = await startKmsd(); });
after(async () => { await server?.stop(); });

for (const mode of MODES) {
  describe(mode, () => {
    it('DescribeRegions lists cn-hangzhou', async () => {
      const body = await server.client(mode).call('DescribeRegions');
      assertRequestId(body);
      assert.deepEqual(body.Regions.Region, [{ RegionId: 'cn-hangzhou' }]);
    });

    it('DescribeAccountKmsStatus is Enabled', async () => {
      const body = await server.client(mode).call('DescribeAccountKmsStatus');
      assertRequestId(body);
      assert.equal(body.AccountStatus, 'Enabled');
    });

    it('OpenKmsService succeeds with only a RequestId, twice', async () => {
      for (let i = 0; i < 2; i++) {
        const body = await server.client(mode).call('OpenKmsService');
        assertRequestId(body);
        assert.deepEqual(Object.keys(body).filter((k) => body[k] !== undefined), ['RequestId']);
      }
    });

    it('RequestIds are unique', async () => {
      const kms = server.client(mode);
      const ids = new Set();
      for (let i = 0; i < 3; i++) ids.add((await kms.call('DescribeRegions')).RequestId);
      assert.equal(ids.size, 3);
    });
  });
}
