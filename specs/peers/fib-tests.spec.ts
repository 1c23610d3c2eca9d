// Peer suite: the Linux kernel's FIB selftests, re-expressed in netspec's terms.
//
// Upstream: torvalds/linux, tools/testing/selftests/net/fib_tests.sh (read at commit 01b59c763fe2de845b65900485b141fdd7bbf93e).
// Test functions covered: fib_unreg_test (fib_unreg_unicast_test, fib_unreg_multipath_test), fib_down_test
// (fib_down_unicast_test, fib_down_multipath_test), fib_carrier_test (fib_carrier_local_test,
// fib_carrier_unicast_test), ipv4_route_test (ipv4_rt_add, ipv4_rt_replace_single, ipv4_rt_replace_mpath) and
// ipv4_route_metrics_test. Not covered: fib_rp_filter_test (it loops packets back with tc mirred on dummy devices),
// fib_nexthop_test (VRF), fib_suppress_test, the IPv6 route/metric tests and ipv4_route_v6_gw_test.
//
// The cases are re-expressed, not transcribed. Differences from upstream:
// - This kernel has no `dummy` module, so where upstream hangs addresses on dummy0/dummy1 (a device with no peer), the
//   namespace under test (ns1) gets veth pairs whose other ends live in a second namespace (ns2). That gives every
//   route a real next hop, so each case also sends packets (toReach) where upstream only asks the FIB.
// - veth has no `ip link set … carrier on|off` (EOPNOTSUPP); carrier is taken away by setting the peer end down.
// - Upstream's ns2 keeps 172.16.104.1/24 on a dummy; here ns2 has 172.16.104.1/32 on lo.
//
// What netspec cannot say yet (each is done below with `ns.exec('ip', [...])`, JSON read and asserted by hand):
// (1. fibmatch and oif: closed; toRouteVia takes `fibmatch` (with `prefix`) and `oif`. Still raw: "the lookup is
//    refused" for a lookup pinned to a down device; toRouteVia names a refusal's type but has no "refused, any errno".)
// (2. Multipath routes: closed; `addRoute(p, { nexthops })`, toHaveRouteEntry's `nexthops`: every path, with weights.)
// (3. The `linkdown` flag: closed; toHaveRouteEntry's `flags`, per path in `nexthops` too.)
// 4. `ip route append` / `prepend` / `change` / `flush`: no API (`replaceRoute` closed that part; a reject route's or
//    a multipath route's EEXIST is a ConflictError now).
// (5. Route types and metrics: closed; addRoute and toHaveRouteEntry take `type` and `metric`.)
// (6. deleteRoute by metric: closed; `deleteRoute(p, { metric, table, type, via, dev })`.)
// 7. Route metrics in the RTAX sense (`mtu`, `congctl`, …) on addRoute and in toHaveRouteEntry.
// (8. A carrier wait: closed; toHaveLink takes `carrier` and `timeout`.)
// 9. toReach has no packet size / DF option (`ping -s 1500 -M do`), so "a route's mtu fragments or refuses a big
//    packet" is a raw ping.
// (10. A veth end's admin state in a topology: closed, a veth end takes `up: false` (lab.veth and buildTopology).)
import { describe, expect, test } from 'netspec/vitest';
import { buildTopology } from 'netspec/fixtures';
import { ConflictError, type Lab, type Netns, type RouteInfo } from 'netspec';

/** `ip ARGS` in `ns`, not throwing: upstream's tests mostly ask "did the kernel accept this" (exit code). */
const ip = (ns: Netns, ...args: string[]) => ns.exec('ip', args, { reject: false });

/** `ip -j ARGS` in `ns`, parsed; `undefined` when ip refuses (e.g. a lookup with no route). */
async function ipj<T = RouteInfo[]>(ns: Netns, ...args: string[]): Promise<T | undefined> {
  const r = await ip(ns, '-j', ...args);
  if (r.exitCode !== 0) return undefined;
  return (r.stdout.trim() ? JSON.parse(r.stdout) : []) as T;
}

/** The FIB entry that a lookup of `address` hits (`ip route get fibmatch`), or undefined when there is none. */
async function fibmatch(ns: Netns, address: string, ...more: string[]): Promise<RouteInfo | undefined> {
  const six = address.includes(':') ? ['-6'] : [];
  return (await ipj(ns, ...six, 'route', 'get', 'fibmatch', address, ...more))?.[0];
}

