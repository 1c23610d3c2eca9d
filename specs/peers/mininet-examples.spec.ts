// Peer suite: Mininet's example tests, re-expressed as netspec specs (no Mininet, no Open vSwitch: namespaces, veths
// and a Linux bridge in a lab).
//
// Upstream: mininet/mininet,
// - examples/test/test_linuxrouter.py (read at commit 484e4f015fa783fb35ed5479b3779b93a153115d), testLinuxRouter:
//   testPingall, testRouterPing, testTTL; on the topology of examples/linuxrouter.py (a router r0 on three subnets,
//   one host in each, default routes via r0);
// - examples/test/test_nat.py (read at commit 3e554aacc1441060fed04288f916a0895264eaaa), testNAT.testNAT: a host
//   behind Mininet's NAT node pings a public Internet address upstream (skipped there when the machine is offline).
//
// The cases are re-expressed, not transcribed. Differences from upstream:
// - Upstream drives the Mininet CLI with pexpect and parses "0% dropped" / "ttl=63"; here the assertions are matchers.
// - "The Internet" is the lab's wan (203.0.113.8 plays the public address upstream pings), so the NAT case never depends on the machine being
//   online and is never skipped; the NAT node is the lab host (forwarding + MASQUERADE), the switch a Linux bridge.
// - Every positive case has a negative twin: the router without ip_forward, the NAT without MASQUERADE.
//
// What netspec cannot say yet (done below by hand):
// 1. The TTL of the reply (`toReach({ ttl })` or a hop count): testTTL reads `ttl=` from a raw ping's output.
// 2. toHaveReachability('all') covers every namespace of the lab, the wan included; there is no "these nodes only"
//    form of 'all' (`lab.reachability(nodes)` has it, the matcher does not), so the mesh is written out.
import { describe, expect, test } from 'netspec/vitest';
import { bridgeNetwork, buildTopology } from 'netspec/fixtures';
import type { Lab, Netns } from 'netspec';

/** examples/linuxrouter.py's NetworkTopo: r0 (forwarding) with h1 192.168.1.0/24, h2 172.16.0.0/12, h3 10.0.0.0/8. */
async function linuxRouter(lab: Lab, options: { forwarding?: boolean } = {}) {
  const t = await buildTopology(lab, {
    namespaces: ['r0', 'h1', 'h2', 'h3'],
    veths: [
      { a: { ns: 'h1', name: 'h1-eth0', address: '192.168.1.100/24' }, b: { ns: 'r0', name: 'r0-eth1', address: '192.168.1.1/24' } },
      { a: { ns: 'h2', name: 'h2-eth0', address: '172.16.0.100/12' }, b: { ns: 'r0', name: 'r0-eth2', address: '172.16.0.1/12' } },
      { a: { ns: 'h3', name: 'h3-eth0', address: '10.0.0.100/8' }, b: { ns: 'r0', name: 'r0-eth3', address: '10.0.0.1/8' } },
    ],
    routes: {
      h1: [{ destination: 'default', via: '192.168.1.1' }],
      h2: [{ destination: 'default', via: '172.16.0.1' }],
      h3: [{ destination: 'default', via: '10.0.0.1' }],
    },
  });
  const { r0, h1, h2, h3 } = t.ns as Record<'r0' | 'h1' | 'h2' | 'h3', Netns>;
  if (options.forwarding !== false) await r0.forwarding(true);
  return { r0, h1, h2, h3 };
}

/** The TTL of the reply to one ping (testTTL's `ttl=(\d+)`), from a raw ping: netspec has no ttl assertion. */
async function replyTtl(from: Netns, address: string): Promise<number | undefined> {
  const r = await from.exec('ping', ['-n', '-c', '1', '-w', '3', address], { reject: false });
  const m = /ttl=(\d+)/.exec(r.stdout);
  return m ? Number(m[1]) : undefined;
}

