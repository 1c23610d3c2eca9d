// The tutorial's commands as one script, run verbatim (fixtures/scripts/container-network.sh), end in the final state
// the tutorial describes, and a topology the matchers check through lab.get.
import { expect, test } from '../../src/vitest.js';

test('the whole tutorial script ends with red and blue on the Internet through NAT', async ({ lab }) => {
  const wan = await lab.wan();
  const out = await lab.script('fixtures/scripts/container-network.sh');
  expect(out.stdout).toMatch(/1 packets transmitted, 1 received/);
  expect(out.stdout).toContain('v-net-0'); // brctl show
  expect(out.stdout).toMatch(/Chain FORWARD \(policy ACCEPT\)/);
  expect(lab.namespaces()).toEqual(['blue', 'red', 'wan']);
  const [red, blue] = [lab.get('red'), lab.get('blue')];
  await expect(red).toHaveLink('veth-red', { state: 'UP' });
  await expect(lab.host).toHaveLink('veth-red-brdg', { master: 'v-net-0', state: 'UP', type: 'veth' });
  await expect(red).toReach('192.168.15.2');
  await expect(red).toReach(blue);
  await expect(blue).toReach('192.168.15.3');
  await expect(lab.host).toForward();
  await expect(red).toRouteVia('203.0.113.8', '192.168.15.3');
  await expect(red).toReach('203.0.113.8', { seenAs: wan.hostAddress });
  await expect(blue).toReach('203.0.113.8', { seenAs: wan.hostAddress });
  await expect(red).toHaveRouteEntry({ destination: 'default', gateway: '192.168.15.3' });
  await expect(red).toHaveArpEntry('192.168.15.3');
});
