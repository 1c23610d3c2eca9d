// The diagnosis names rules no packet reaches (src/diagnose/index.ts, unreachableRules) only where they can matter:
// in the chains a packet can enter, for the family that was probed. An adversarial review found it naming an IPv4 chain
// nothing jumps to under an IPv6 probe that ip6tables dropped ("no packet reaches it", as if it were part of the cause).
import { expect, test } from '../../src/vitest.js';
import { bridgeNetwork } from '../../fixtures/index.js';
import { failureOf } from '../matchers/helpers.js';

test('an IPv6 probe dropped by ip6tables: no line about an IPv4 chain', async ({ lab }) => {
  const net = await bridgeNetwork(lab, { prefix: 'fd00:15::/64', gateway: false });
  await net.blue.iptables(['-A', 'INPUT', '-p', 'ipv6-icmp', '--icmpv6-type', 'echo-request', '-j', 'DROP'], { ipv6: true });
  for (const rule of [['-N', 'V4ONLY'], ['-A', 'INPUT', '-j', 'V4ONLY'], ['-A', 'V4ONLY', '-j', 'RETURN'], ['-A', 'V4ONLY', '-s', '10.9.9.9/32', '-j', 'ACCEPT']]) await net.blue.iptables(rule);
  await expect(net.red).toReach('fd00:15::2', { timeout: 5_000 }).catch(() => undefined); // (duplicate address detection)
  const msg = await failureOf(expect(net.red).toReach('fd00:15::2', { timeout: 800 }));
  expect(msg).toMatch(/\(FILTERED\)/);
  expect(msg).not.toMatch(/V4ONLY|no packet reaches/);
});

test('IPv4: a chain nothing jumps to is not named; the entered chain\'s rule after its RETURN is', async ({ lab }) => {
  const net = await bridgeNetwork(lab);
  await net.blue.policy('INPUT', 'DROP');
  for (const rule of [
    ['-N', 'LOOSE'], ['-A', 'LOOSE', '-j', 'RETURN'], ['-A', 'LOOSE', '-s', '10.9.9.9/32', '-j', 'ACCEPT'],
    ['-N', 'USED'], ['-A', 'INPUT', '-j', 'USED'], ['-A', 'USED', '-j', 'RETURN'], ['-A', 'USED', '-s', '192.168.15.1/32', '-j', 'ACCEPT'],
  ]) await net.blue.iptables(rule);
  const msg = await failureOf(expect(net.red).toReach('192.168.15.2', { timeout: 800 }));
  expect(msg).toMatch(/\(FILTERED\)/);
  expect(msg).toMatch(/blue: `-A USED -s 192\.168\.15\.1\/32 -j ACCEPT` comes after `-A USED -j RETURN`, which every packet matches and which ends the chain: no packet reaches it/);
  expect(msg).not.toMatch(/LOOSE/);
});
