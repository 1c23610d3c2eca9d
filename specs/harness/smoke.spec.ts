import { test, expect } from '../../src/vitest.js';

test('smoke', async ({ lab }) => {
  const t0 = performance.now();
  const [red, blue] = await Promise.all([lab.netns('red'), lab.netns('blue')]);
  const br = await lab.bridge('v-net-0', { address: '192.168.15.3/24' });
  await Promise.all([br.attach(red, { address: '192.168.15.1/24' }), br.attach(blue, { address: '192.168.15.2/24' })]);
  const t1 = performance.now();
  const r = await red.exec('ping', ['-c1', '-W1', '192.168.15.2'], { reject: false });
  console.log(t1 - t0, performance.now() - t1, r.exitCode, lab.batcher.spawns);
  expect(r.exitCode).toBe(0);
  const s = await lab.sh`brctl show; ip netns list; ip -br addr`;
  console.log(s.stdout);
});
