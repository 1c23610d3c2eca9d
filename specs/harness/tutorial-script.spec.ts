// Issue 2 acceptance: the tutorial's own commands, run unchanged through lab.sh / lab.script, build the same topology.
import { existsSync } from 'node:fs';
import { test, expect } from '../../src/vitest.js';

test('the tutorial script, run verbatim in the lab, gives a topology the matchers can check through lab.get', async ({ lab }) => {
  const wan = await lab.wan();
  const run = await lab.script('fixtures/scripts/container-network.sh');
  expect(run.stdout).toContain('v-net-0'); // brctl show
  expect(run.stdout).toMatch(/Chain FORWARD \(policy ACCEPT\)/);

  expect(lab.namespaces()).toEqual(['blue', 'red', 'wan']);
  const red = lab.get('red');
  const blue = lab.get('blue');
  await expect(red).toHaveLink('veth-red', { state: 'UP' });
  await expect(lab.host).toHaveLink('veth-red-brdg', { master: 'v-net-0', state: 'UP', type: 'veth' });
  await expect(red).toReach('192.168.15.2');
  await expect(red).toReach(blue);
  await expect(blue).toReach('192.168.15.3');
  await expect(red).toRouteVia('203.0.113.8', '192.168.15.3');
  await expect(red).toReach('203.0.113.8', { seenAs: wan.hostAddress });
  await expect(red).toHaveArpEntry('192.168.15.3');
});

test('lab.sh runs the tutorial commands as typed, and they only affect the lab', async ({ lab }) => {
  await lab.sh`ip netns add red`;
  await lab.sh`ip link add veth-red type veth peer name veth-blue`;
  await lab.sh`ip link set veth-red netns red`;
  await lab.sh`iptables --policy FORWARD DROP`;
  const listed = await lab.sh`ip netns`;
  expect(listed.stdout).toContain('red');
  const policy = await lab.sh`iptables -L | grep policy`;
  expect(policy.stdout).toContain('Chain FORWARD (policy DROP)');
  // a name passed as an argument is quoted by zx, never spliced into the command line: ip gets the whole string as one
  // namespace name (and finds none), the touch never runs, and red is untouched
  const canary = `/tmp/netspec-injected-${process.pid}-${Date.now()}`;
  const name = `red; touch ${canary}`;
  const r = await lab.sh`ip netns exec ${name} true`.nothrow();
  expect(r.exitCode).not.toBe(0);
  expect(r.stderr).toContain(`Invalid netns name "${name}"`); // the whole string reached ip as one argument
  expect(existsSync(canary)).toBe(false);
  await expect(lab.get('red')).toHaveLink('veth-red');
});
