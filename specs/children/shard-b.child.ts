// One of two files the sharded run of .ci/sharded.sh splits across shards: this one fails on purpose, so the merged
// report must carry netspec's annotation of it.
import { expect, test } from '../../src/vitest.js';

test('shard b: a route that is not there', async ({ lab }) => {
  const red = await lab.netns('red');
  await red.addAddress('10.9.0.1/24', 'lo');
  await expect(red).toHaveRouteEntry({ destination: '10.99.0.0/16' });
});