/** The routes to exactly `prefix` in the main table (`ip route show match` lists covering routes too). */
async function routesTo(ns: Netns, prefix: string): Promise<RouteInfo[]> {
  const six = prefix.includes(':') ? ['-6'] : ['-4'];
  const all = (await ipj(ns, ...six, 'route', 'show', 'exact', prefix)) ?? [];
  return all;
}

/**
 * Wait for a link's operational state: the kernel's link watcher reports carrier changes asynchronously, at most once
 * a second per device, so a second change can take over a second: toHaveLink waits up to its `timeout`.
 */
async function operstate(ns: Netns, dev: string, state: string) {
  await expect(ns).toHaveLink(dev, { state, timeout: 5000 });
}

/** A row of a route for comparing with upstream's expected `ip route` lines: gateway/dev per path, type, metric. */
const paths = (r: RouteInfo) => (r.nexthops ?? [{ gateway: r.gateway, dev: r.dev, flags: r.flags }]).map((h) => `${h.gateway ?? '-'}@${h.dev ?? '-'}`);

/**
 * fib_tests.sh's `setup`: ns1 with forwarding on and 198.51.100.1/24 + 2001:db8:1::1/64 on the first device; here the
 * device is veth0, cabled to ns2 (198.51.100.2, 2001:db8:1::2), and a second cable veth1 (192.0.2.0/24,
 * 2001:db8:2::/64) for the multipath cases. ns2 answers for 203.0.113.1 and 2001:db8:3::1 on its lo.
 */
async function fibSetup(lab: Lab) {
  const t = await buildTopology(lab, {
    namespaces: ['ns1', 'ns2'],
    veths: [
      { a: { ns: 'ns1', name: 'veth0', address: '198.51.100.1/24' }, b: { ns: 'ns2', name: 'veth0p', address: '198.51.100.2/24' } },
      { a: { ns: 'ns1', name: 'veth1', address: '192.0.2.1/24' }, b: { ns: 'ns2', name: 'veth1p', address: '192.0.2.2/24' } },
    ],
  });
  const { ns1, ns2 } = t.ns;
  await Promise.all([
    ns1.forwarding(true, { ipv6: true }),
    ns1.addAddress('2001:db8:1::1/64', 'veth0'),
    ns1.addAddress('2001:db8:2::1/64', 'veth1'),
    ns2.addAddress('2001:db8:1::2/64', 'veth0p'),
    ns2.addAddress('2001:db8:2::2/64', 'veth1p'),
    ns2.addAddress('203.0.113.1/32', 'lo'),
    ns2.addAddress('2001:db8:3::1/128', 'lo'),
  ]);
  return { ns1: ns1!, ns2: ns2! };
}

/** fib_unreg_multipath_test / fib_down_multipath_test: 203.0.113.0/24 and 2001:db8:3::/64 over both cables. */
async function addMultipath(ns1: Netns) {
  await ns1.addRoute('203.0.113.0/24', { nexthops: [{ via: '198.51.100.2', dev: 'veth0' }, { via: '192.0.2.2', dev: 'veth1' }] });
  await ns1.addRoute('2001:db8:3::/64', { nexthops: [{ via: '2001:db8:1::2', dev: 'veth0' }, { via: '2001:db8:2::2', dev: 'veth1' }] });
}

