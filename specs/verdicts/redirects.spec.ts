// A router's FORWARD DROP between two hosts on the same LAN does not keep them apart once the router has sent an ICMP
// redirect: the kernel learns "10.0.1.12 is on-link, go direct" (a route exception, `cache <redirected>`), and the next
// packets bypass the router and its rules. Found by the oracle (seed 20261211, case 86): its own probe taught c1 the
// redirect, so netspec's probe afterwards went direct and reached. netspec's verdict follows the path the kernel takes
// when it probes; the failing `.not` says the route came from a redirect, so the reader knows why the rule did not hold.
import { expect, test } from '../../src/vitest.js';
import type { Lab, Netns } from '../../src/index.js';
import { failureOf } from '../matchers/helpers.js';

/** c1 10.0.1.11, c2 10.0.1.12 and the router r 10.0.1.1 on one bridge; c1 sends c2's traffic by r, which drops it. */
async function lan(lab: Lab, options: { redirects: boolean }): Promise<{ c1: Netns; c2: Netns; r: Netns }> {
  const [c1, c2, r] = await Promise.all(['c1', 'c2', 'r'].map((n) => lab.netns(n))) as [Netns, Netns, Netns];
  const bridge = await lab.bridge('bra');
  await Promise.all([
    bridge.attach(r, { address: '10.0.1.1/24', ifname: 'eth-a' }),
    bridge.attach(c1, { address: '10.0.1.11/24', ifname: 'eth0' }),
    bridge.attach(c2, { address: '10.0.1.12/24', ifname: 'eth0' }),
  ]);
  await r.forwarding(true);
  if (!options.redirects) for (const key of ['net.ipv4.conf.all.send_redirects', 'net.ipv4.conf.eth-a.send_redirects']) await r.sysctl(key, 0);
  await c1.addRoute('10.0.1.12/32', { via: '10.0.1.1' });
  await r.exec('iptables', ['-A', 'FORWARD', '-s', '10.0.1.11', '-i', 'eth-a', '-j', 'DROP']);
  return { c1, c2, r };
}

test('after the router sent a redirect, c1 reaches c2 directly: .not.toReach fails and names the redirected route', async ({ lab }) => {
  const { c1, c2 } = await lan(lab, { redirects: true });
  // two echo requests through r: the first redirect makes c1 resolve c2's MAC, the second installs the exception
  const ping = await c1.exec('ping', ['-n', '-c', '3', '-i', '0.3', '-W', '1', '10.0.1.12'], { reject: false });
  expect(ping.stdout).toMatch(/Redirect Host\(New nexthop: 10\.0\.1\.12\)/);
  const route = await c1.routeGet('10.0.1.12');
  expect(route?.gateway).toBe('10.0.1.12');
  expect(route?.cache).toContain('redirected');
  await c2.exec('true'); // c2 exists and answers with netspec's responder
  const msg = await failureOf(expect(c1).not.toReach({ address: '10.0.1.12', port: 8080 }));
  expect(msg).toMatch(/c1 reached 10\.0\.1\.12:8080 \(tcp\).*route: via 10\.0\.1\.12 dev eth0 .*\(learned from an ICMP redirect, for \d+ s more: earlier packets went by the gateway the routing table names\)/);
  await expect(c1).toReach({ address: '10.0.1.12', port: 8080 });
});

test('with the router sending no redirects, its FORWARD DROP holds: not reached over ICMP, TCP and UDP, and no redirected route', async ({ lab }) => {
  const { c1 } = await lan(lab, { redirects: false });
  const ping = await c1.exec('ping', ['-n', '-c', '3', '-i', '0.3', '-W', '1', '10.0.1.12'], { reject: false });
  expect(ping.stdout).not.toMatch(/Redirect/);
  await expect(c1).not.toReach('10.0.1.12');
  await expect(c1).not.toReach({ address: '10.0.1.12', port: 8080 });
  await expect(c1).not.toReach({ address: '10.0.1.12', port: 53 }, { protocol: 'udp' });
  expect((await c1.routeGet('10.0.1.12'))?.cache ?? []).not.toContain('redirected');
});