describe('test_linuxrouter.py: a Linux router between three subnets', () => {
  test('testPingall: every host reaches every other host and the router, 0% dropped', async ({ lab }) => {
    await linuxRouter(lab);
    const hosts = { h1: '192.168.1.100', h2: '172.16.0.100', h3: '10.0.0.100' };
    const mesh: Record<string, Record<string, boolean>> = {};
    for (const [src] of Object.entries(hosts)) {
      mesh[src] = Object.fromEntries(Object.entries(hosts).filter(([dst]) => dst !== src).map(([, address]) => [address, true]));
      mesh[src]!['192.168.1.1'] = true; // r0 answers on any of its addresses
    }
    await expect(lab).toHaveReachability(mesh);
  });

  test('testPingall, negative: without ip_forward on r0, the hosts reach r0 but not each other', async ({ lab }) => {
    const { h1, h2 } = await linuxRouter(lab, { forwarding: false });
    await expect(h1).toReach('192.168.1.1');
    await expect(h1).not.toReach('172.16.0.100', { because: 'FORWARDING_DISABLED' });
    await expect(lab).toHaveReachability({ h2: { '10.0.0.100': false, '172.16.0.1': true }, h3: { '192.168.1.100': false } });
    await expect(h2).toRouteVia('10.0.0.100', '172.16.0.1'); // the route is there; the router does not forward
  });

  test('testRouterPing: h1 reaches r0, on its own subnet and on r0\'s other addresses', async ({ lab }) => {
    const { h1, r0 } = await linuxRouter(lab);
    await expect(h1).toReach(r0); // a namespace handle: r0's address on a link h1 shares (192.168.1.1)
    await expect(h1).toReach('10.0.0.1');
    await expect(h1).toHaveArpEntry('192.168.1.1', { dev: 'h1-eth0' });
    await expect(h1).not.toHaveArpEntry('10.0.0.1'); // routed, not on h1's link
  });

  test('testTTL: a reply across r0 arrives with TTL 63 (64 - 1), one from r0 itself with 64', async ({ lab }) => {
    const { h1 } = await linuxRouter(lab);
    await expect(h1).toReach('172.16.0.100');
    await expect(h1).toRouteVia('172.16.0.100', '192.168.1.1');
    expect(await replyTtl(h1, '172.16.0.100')).toBe(63);
    expect(await replyTtl(h1, '192.168.1.1')).toBe(64); // no router in between: the check can tell the difference
  });
});

describe('test_nat.py: a host behind a NAT reaches the Internet', () => {
  /** nat.py: h1..h3 on switch s1 (here the bridge s1), the NAT node at 10.0.0.254 as their default gateway. */
  const natNetwork = (lab: Lab) => bridgeNetwork(lab, { names: ['h1', 'h2', 'h3'], bridge: 's1', prefix: '10.0.0.0/24', gateway: 254, nat: true });

  test('testNAT: h1 pings the Internet (the wan\'s 203.0.113.8), seen there as the NAT\'s address', async ({ lab }) => {
    const net = await natNetwork(lab);
    await expect(net.h1).toRouteVia('203.0.113.8', '10.0.0.254');
    await expect(net.h1).toReach('203.0.113.8', { seenAs: net.wan!.hostAddress });
    await expect(net.h2).toReach(net.h3);
    await expect(lab).toHaveReachability({ h1: { '203.0.113.8': true }, h2: { '203.0.113.8': true }, h3: { '203.0.113.8': true } });
  });

  test('testNAT, negative: without MASQUERADE the request leaves but no reply comes back', async ({ lab }) => {
    const net = await natNetwork(lab);
    await lab.host.iptables(['-t', 'nat', '-F', 'POSTROUTING']);
    await expect(net.h1).toRouteVia('203.0.113.8', '10.0.0.254');
    await expect(net.h1).not.toReach('203.0.113.8', { because: 'NO_REPLY' });
    await expect(net.h1).toReach(net.h2); // the local segment is unaffected
  });
});