describe('fib_unreg_test: routes through a device that is deleted', () => {
  test('fib_unreg_unicast_test: the connected route goes with its device, and so does the way to the peer', async ({ lab }) => {
    const { ns1 } = await fibSetup(lab);
    await expect(ns1).toRouteVia('198.51.100.2', { dev: 'veth0' });
    expect(await fibmatch(ns1, '198.51.100.2')).toMatchObject({ dst: '198.51.100.0/24', dev: 'veth0' });
    expect(await fibmatch(ns1, '2001:db8:1::2')).toMatchObject({ dst: '2001:db8:1::/64', dev: 'veth0' });
    await expect(ns1).toReach('198.51.100.2');

    expect((await ip(ns1, 'link', 'del', 'dev', 'veth0')).exitCode).toBe(0);
    expect(await fibmatch(ns1, '198.51.100.2')).toBeUndefined();
    expect(await fibmatch(ns1, '2001:db8:1::2')).toBeUndefined();
    await expect(ns1).not.toHaveRouteEntry({ destination: '198.51.100.0/24' });
    await expect(ns1).not.toRouteVia('198.51.100.2', { dev: 'veth0' });
    await expect(ns1).not.toReach('198.51.100.2', { because: 'NO_ROUTE' });
  });

  test('fib_unreg_multipath_test: IPv4 drops the whole multipath route, IPv6 keeps the path that is left', async ({ lab }) => {
    const { ns1 } = await fibSetup(lab);
    await addMultipath(ns1);
    await expect(ns1).toHaveRouteEntry({ destination: '203.0.113.0/24', nexthops: [{ via: '198.51.100.2', dev: 'veth0' }, { via: '192.0.2.2', dev: 'veth1' }] });
    await expect(ns1).toHaveRouteEntry({ destination: '2001:db8:3::/64', nexthops: [{ via: '2001:db8:1::2', dev: 'veth0' }, { via: '2001:db8:2::2', dev: 'veth1' }] });
    expect((await fibmatch(ns1, '203.0.113.1'))?.nexthops).toHaveLength(2);
    expect((await fibmatch(ns1, '2001:db8:3::1'))?.nexthops).toHaveLength(2);
    await expect(ns1).toReach('203.0.113.1');

    expect((await ip(ns1, 'link', 'del', 'dev', 'veth0')).exitCode).toBe(0);
    // IPv4: one nexthop device gone takes the whole route with it, though veth1 still leads to ns2
    expect(await fibmatch(ns1, '203.0.113.1')).toBeUndefined();
    await expect(ns1).not.toHaveRouteEntry({ destination: '203.0.113.0/24' });
    await expect(ns1).not.toReach('203.0.113.1', { because: 'NO_ROUTE' });
    // IPv6: down to the one path through veth1
    const v6 = await fibmatch(ns1, '2001:db8:3::1');
    expect(v6 && paths(v6)).toEqual(['2001:db8:2::2@veth1']);
    await expect(ns1).toHaveRouteEntry({ destination: '2001:db8:3::/64', nexthops: [{ via: '2001:db8:2::2', dev: 'veth1' }] });
    await expect(ns1).toRouteVia('2001:db8:3::1', '2001:db8:2::2', { fibmatch: true, prefix: '2001:db8:3::/64', dev: 'veth1' });
    await expect(ns1).toReach('2001:db8:3::1');

    expect((await ip(ns1, 'link', 'del', 'dev', 'veth1')).exitCode).toBe(0);
    expect(await fibmatch(ns1, '2001:db8:3::1')).toBeUndefined();
    await expect(ns1).not.toReach('2001:db8:3::1', { because: 'NO_ROUTE' });
  });
});

