// Issue 2: labs inside a user namespace, the only way for a non-root user. CI also runs this file as an
// unprivileged user; as root it forces the user-namespace path with { userns: true }.
import { createLab } from '../../src/index.js';
import { test, expect } from '../../src/vitest.js';

const root = process.getuid?.() === 0;

test(`the tutorial topology in a user-namespace lab (${root ? 'root, forced' : 'unprivileged user'})`, async () => {
  await using lab = await createLab({ userns: true });
  expect(lab.userns).toBe(true);
  const [red, blue] = await Promise.all([lab.netns('red'), lab.netns('blue')]);
  const wan = await lab.wan();
  const bridge = await lab.bridge('v-net-0', { address: '192.168.15.3/24' });
  await Promise.all([
    bridge.attach(red, { address: '192.168.15.1/24', gateway: true }),
    bridge.attach(blue, { address: '192.168.15.2/24', gateway: true }),
  ]);
  await expect(red).toReach(blue);
  await lab.host.forwarding(true);
  await expect(red).not.toReach('203.0.113.8');
  await lab.host.masquerade('192.168.15.0/24');
  await expect(red).toReach('203.0.113.8', { seenAs: wan.hostAddress });
  const brctl = await lab.sh`brctl show`;
  expect(brctl.stdout).toMatch(/v-net-0.*veth-blue-brdg/s);
  const whoami = await lab.sh`id -u`;
  expect(whoami.stdout.trim()).toBe('0'); // root inside the lab, whoever runs the test
});

test('the default: a user namespace, as root too (a full-privilege lab only when asked for)', async ({ lab }) => {
  expect(lab.userns).toBe(true);
  if (!root) return;
  await using privileged = await createLab({ privileged: true });
  expect(privileged.userns).toBe(false);
});