test('the route in the explanation is the one the probe took: a policy rule "from" the source address sends it by the router', async ({ lab }) => {
  // c1's main table says on-link; `ip rule from 10.0.1.11 table 100` (default via r) is what its connections use
  const { c1 } = await lan(lab, { redirects: true });
  await c1.exec('ip', ['route', 'del', '10.0.1.12/32']);
  await c1.exec('ip', ['route', 'add', 'default', 'via', '10.0.1.1', 'table', '100']);
  await c1.exec('ip', ['rule', 'add', 'from', '10.0.1.11', 'table', '100']);
  // from the address, as a connection's packets are (a ping without -I is routed by the main table, straight to c2)
  const ping = await c1.exec('ping', ['-n', '-I', '10.0.1.11', '-c', '3', '-i', '0.3', '-W', '1', '10.0.1.12'], { reject: false });
  expect(ping.stdout).toMatch(/Redirect Host/);
  const msg = await failureOf(expect(c1).not.toReach({ address: '10.0.1.12', port: 8080 }));
  expect(msg).toMatch(/route: via 10\.0\.1\.12 dev eth0 src 10\.0\.1\.11 table 100 \(learned from an ICMP redirect/);
  // ping's raw socket is not bound to the address: the main table routes it, on-link, and that is the route named
  const icmp = await failureOf(expect(c1).not.toReach('10.0.1.12'));
  expect(icmp).toMatch(/c1 reached 10\.0\.1\.12 \(icmp\) within \d+ ms \(REACHED\); route: dev eth0 src 10\.0\.1\.11(;|\n)/);
});

// The probe itself can be what teaches c1 the redirect: in a fresh lab its first SYN (or datagram) goes by r, which drops
// it and answers with a redirect; a client's retransmission a second later goes direct and connects. A `.not` window of
// 400 ms holds one try, so it saw nothing and passed: a false pass. netspec now counts the redirects the source
// received (the kernel's Icmp InRedirects): a window during which one came is tried again, on the path the kernel now takes.
test.for(['tcp', 'udp'] as const)('a fresh lab, %s: the .not probe is redirected itself; it tries the new path and fails, as a client retrying connects', async (protocol, { lab }) => {
  const { c1, c2 } = await lan(lab, { redirects: true });
  expect((await c1.routeGet('10.0.1.12'))?.cache ?? []).not.toContain('redirected');
  await c2.exec('true');
  const msg = await failureOf(expect(c1).not.toReach({ address: '10.0.1.12', port: 8080 }, { protocol }));
  expect(msg).toMatch(/c1 reached 10\.0\.1\.12:8080 \(/);
  expect(msg).toMatch(/learned from an ICMP redirect/);
  expect(msg).toMatch(/ICMP redirect\(s\) received during the window/);
});

test('c1 already knows the router (its first SYN goes out at once, and its redirect is dropped while connect() holds the socket): .not over TCP still fails', async ({ lab }) => {
  const { c1, c2 } = await lan(lab, { redirects: true });
  await expect(c1).toReach('10.0.1.1');
  await c2.exec('true');
  const msg = await failureOf(expect(c1).not.toReach({ address: '10.0.1.12', port: 8080 }));
  expect(msg).toMatch(/c1 reached 10\.0\.1\.12:8080 \(tcp\)/);
  expect(msg).toMatch(/ICMP redirect\(s\) received during the window/);
});

test('the ground truth of the case above: a plain client connects after its retransmission, with no probe before it', async ({ lab }) => {
  const { c1, c2 } = await lan(lab, { redirects: true });
  const server = await c2.exec('sh', ['-c', 'socat -T5 TCP-LISTEN:8080,reuseaddr SYSTEM:"echo hi" >/dev/null 2>&1 & echo $!']);
  try {
    const client = await c1.exec('socat', ['-T5', '-', 'TCP:10.0.1.12:8080,connect-timeout=5'], { reject: false });
    expect(client.stdout).toBe('hi\n');
    expect((await c1.routeGet('10.0.1.12'))?.cache).toContain('redirected');
  } finally {
    await c2.exec('kill', [server.stdout.trim()], { reject: false });
  }
});

test('a source that ignores redirects (accept_redirects 0): the redirects come, the route stays, and .not holds over TCP and UDP', async ({ lab }) => {
  const { c1 } = await lan(lab, { redirects: true });
  for (const key of ['net.ipv4.conf.all.accept_redirects', 'net.ipv4.conf.eth0.accept_redirects']) await c1.sysctl(key, 0);
  await expect(c1).not.toReach({ address: '10.0.1.12', port: 8080 });
  await expect(c1).not.toReach({ address: '10.0.1.12', port: 8080 }, { protocol: 'udp' });
  expect((await c1.routeGet('10.0.1.12'))?.cache ?? []).not.toContain('redirected');
  // the redirects did come (so the windows were tried again, and still nothing got through)
  expect(Number(/^IcmpInRedirects\s+(\d+)/m.exec((await c1.exec('nstat', ['-az', 'IcmpInRedirects'])).stdout)?.[1])).toBeGreaterThan(0);
});

test('an exposure sweep through the same router: its first probes draw the redirects, and every port is found reached on the direct path', async ({ lab }) => {
  const { c1 } = await lan(lab, { redirects: true });
  const msg = await failureOf(expect(c1).not.toReachAny('10.0.1.12'));
  expect(msg).toMatch(/c1 reaches 65535 TCP ports of 10\.0\.1\.12: 1-65535/);
  expect((await c1.routeGet('10.0.1.12'))?.cache).toContain('redirected');
}, 60_000);

test.for(['eth0', '10.0.1.11'])('the same with the probe bound by from: %s: .not over TCP fails in a fresh lab', async (from, { lab }) => {
  const { c1, c2 } = await lan(lab, { redirects: true });
  await c2.exec('true');
  const msg = await failureOf(expect(c1).not.toReach({ address: '10.0.1.12', port: 8080 }, { from }));
  expect(msg).toMatch(/c1 reached 10\.0\.1\.12:8080 \(tcp\)/);
  expect(msg).toMatch(/ICMP redirect\(s\) received during the window/);
});