describe('fib_down_test: routes through a device set administratively down', () => {
  test('fib_down_unicast_test: the connected routes are deleted on down', async ({ lab }) => {
    const { ns1 } = await fibSetup(lab);
    await expect(ns1).toHaveRouteEntry({ destination: '198.51.100.0/24', dev: 'veth0' });
    await expect(ns1).toReach('198.51.100.2');

    await ns1.down('veth0');
    await expect(ns1).toHaveLink('veth0', { state: 'DOWN' });
    expect(await fibmatch(ns1, '198.51.100.2')).toBeUndefined();
    expect(await fibmatch(ns1, '2001:db8:1::2')).toBeUndefined();
    await expect(ns1).not.toHaveRouteEntry({ destination: '198.51.100.0/24', dev: 'veth0' });
    await expect(ns1).not.toReach('198.51.100.2', { because: 'NO_ROUTE' });
  });

  test('fib_down_multipath_test: the down path is marked dead linkdown and skipped; both down, the route is gone', async ({ lab, expect }) => {
    const { ns1 } = await fibSetup(lab);
    await addMultipath(ns1);

    /** fib_down_multipath_test_do: a lookup pinned to the down device fails, to the up device works; flags per path. */
    const check = async (down: string, up: string) => {
      for (const dst of ['203.0.113.1', '2001:db8:3::1']) {
        expect(await fibmatch(ns1, dst, 'oif', down), `${dst} oif ${down}`).toBeUndefined();
        await expect(ns1).toRouteVia(dst, { fibmatch: true, oif: up, dev: up });
        const prefix = dst.includes(':') ? '2001:db8:3::/64' : '203.0.113.0/24';
        await expect(ns1).toHaveRouteEntry({ destination: prefix, dev: down, flags: ['dead', 'linkdown'] });
        await expect(ns1).not.toHaveRouteEntry({ destination: prefix, dev: up, flags: ['dead'] });
        await expect(ns1).not.toHaveRouteEntry({ destination: prefix, dev: up, flags: ['linkdown'] });
      }
      // real packets take the path that is left
      await expect(ns1).toReach('203.0.113.1');
      await expect(ns1).toReach('2001:db8:3::1');
    };

    await ns1.down('veth0');
    await check('veth0', 'veth1');
    await ns1.up('veth0');
    // the dead path revives when the kernel's link watcher reports the carrier (asynchronously, as upstream's tests
    // know): wait for it before the other path goes, or the route would have no live path and be deleted
    await operstate(ns1, 'veth0', 'UP');
    await ns1.down('veth1');
    await check('veth1', 'veth0');

    await ns1.down('veth0');
    expect(await fibmatch(ns1, '203.0.113.1')).toBeUndefined();
    expect(await fibmatch(ns1, '2001:db8:3::1')).toBeUndefined();
    await expect(ns1).not.toReach('203.0.113.1', { because: 'NO_ROUTE' });
  });
});

describe('fib_carrier_test: carrier lost under a route (veth: the peer end set down)', () => {
  /** Upstream sets carrier off on a dummy; a veth has no such knob, so the peer goes down and veth0 loses carrier. */
  const carrierOff = async (ns1: Netns, ns2: Netns) => {
    expect((await ip(ns1, 'link', 'set', 'dev', 'veth0', 'carrier', 'off')).exitCode).not.toBe(0); // why the peer is used
    await ns2.down('veth0p');
    // operstate DOWN while admin up: no carrier
    await expect(ns1).toHaveLink('veth0', { state: 'DOWN', carrier: false, timeout: 5000 });
    const veth0 = (await ns1.links()).find((l) => l.ifname === 'veth0');
    expect(veth0?.flags).toEqual(expect.arrayContaining(['UP', 'NO-CARRIER']));
    // the kernel flags routes linkdown from its link watcher, a moment after the carrier goes (upstream sleeps 1 s)
    await expect.poll(async () => (await fibmatch(ns1, '198.51.100.2'))?.flags ?? [], { timeout: 5000 }).toContain('linkdown');
  };

  test('fib_carrier_local_test: routes to the namespace\'s own addresses never get linkdown', async ({ lab }) => {
    const { ns1, ns2 } = await fibSetup(lab);
    for (const a of ['198.51.100.1', '2001:db8:1::1']) {
      const r = await fibmatch(ns1, a);
      expect(r?.type, a).toBe('local');
      expect(r?.flags ?? [], a).not.toContain('linkdown');
    }
    await carrierOff(ns1, ns2);
    for (const a of ['198.51.100.1', '2001:db8:1::1']) expect((await fibmatch(ns1, a))?.flags ?? [], a).not.toContain('linkdown');
    await ns1.addAddress('192.0.2.101/24', 'veth0');
    await ns1.addAddress('2001:db8:2::101/64', 'veth0');
    for (const a of ['192.0.2.101', '2001:db8:2::101']) {
      const r = await fibmatch(ns1, a);
      expect(r?.type, a).toBe('local');
      expect(r?.flags ?? [], a).not.toContain('linkdown');
    }
    // its own address: local delivery, carrier or not (a raw ping: toReach refuses a source's own address, issue 22)
    expect((await ns1.exec('ping', ['-n', '-c', '1', '-W', '2', '198.51.100.1'], { reject: false })).stdout).toMatch(/1 received/);
  });

  test('fib_carrier_unicast_test: the route through the link stays but is flagged linkdown, and the peer is out of reach', async ({ lab, expect }) => {
    const { ns1, ns2 } = await fibSetup(lab);
    for (const a of ['198.51.100.2', '2001:db8:1::2']) expect((await fibmatch(ns1, a))?.flags ?? [], a).not.toContain('linkdown');
    await expect(ns1).toReach('198.51.100.2');

    await carrierOff(ns1, ns2);
    for (const a of ['198.51.100.2', '2001:db8:1::2']) expect((await fibmatch(ns1, a))?.flags, a).toContain('linkdown');
    // the route is still there, flagged, and the packets go nowhere
    await expect(ns1).toHaveRouteEntry({ destination: '198.51.100.0/24', dev: 'veth0', flags: ['linkdown'] });
    await expect(ns1).toHaveRouteEntry({ destination: '2001:db8:1::/64', dev: 'veth0', flags: ['linkdown'] });
    await expect(ns1).not.toReach('198.51.100.2');

    // an address added while the carrier is down: its prefix route is linkdown from the start
    await ns1.addAddress('10.9.0.1/24', 'veth0');
    await ns1.addAddress('2001:db8:9::1/64', 'veth0');
    for (const a of ['10.9.0.2', '2001:db8:9::2']) expect((await fibmatch(ns1, a))?.flags, a).toContain('linkdown');

    await ns2.up('veth0p');
    await operstate(ns1, 'veth0', 'UP');
    await expect.poll(async () => (await fibmatch(ns1, '198.51.100.2'))?.flags ?? [], { timeout: 5000 }).not.toContain('linkdown');
    await expect(ns1).toReach('198.51.100.2');
  });
});

