// Issue 2 acceptance: the tutorial's own commands run unchanged through lab.sh (the whole script through lab.script:
// specs/tutorial/whole-script.spec.ts).
import { existsSync } from 'node:fs';
import { test, expect } from '../../src/vitest.js';

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
