// A diagnosis tells the kernel trace's sightings in the order the packets went: the probe's packets from the source
// hop by hop, then the answers. nft monitor prints no time and each namespace has its own monitor, so netspec orders
// them by the packets' TTL and direction; reading them monitor by monitor told the lab host first.
import { expect, test } from '../../src/vitest.js';
import { failureOf, tutorial } from '../matchers/helpers.js';

test('the kernel trace line follows the packet: red sent, host received, wan received (no way back without NAT)', async ({ lab }) => {
  const net = await tutorial(lab);
  const red = net.nodes[0]!;
  await lab.host.iptables(['-t', 'nat', '-F', 'POSTROUTING']);
  const msg = await failureOf(expect(red).toReach('203.0.113.8', { timeout: 500 }));
  expect(msg).toMatch(/\(NO_REPLY\)/);
  expect(msg).toMatch(
    /kernel trace: red sent icmp echo-request 192\.168\.15\.1 → 203\.0\.113\.8 \(oif veth-red\); host received icmp echo-request 192\.168\.15\.1 → 203\.0\.113\.8 \(iif v-net-0\); \S+ received icmp echo-request 192\.168\.15\.1 → 203\.0\.113\.8/,
  );
});

test('with NAT, the answer comes after the request, back the same way', async ({ lab }) => {
  const net = await tutorial(lab);
  const red = net.nodes[0]!;
  // the reply comes back to red, but red's INPUT drops it: the trace has the whole round trip
  await red.iptables(['-A', 'INPUT', '-p', 'icmp', '--icmp-type', 'echo-reply', '-j', 'DROP']);
  const msg = await failureOf(expect(red).toReach('203.0.113.8', { timeout: 500 }));
  expect(msg).toMatch(/red: dropped by rule `-A INPUT -p icmp -m icmp --icmp-type 0 -j DROP` \(table filter\)/);
  const line = /kernel trace: (.*)/.exec(msg)?.[1] ?? '';
  const order = line.split('; ').map((s) => s.replace(/ icmp (echo-\w+) (\S+) → (\S+).*/, ' $1 $2→$3'));
  expect(order.slice(0, 6)).toEqual([
    'red sent echo-request 192.168.15.1→203.0.113.8',
    'host received echo-request 192.168.15.1→203.0.113.8',
    expect.stringMatching(/^\S+ received echo-request 198\.51\.100\.2→203\.0\.113\.8$/),
    expect.stringMatching(/^\S+ sent echo-reply 203\.0\.113\.8→198\.51\.100\.2$/),
    'host received echo-reply 203.0.113.8→198.51.100.2',
    'red received echo-reply 203.0.113.8→192.168.15.1',
  ]);
});