/**
 * fib_tests.sh's `route_setup`: ns1 veth1 172.16.101.1/24 — ns2 veth2 .2, ns1 veth3 172.16.103.1/24 — ns2 veth4 .2;
 * ns2 forwards and owns 172.16.104.1 (on lo here, a dummy upstream), the destination of the routes under test.
 */
async function routeSetup(lab: Lab) {
  const t = await buildTopology(lab, {
    namespaces: ['ns1', 'ns2'],
    veths: [
      { a: { ns: 'ns1', name: 'veth1', address: '172.16.101.1/24' }, b: { ns: 'ns2', name: 'veth2', address: '172.16.101.2/24' } },
      { a: { ns: 'ns1', name: 'veth3', address: '172.16.103.1/24' }, b: { ns: 'ns2', name: 'veth4', address: '172.16.103.2/24' } },
    ],
  });
  const { ns1, ns2 } = t.ns;
  await Promise.all([ns1.forwarding(true), ns2.forwarding(true), ns2.addAddress('172.16.104.1/32', 'lo')]);
  return { ns1: ns1!, ns2: ns2! };
}

const PREFIX = '172.16.104.0/24';

/** add_route: start each case from exactly one route to PREFIX. */
async function startWith(ns1: Netns, ...spec: string[]) {
  await ip(ns1, 'route', 'flush', PREFIX);
  expect(await routesTo(ns1, PREFIX)).toEqual([]);
  const r = await ip(ns1, 'route', 'add', PREFIX, ...spec);
  expect(r.exitCode, r.stderr).toBe(0);
}

