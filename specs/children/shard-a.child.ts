// One of two files the sharded run of .ci/sharded.sh splits across shards: this one passes.
import { expect, test } from '../../src/vitest.js';

test('shard a: a lab with one namespace has its address', async ({ lab }) => {
  const red = await lab.netns('red');
  await red.addAddress('10.9.0.1/24', 'lo');
  await expect(red).toHaveAddress('10.9.0.1/24');
});
