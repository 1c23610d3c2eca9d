// toReach: pass, fail, .not pass, .not fail, and every disposition from a real misconfiguration.
import { describe, expect, test } from '../../src/vitest.js';
import { InvalidInputError } from '../../src/index.js';
import { bridgeNetwork } from '../../fixtures/index.js';
import { failureOf, tutorial } from './helpers.js';

describe('toReach', () => {
  test('passes when packets get through; .not fails then, saying what reached and how', async ({ lab }) => {
    const net = await tutorial(lab);
    const [red, blue] = net.nodes as [typeof lab.host, typeof lab.host];
    await expect(red).toReach('192.168.15.2');
    await expect(red).toReach(blue);
    const msg = await failureOf(expect(red).not.toReach('203.0.113.8'));
    expect(msg).toMatch(/^expect\(red\)\.not\.toReach\("203\.0\.113\.8"\)/);
    expect(msg).toMatch(/red reached 203\.0\.113\.8 \(icmp\) within \d+ ms \(REACHED\); route: via 192\.168\.15\.3 dev veth-red src 192\.168\.15\.1/);
  });

  test('.not passes only after its whole window, and positive failure takes its timeout', async ({ lab }) => {
    const net = await tutorial(lab);
    const { red } = net;
    const t0 = performance.now();
    await expect(red).not.toReach('192.168.15.99', { window: 300 });
    expect(performance.now() - t0).toBeGreaterThanOrEqual(250); // it watched, it did not decide early
    // the positive assertion on the same unreachable address keeps trying for its whole timeout before it fails
    const t1 = performance.now();
    const msg = await failureOf(expect(red).toReach('192.168.15.99', { timeout: 2000 }));
    expect(performance.now() - t1).toBeGreaterThanOrEqual(1950);
    expect(msg).toMatch(/red cannot reach 192\.168\.15\.99 \(icmp\) \(NEIGHBOR_UNREACHABLE\) within 2000 ms/);
  });

  test('NO_ROUTE: no route in the source', async ({ lab }) => {
    const net = await bridgeNetwork(lab, { gateway: 3, defaultRoutes: false });
    const msg = await failureOf(expect(net.red).toReach('203.0.113.8', { timeout: 300 }));
    expect(msg).toMatch(/\(NO_ROUTE\)/);
    expect(msg).toMatch(/red: no route to 203\.0\.113\.8/);
    expect(msg).toMatch(/commands:\n\s+red\$ ping/);
  });

  test('NEIGHBOR_UNREACHABLE: the peer is on another subnet, so ARP never resolves', async ({ lab }) => {
    const [red, blue] = await Promise.all([lab.netns('red'), lab.netns('blue')]);
    const br = await lab.bridge('v-net-0');
    await br.attach(red, { address: '192.168.15.1/24' });
    await br.attach(blue, { address: '192.168.51.2/24' }); // a typo: 51 for 15
    const msg = await failureOf(expect(red).toReach('192.168.15.2', { timeout: 500 }));
    expect(msg).toMatch(/\(NEIGHBOR_UNREACHABLE\)/);
    expect(msg).toMatch(/neighbor 192\.168\.15\.2 on veth-red is (INCOMPLETE|FAILED|absent)/);
    expect(msg).toMatch(/no namespace in the lab has 192\.168\.15\.2/);
  });

  test('FORWARDING_DISABLED: the gateway does not route', async ({ lab }) => {
    const net = await tutorial(lab);
    await lab.host.forwarding(false);
    const msg = await failureOf(expect(net.red).toReach('203.0.113.8', { timeout: 500 }));
    expect(msg).toMatch(/\(FORWARDING_DISABLED\)/);
    expect(msg).toMatch(/host \(192\.168\.15\.3\): forwarding is off \(net\.ipv4\.ip_forward=0\)/);
    await lab.host.forwarding(true);
    await expect(net.red).toReach('203.0.113.8');
  });

  test('FILTERED: the FORWARD policy DROP on a routed path names the policy', async ({ lab }) => {
    const net = await tutorial(lab);
    await lab.host.policy('FORWARD', 'DROP');
    const msg = await failureOf(expect(net.red).toReach('203.0.113.8', { timeout: 500 }));
    expect(msg).toMatch(/\(FILTERED\)/);
    expect(msg).toMatch(/host: dropped by the FORWARD policy DROP \(table filter\) — icmp echo-request 192\.168\.15\.1 → 203\.0\.113\.8 \(iif v-net-0, oif uplink0\) \(kernel trace\)/);
  });

  test('FILTERED: an iptables rule dropping a port names the rule', async ({ lab }) => {
    const net = await tutorial(lab);
    const { blue } = net;
    await blue.iptables(['-A', 'INPUT', '-p', 'tcp', '--dport', '8080', '-j', 'DROP']);
    const msg = await failureOf(expect(net.red).toReach({ address: '192.168.15.2', port: 8080 }, { timeout: 500 }));
    expect(msg).toMatch(/\(FILTERED\)/);
    expect(msg).toMatch(/blue: dropped by rule `-A INPUT -p tcp -m tcp --dport 8080 -j DROP`/);
    await expect(net.red).toReach({ address: '192.168.15.2', port: 8081 }); // another port still works
  });

  test('REFUSED: TCP to a closed port, UDP to a port nobody listens on', async ({ lab }) => {
    const net = await tutorial(lab);
    const { red } = net;
    const tcp = await failureOf(expect(red).toReach({ address: '192.168.15.2', port: 9 }, { responder: false, timeout: 300 }));
    expect(tcp).toMatch(/\(REFUSED\)/);
    expect(tcp).toMatch(/192\.168\.15\.2:9: answered with a refusal/);
    const udp = await failureOf(expect(red).toReach({ address: '192.168.15.2', port: 9 }, { protocol: 'udp', responder: false, timeout: 300 }));
    expect(udp).toMatch(/\(REFUSED\)/);
    await expect(red).not.toReach({ address: '192.168.15.2', port: 9 }, { responder: false });
  });

  test('TCP and UDP reach a responder, or the user\'s own server', async ({ lab }) => {
    const net = await tutorial(lab);
    const [red, blue] = net.nodes as [typeof lab.host, typeof lab.host];
    await expect(red).toReach({ address: '192.168.15.2', port: 80 });
    await expect(red).toReach(blue, { protocol: 'udp', port: 53 });
    // the user's own server: socat answering "hello" on 7000, for one connection only (no fork), saying whom it served
    const server = blue.exec('timeout', ['10', 'socat', '-d', '-d', 'TCP4-LISTEN:7000,reuseaddr', 'SYSTEM:echo hello'], { reject: false });
    for (let i = 0; !(await blue.exec('ss', ['-H', '-ltn', 'sport = :7000'])).stdout.trim(); i++) {
      if (i > 100) throw new Error('the user\'s server never listened on 7000');
      await new Promise((r) => setTimeout(r, 50));
    }
    await expect(red).toReach({ address: '192.168.15.2', port: 7000 });
    // the probe's connection is the one the user's server accepted (so no responder stood in for it), and it has ended
    const served = await server;
    // (from red, as 192.168.15.1, or as the host's .3: the tutorial's MASQUERADE also covers bridged traffic here)
    expect(served.stderr).toMatch(/accepting connection from AF=2 192\.168\.15\.[13]:\d+ on AF=2 192\.168\.15\.2:7000/);
  });

  test('NO_REPLY: without MASQUERADE the wan has no way back; seenAs proves the NAT', async ({ lab }) => {
    const net = await bridgeNetwork(lab, { nat: true });
    const { red } = net;
    await expect(red).toReach('203.0.113.8', { seenAs: net.wan!.hostAddress });
    await lab.host.iptables(['-t', 'nat', '-F', 'POSTROUTING']);
    const msg = await failureOf(expect(red).toReach('203.0.113.8', { timeout: 600 }));
    expect(msg).toMatch(/red cannot reach 203\.0\.113\.8 \(icmp\) \(NO_REPLY\)/);
    expect(msg).toMatch(/route to 203\.0\.113\.8 via 192\.168\.15\.3 dev veth-red src 192\.168\.15\.1/);
    expect(msg).toMatch(/192\.168\.15\.3 on veth-red is (REACHABLE|STALE|DELAY)/);
    expect(msg).toMatch(/host \(192\.168\.15\.3\): forwards; FORWARD policy ACCEPT/);
    expect(msg).toMatch(/no MASQUERADE covers 192\.168\.15\.1/);
    expect(msg).toMatch(/wan \(203\.0\.113\.8\): no route back to 192\.168\.15\.1/);
    const seen = await failureOf(expect(red).toReach('203.0.113.8', { seenAs: net.wan!.hostAddress, timeout: 600 }));
    expect(seen).toMatch(/NO_REPLY/);
  });

  test('IPv6: a bridge with IPv6 addresses, on-link and routed', async ({ lab }) => {
    const [red, blue] = await Promise.all([lab.netns('red'), lab.netns('blue')]);
    const br = await lab.bridge('v-net-0', { address: 'fd00:15::3/64' });
    await br.attach(red, { address: 'fd00:15::1/64', gateway: true });
    await br.attach(blue, { address: 'fd00:15::2/64' });
    await blue.addAddress('fd00:99::2/64', 'lo');
    await lab.host.addRoute('fd00:99::/64', { via: 'fd00:15::2' });
    await lab.host.forwarding(true, { ipv6: true });
    await expect(red).toReach('fd00:15::2');
    await expect(red).toReach(blue);
    await expect(red).toRouteVia('fd00:99::2', 'fd00:15::3');
    await expect(blue).not.toReach('fd00:99::1', { window: 200 });
    await expect(red).toReach({ address: 'fd00:15::2', port: 80 });
    await expect(red).toHaveArpEntry('fd00:15::2');
    await expect(lab.host).toForward({ ipv6: true });
  });

  test('wrong input throws, so .not cannot turn it into a pass', async ({ lab }) => {
    const red = await lab.netns('red');
    await expect(expect(red).not.toReach('192.168.15.300')).rejects.toBeInstanceOf(InvalidInputError);
    await expect(expect(red).not.toReach('10.0.0.1', { tiemout: 5 } as never)).rejects.toThrow(/unknown option; toReach takes/);
    await expect(expect(red).not.toReach('10.0.0.1', { timeout: 'soon' } as never)).rejects.toThrow(/expected a number/);
    await expect(expect('red').not.toReach('10.0.0.1')).rejects.toThrow(/expected a lab namespace handle/);
    await expect(expect(red).not.toReach({ address: '10.0.0.1', port: 70000 })).rejects.toThrow(/from 1 to 65535/);
  });
});