describe('ipv4_rt_add: route add, append, prepend and duplicates', () => {
  test('a second route to the same prefix is refused with EEXIST (gateway, device only, reject route)', async ({ lab }) => {
    const { ns1 } = await routeSetup(lab);
    await ns1.addRoute(PREFIX, { via: '172.16.101.2' });
    await expect(ns1).toReach('172.16.104.1');

    // netspec translates the kernel's EEXIST into a typed error naming the route
    await expect(ns1.addRoute(PREFIX, { via: '172.16.103.2' })).rejects.toBeInstanceOf(ConflictError);
    await expect(ns1.addRoute(PREFIX, { dev: 'veth3' })).rejects.toThrow(/already has a route to 172\.16\.104\.0\/24/);
    await expect(ns1.addRoute(PREFIX, { type: 'unreachable' })).rejects.toThrow(/already has a route to 172\.16\.104\.0\/24 in table main .*File exists/);
    // the first route is the one that stayed
    await expect(ns1).toRouteVia('172.16.104.1', '172.16.101.2');
    await expect(ns1).not.toRouteVia('172.16.104.1', '172.16.103.2');
    expect((await routesTo(ns1, PREFIX)).map(paths)).toEqual([['172.16.101.2@veth1']]);
  });

  test('prepend adds a route in front (no ECMP); append adds one behind, also to a reject route', async ({ lab }) => {
    const { ns1 } = await routeSetup(lab);
    await startWith(ns1, 'via', '172.16.101.2');
    expect((await ip(ns1, 'route', 'prepend', PREFIX, 'via', '172.16.103.2')).exitCode).toBe(0);
    expect((await routesTo(ns1, PREFIX)).map(paths)).toEqual([['172.16.103.2@veth3'], ['172.16.101.2@veth1']]);
    await expect(ns1).toRouteVia('172.16.104.1', '172.16.103.2'); // the first one wins the lookup

    for (const [spec, expected] of [
      [['via', '172.16.103.2'], [['172.16.101.2@veth1'], ['172.16.103.2@veth3']]],
      [['dev', 'veth3'], [['172.16.101.2@veth1'], ['-@veth3']]],
      [['unreachable'], [['172.16.101.2@veth1'], ['-@-']]],
    ] as const) {
      await startWith(ns1, 'via', '172.16.101.2');
      const r = spec[0] === 'unreachable' ? await ip(ns1, 'route', 'append', 'unreachable', PREFIX) : await ip(ns1, 'route', 'append', PREFIX, ...spec);
      expect(r.exitCode, r.stderr).toBe(0);
      expect((await routesTo(ns1, PREFIX)).map(paths), spec.join(' ')).toEqual(expected);
      await expect(ns1).toRouteVia('172.16.104.1', '172.16.101.2'); // still the first
    }

    await ip(ns1, 'route', 'flush', PREFIX);
    await ns1.addRoute(PREFIX, { type: 'unreachable' });
    await expect(ns1).toRouteVia('172.16.104.1', { type: 'unreachable' });
    await expect(ns1).not.toReach('172.16.104.1', { because: 'NO_ROUTE' });
    expect((await ip(ns1, 'route', 'append', PREFIX, 'via', '172.16.103.2')).exitCode).toBe(0);
    const rows = await routesTo(ns1, PREFIX);
    expect(rows.map((r) => r.type ?? 'unicast')).toEqual(['unreachable', 'unicast']);
    await expect(ns1).not.toReach('172.16.104.1', { because: 'NO_ROUTE' }); // the reject route is first
  });

  test('a multipath route is one entry with two paths; adding it again is refused', async ({ lab }) => {
    const { ns1 } = await routeSetup(lab);
    await startWith(ns1, 'nexthop', 'via', '172.16.101.2', 'nexthop', 'via', '172.16.103.2');
    const rows = await routesTo(ns1, PREFIX);
    expect(rows).toHaveLength(1);
    await expect(ns1).toHaveRouteEntry({ destination: PREFIX, nexthops: [{ via: '172.16.101.2', dev: 'veth1', weight: 1 }, { via: '172.16.103.2', dev: 'veth3', weight: 1 }] });
    await expect(ns1).toReach('172.16.104.1');
    const again = ns1.addRoute(PREFIX, { nexthops: [{ via: '172.16.101.2' }, { via: '172.16.103.2' }] });
    await expect(again).rejects.toBeInstanceOf(ConflictError);
    await expect(again).rejects.toThrow(/File exists/);
  });

  test('routes that differ by metric coexist; the lowest metric wins; delete by metric removes just that one', async ({ lab }) => {
    const { ns1 } = await routeSetup(lab);
    await ns1.addRoute(PREFIX, { via: '172.16.101.2' });
    await ns1.addRoute(PREFIX, { via: '172.16.103.2', metric: 512 });
    await ns1.addRoute(PREFIX, { via: '172.16.103.3', metric: 256 });
    await expect(ns1).toRouteVia('172.16.104.1', '172.16.101.2'); // metric 0
    expect((await routesTo(ns1, PREFIX)).map((r) => [paths(r)[0], r.metric ?? 0])).toEqual([
      ['172.16.101.2@veth1', 0],
      ['172.16.103.3@veth3', 256],
      ['172.16.103.2@veth3', 512],
    ]);
    await expect(ns1).toHaveRouteEntry({ destination: PREFIX, gateway: '172.16.103.2', metric: 512 });
    await ns1.deleteRoute(PREFIX, { metric: 512 });
    expect((await routesTo(ns1, PREFIX)).map((r) => [paths(r)[0], r.metric ?? 0])).toEqual([
      ['172.16.101.2@veth1', 0],
      ['172.16.103.3@veth3', 256],
    ]);
    await expect(ns1).not.toHaveRouteEntry({ destination: PREFIX, gateway: '172.16.103.2' });
    // once metric 0 is gone, metric 256 (a gateway nobody answers for) takes over, and the packets are lost
    await ns1.deleteRoute(PREFIX, { metric: 0 });
    await expect(ns1).toRouteVia('172.16.104.1', '172.16.103.3');
    await expect(ns1).not.toReach('172.16.104.1', { because: 'NEIGHBOR_UNREACHABLE' });
  });
});

