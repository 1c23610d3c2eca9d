// Issue 2 acceptance: eight labs at once, with identical names and addresses, do not see each other.
import { test, expect } from '../../src/vitest.js';

const build = async ({ lab }: { lab: import('../../src/index.js').Lab }) => {
  const [red, blue] = await Promise.all([lab.netns('red'), lab.netns('blue')]);
  const bridge = await lab.bridge('v-net-0', { address: '192.168.15.3/24' });
  await Promise.all([bridge.attach(red, { address: '192.168.15.1/24' }), bridge.attach(blue, { address: '192.168.15.2/24' })]);
  return { red, blue };
};

test.concurrent.for(Array.from({ length: 8 }, (_, i) => i))('lab %i of 8 with the same names and addresses', async (i, { lab }) => {
  const { red, blue } = await build({ lab });
  // a mark only this lab has: if labs leaked into each other, another lab would see it
  await blue.addAddress(`10.77.${i}.1/32`, 'lo');
  await expect(red).toReach('192.168.15.2');
  await expect(blue).toHaveAddress(`10.77.${i}.1/32`);
  for (let j = 0; j < 8; j++) if (j !== i) await expect(blue).not.toHaveAddress(`10.77.${j}.1/32`);
  expect(lab.namespaces()).toEqual(['blue', 'red']);
});
