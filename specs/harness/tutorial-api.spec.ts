// Issue 2 acceptance: the tutorial's topology built through the API, checked with real packets.
import { test, expect } from '../../src/vitest.js';

test('the tutorial topology built through the API: bridge, gateway, default routes, forwarding, NAT to the wan', async ({ lab }) => {
  const [red, blue] = await Promise.all([lab.netns('red'), lab.netns('blue')]);
  const wan = await lab.wan();
  const bridge = await lab.bridge('v-net-0', { address: '192.168.15.3/24' });
  await Promise.all([
    bridge.attach(red, { address: '192.168.15.1/24', ifname: 'veth-red', peer: 'veth-red-brdg' }),
    bridge.attach(blue, { address: '192.168.15.2/24', ifname: 'veth-blue', peer: 'veth-blue-brdg' }),
  ]);

  // red reaches blue (through the bridge) and the host (the bridge's address)
  await expect(red).toReach('192.168.15.2');
  await expect(red).toReach(blue);
  await expect(red).toReach('192.168.15.3');
  await expect(blue).toReach('192.168.15.1');

  // before the default route: "Network is unreachable", at once
  const before = await red.exec('ping', ['-c1', '-W1', wan.internet[0]!], { reject: false });
  expect(before.exitCode).toBe(2);
  expect(before.stderr).toContain('Network is unreachable');

  await Promise.all([red.addRoute('default', { via: '192.168.15.3' }), blue.addRoute('default', { via: '192.168.15.3' }), lab.host.forwarding(true)]);
  await expect(red).toRouteVia('203.0.113.8', '192.168.15.3');

  // routed, but without NAT the wan has no way back to 192.168.15.0/24: a silent timeout
  const noNat = await red.exec('ping', ['-c1', '-W1', '203.0.113.8'], { reject: false });
  expect(noNat.exitCode).toBe(1);
  await expect(red).not.toReach('203.0.113.8');

  await lab.host.masquerade('192.168.15.0/24');
  const withNat = await red.exec('ping', ['-c1', '-W2', '203.0.113.8'], { reject: false });
  expect(withNat.exitCode).toBe(0);
  await expect(red).toReach('203.0.113.8', { seenAs: wan.hostAddress });
  await expect(blue).toReach('203.0.113.8');
});