describe('ipv4_rt_replace: route replace and change', () => {
  test('ipv4_rt_replace_single: single → single, → multipath, → reject, and via a one-path multipath attribute', async ({ lab }) => {
    const { ns1 } = await routeSetup(lab);
    await startWith(ns1, 'via', '172.16.101.2');
    await ns1.replaceRoute(PREFIX, { via: '172.16.103.2' });
    expect((await routesTo(ns1, PREFIX)).map(paths)).toEqual([['172.16.103.2@veth3']]);
    await expect(ns1).toRouteVia('172.16.104.1', '172.16.103.2');
    await expect(ns1).toReach('172.16.104.1');

    await startWith(ns1, 'nexthop', 'via', '172.16.101.2');
    expect((await ip(ns1, 'route', 'replace', PREFIX, 'nexthop', 'via', '172.16.101.3', 'nexthop', 'via', '172.16.103.2')).exitCode).toBe(0);
    expect((await routesTo(ns1, PREFIX)).map(paths)).toEqual([['172.16.101.3@veth1', '172.16.103.2@veth3']]);

    await startWith(ns1, 'nexthop', 'via', '172.16.101.2');
    await ns1.replaceRoute(PREFIX, { type: 'unreachable' });
    expect((await routesTo(ns1, PREFIX)).map((r) => r.type)).toEqual(['unreachable']);
    await expect(ns1).toHaveRouteEntry({ destination: PREFIX, type: 'unreachable' });
    await expect(ns1).not.toReach('172.16.104.1', { because: 'NO_ROUTE' });

    await startWith(ns1, 'via', '172.16.101.2');
    expect((await ip(ns1, 'route', 'replace', PREFIX, 'nexthop', 'via', '172.16.103.2')).exitCode).toBe(0);
    const [row] = await routesTo(ns1, PREFIX);
    expect(row?.nexthops).toBeUndefined(); // a one-path multipath attribute is stored as a plain route
    expect(paths(row!)).toEqual(['172.16.103.2@veth3']);
  });

  test('ipv4_rt_replace_single: a replace with an invalid gateway is refused and changes nothing; change of a missing route fails', async ({ lab }) => {
    const { ns1 } = await routeSetup(lab);
    await startWith(ns1, 'via', '172.16.101.2');
    const bad = await ip(ns1, 'route', 'replace', PREFIX, 'via', '2001:db8:104::2');
    expect(bad.exitCode).not.toBe(0);
    expect((await routesTo(ns1, PREFIX)).map(paths)).toEqual([['172.16.101.2@veth1']]);
    await expect(ns1).toRouteVia('172.16.104.1', '172.16.101.2');

    const change = await ip(ns1, 'route', 'change', '172.16.105.0/24', 'via', '172.16.101.2');
    expect(change.exitCode).toBe(2);
    expect(change.stderr).toMatch(/No such file or directory/);
    await expect(ns1).not.toHaveRouteEntry({ destination: '172.16.105.0/24' });
  });

  test('ipv4_rt_replace_mpath: multipath → multipath / single / reject; an unreachable nexthop leaves the old route', async ({ lab }) => {
    const { ns1 } = await routeSetup(lab);
    const both = ['nexthop', 'via', '172.16.101.2', 'nexthop', 'via', '172.16.103.2'];
    const original = [['172.16.101.2@veth1', '172.16.103.2@veth3']];

    await startWith(ns1, ...both);
    await ns1.replaceRoute(PREFIX, { nexthops: [{ via: '172.16.101.3' }, { via: '172.16.103.3' }] });
    expect((await routesTo(ns1, PREFIX)).map(paths)).toEqual([['172.16.101.3@veth1', '172.16.103.3@veth3']]);

    for (const spec of [['via', '172.16.101.3'], ['nexthop', 'via', '172.16.101.3']]) {
      await startWith(ns1, ...both);
      expect((await ip(ns1, 'route', 'replace', PREFIX, ...spec)).exitCode).toBe(0);
      expect((await routesTo(ns1, PREFIX)).map(paths), spec.join(' ')).toEqual([['172.16.101.3@veth1']]);
    }

    await startWith(ns1, ...both);
    expect((await ip(ns1, 'route', 'replace', 'unreachable', PREFIX)).exitCode).toBe(0);
    expect((await routesTo(ns1, PREFIX)).map((r) => r.type)).toEqual(['unreachable']);

    // 172.16.111.3 / 172.16.113.3 are on no link: the kernel refuses the replace, the route is unchanged
    for (const spec of [
      ['nexthop', 'via', '172.16.111.3', 'nexthop', 'via', '172.16.103.3'],
      ['nexthop', 'via', '172.16.101.3', 'nexthop', 'via', '172.16.113.3'],
    ]) {
      await startWith(ns1, ...both);
      expect((await ip(ns1, 'route', 'replace', PREFIX, ...spec)).exitCode, spec.join(' ')).not.toBe(0);
      expect((await routesTo(ns1, PREFIX)).map(paths), spec.join(' ')).toEqual(original);
    }
    await expect(ns1).toReach('172.16.104.1');

    const change = await ip(ns1, 'route', 'change', '172.16.105.0/24', ...both);
    expect(change.exitCode).toBe(2);
  });
});

describe('ipv4_route_metrics_test: routes with RTAX metrics', () => {
  test('an mtu metric is kept on single-path and multipath routes; an unknown congctl is refused', async ({ lab }) => {
    const { ns1 } = await routeSetup(lab);
    expect((await ip(ns1, 'route', 'add', '172.16.111.0/24', 'via', '172.16.101.2', 'mtu', '1400')).exitCode).toBe(0);
    const [single] = await routesTo(ns1, '172.16.111.0/24');
    expect(single?.metrics).toEqual([{ mtu: 1400 }]);
    await expect(ns1).toHaveRouteEntry({ destination: '172.16.111.0/24', gateway: '172.16.101.2', dev: 'veth1' });

    expect((await ip(ns1, 'route', 'add', '172.16.112.0/24', 'mtu', '1400', 'nexthop', 'via', '172.16.101.2', 'nexthop', 'via', '172.16.103.2')).exitCode).toBe(0);
    const [multi] = await routesTo(ns1, '172.16.112.0/24');
    expect(multi?.metrics).toEqual([{ mtu: 1400 }]);
    expect(paths(multi!)).toEqual(['172.16.101.2@veth1', '172.16.103.2@veth3']);

    const bad = await ip(ns1, 'route', 'add', '172.16.113.0/24', 'via', '172.16.101.2', 'congctl', 'lock', 'foo');
    expect(bad.exitCode).toBe(2);
    await expect(ns1).not.toHaveRouteEntry({ destination: '172.16.113.0/24' });
  });

  test('a route with mtu 1300 carries a 1500-byte ping as fragments, and refuses it with DF set', async ({ lab }) => {
    const { ns1 } = await routeSetup(lab);
    expect((await ip(ns1, 'route', 'add', PREFIX, 'via', '172.16.101.2', 'mtu', '1300')).exitCode).toBe(0);
    await expect(ns1).toReach('172.16.104.1');
    const big = await ns1.exec('ping', ['-n', '-c', '1', '-w', '3', '-s', '1500', '172.16.104.1'], { reject: false });
    expect(big.exitCode, big.stdout + big.stderr).toBe(0);
    const df = await ns1.exec('ping', ['-n', '-c', '1', '-w', '1', '-M', 'do', '-s', '1500', '172.16.104.1'], { reject: false });
    expect(df.exitCode).not.toBe(0);
    expect(df.stdout + df.stderr).toMatch(/mtu\s*=\s*1300|Message too long/i);
  });
});
