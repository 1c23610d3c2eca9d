// Routing (issue 15): policy rules (from, iif, oif, fwmark → table), routes in any table, route types (blackhole,
// unreachable, prohibit), metrics, multipath and nexthop objects, the linkdown/dead flags, duplicates, bad input.
// Each case asks the kernel (toHaveRouteEntry, toHaveRule, toRouteVia) and, where a claim is about packets, sends them:
// two routers lead from `r` to the same server, and only the router that forwards can carry a packet, so "it went
// through g2" is proven by g2 forwarding while g1 does not (and the other way round).
import { describe, expect, test } from '../../src/vitest.js';
import { ConflictError, InvalidInputError, NotFoundError, type Lab, type Netns } from '../../src/index.js';
import { failureOf } from './helpers.js';

const SERVER = '203.0.113.9';

/**
 * r ─a0 10.1.0.2 ── 10.1.0.1 a1─ g1 ─c1 10.11.0.1 ── 10.11.0.2 s1─ srv (203.0.113.9 on lo)
 *   ─b0 10.2.0.2 ── 10.2.0.1 b1─ g2 ─c2 10.12.0.1 ── 10.12.0.2 s2─
 * r's main table: default via g1. Both routers forward; srv routes each side's subnet back through its router.
 */
async function twoRouters(lab: Lab) {
  const [r, g1, g2, srv] = await Promise.all(['r', 'g1', 'g2', 'srv'].map((n) => lab.netns(n)));
  await Promise.all([
    lab.veth({ ns: r!, name: 'a0', address: '10.1.0.2/24' }, { ns: g1!, name: 'a1', address: '10.1.0.1/24' }),
    lab.veth({ ns: r!, name: 'b0', address: '10.2.0.2/24' }, { ns: g2!, name: 'b1', address: '10.2.0.1/24' }),
    lab.veth({ ns: g1!, name: 'c1', address: '10.11.0.1/24' }, { ns: srv!, name: 's1', address: '10.11.0.2/24' }),
    lab.veth({ ns: g2!, name: 'c2', address: '10.12.0.1/24' }, { ns: srv!, name: 's2', address: '10.12.0.2/24' }),
  ]);
  await Promise.all([
    srv!.addAddress(`${SERVER}/32`, 'lo'),
    srv!.addRoute('10.1.0.0/24', { via: '10.11.0.1' }),
    srv!.addRoute('10.2.0.0/24', { via: '10.12.0.1' }),
    g1!.addRoute(`${SERVER}/32`, { via: '10.11.0.2' }),
    g2!.addRoute(`${SERVER}/32`, { via: '10.12.0.2' }),
    g1!.forwarding(true),
    g2!.forwarding(true),
    r!.addRoute('default', { via: '10.1.0.1' }),
  ]);
  return { r: r!, g1: g1!, g2: g2!, srv: srv! };
}

/** Only `on` forwards: a packet that reaches the server went through it. */
async function onlyForwards(on: Netns, off: Netns): Promise<void> {
  await Promise.all([on.forwarding(true), off.forwarding(false)]);
}

describe('policy routing', () => {
  test('by source: `from` picks table 100 and g2; packets go through the router the rule chose, and not the other', async ({ lab }) => {
    const { r, g1, g2 } = await twoRouters(lab);
    await r.addRoute('default', { via: '10.2.0.1', table: 100 });
    await r.addRule({ from: '10.2.0.2', table: 100, priority: 100 });
    await expect(r).toHaveRule({ from: '10.2.0.2', table: 100, priority: 100 });
    await expect(r).toHaveRule({ from: '10.2.0.2/32', table: 100 });
    await expect(r).not.toHaveRule({ from: '10.2.0.2', table: 101 });
    const noRule = await failureOf(expect(r).toHaveRule({ from: '10.2.0.2', table: 101 }));
    expect(noRule).toMatch(/r has no such IPv4 rule; its rules \(ip rule show\):\n\s+0: from all lookup local\n\s+100: from 10\.2\.0\.2 lookup 100\n\s+32766: from all lookup main/);
    expect(await failureOf(expect(r).not.toHaveRule({ table: 100 }))).toMatch(/r has the rule 100: from 10\.2\.0\.2 lookup 100/);
    const rules = await r.rules();
    expect(rules.find((x) => x.priority === 100)).toMatchObject({ src: '10.2.0.2', table: '100' });

    // the lookups: main for the default source, table 100 from 10.2.0.2
    await expect(r).toRouteVia(SERVER, '10.1.0.1', { dev: 'a0', src: '10.1.0.2', table: 'main' });
    await expect(r).toRouteVia(SERVER, '10.2.0.1', { from: '10.2.0.2', dev: 'b0', table: 100 });
    const wrong = await failureOf(expect(r).toRouteVia(SERVER, '10.1.0.1', { from: '10.2.0.2', table: 'main' }));
    expect(wrong).toMatch(/r: the gateway is 10\.2\.0\.1, not 10\.1\.0\.1; the answer came from table 100, not main\n\s+ip route get 203\.0\.113\.9 from 10\.2\.0\.2 → via 10\.2\.0\.1 dev b0 table 100/);
    await expect(r).not.toRouteVia(SERVER, '10.2.0.1');

    // the packets: only g2 forwards, so from 10.2.0.2 reaches and the default source does not; then the other way
    await onlyForwards(g2, g1);
    await expect(r).toReach(SERVER, { from: '10.2.0.2' });
    await expect(r).not.toReach(SERVER, { because: 'FORWARDING_DISABLED' });
    await onlyForwards(g1, g2);
    await expect(r).toReach(SERVER);
    await expect(r).not.toReach(SERVER, { from: '10.2.0.2', because: 'FORWARDING_DISABLED' });

    // a `throw` route in table 100 sends the lookup on to the next rule (main): 10.2.0.2 to the server goes via g1
    await r.addRoute(`${SERVER}/32`, { type: 'throw', table: 100 });
    await expect(r).toHaveRouteEntry({ destination: SERVER, type: 'throw', table: 100 });
    await expect(r).toRouteVia(SERVER, '10.1.0.1', { from: '10.2.0.2', table: 'main' });
    await r.deleteRoute(`${SERVER}/32`, { type: 'throw', table: 100 });
    await expect(r).toRouteVia(SERVER, '10.2.0.1', { from: '10.2.0.2', table: 100 });

    // deleted, the rule is gone: 10.2.0.2's packets take main (g1) too; deleting it twice is a NotFoundError
    await r.deleteRule({ from: '10.2.0.2', table: 100, priority: 100 });
    await expect(r).not.toHaveRule({ from: '10.2.0.2' });
    await expect(r).toRouteVia(SERVER, '10.1.0.1', { from: '10.2.0.2', table: 'main' });
    await expect(r.deleteRule({ from: '10.2.0.2', table: 100, priority: 100 })).rejects.toThrow(NotFoundError);
    await expect(r.deleteRule({ from: '10.2.0.2', table: 100, priority: 100 })).rejects.toThrow(/has no rule matching all of that \(RTNETLINK answers: No such file or directory\); list them with ns\.rules\(\)/);
  });

  test('by input and output interface: iif needs `from` and forwarding; oif picks the table of its rule', async ({ lab }) => {
    const { r } = await twoRouters(lab);
    await r.addRoute('default', { via: '10.2.0.1', table: 100 });
    await r.addRule({ iif: 'a0', table: 100, priority: 50 });
    await expect(r).toHaveRule({ iif: 'a0', table: 100, priority: 50 });
    await expect(r).not.toHaveRule({ iif: 'b0' });

    // a forward lookup (a packet that came in on a0): r does not forward yet, and the kernel says so
    const off = await failureOf(expect(r).toRouteVia(SERVER, '10.2.0.1', { from: '10.1.0.7', iif: 'a0' }));
    expect(off).toMatch(/the kernel refused the lookup of 203\.0\.113\.9: No route to host \(a lookup with iif is a forward: is forwarding on/);
    expect(off).toMatch(/ip route get 203\.0\.113\.9 from 10\.1\.0\.7 iif a0 → no route \(No route to host\)/);
    await r.forwarding(true);
    await expect(r).toRouteVia(SERVER, '10.2.0.1', { from: '10.1.0.7', iif: 'a0', dev: 'b0', table: 100 });
    // a packet in on b0 matches no rule but main's
    await expect(r).toRouteVia(SERVER, '10.1.0.1', { from: '10.2.0.7', iif: 'b0', table: 'main' });
    await expect(r).not.toRouteVia(SERVER, '10.2.0.1', { from: '10.2.0.7', iif: 'b0' });
    await expect(r.routeGet(SERVER, { iif: 'a0' })).rejects.toThrow(/invalid iif "a0": a lookup for a packet coming in on an interface needs its source address: give `from` too/);
    await expect(expect(r).toRouteVia(SERVER, '10.2.0.1', { iif: 'a0' })).rejects.toThrow(InvalidInputError);

    // oif: a socket bound to b0 (SO_BINDTODEVICE) looks up in table 100 through its rule
    await r.addRule({ oif: 'b0', table: 100, priority: 60 });
    await expect(r).toHaveRule({ oif: 'b0', table: 100 });
    await expect(r).toRouteVia(SERVER, '10.2.0.1', { oif: 'b0', table: 100 });
    await expect(r).toRouteVia(SERVER, '10.1.0.1', { oif: 'a0', table: 'main' });
    const oif = await failureOf(expect(r).toRouteVia(SERVER, '10.1.0.1', { oif: 'b0' }));
    expect(oif).toMatch(/the gateway is 10\.2\.0\.1, not 10\.1\.0\.1\n\s+ip route get 203\.0\.113\.9 oif b0 → via 10\.2\.0\.1 dev b0/);
  });

  test('by fwmark: marked packets take table 101 through g2, the rest g1 (a mangle MARK rule marks real packets)', async ({ lab }) => {
    const { r, g1, g2 } = await twoRouters(lab);
    await r.addRoute('default', { via: '10.2.0.1', table: 101 });
    await r.addRule({ fwmark: 1, table: 101 });
    await r.addRule({ fwmark: 0x20, fwmask: 0xf0, table: 101, priority: 200 });
    await expect(r).toHaveRule({ fwmark: 1, table: 101 });
    await expect(r).toHaveRule({ fwmark: 0x20, fwmask: 0xf0, priority: 200 });
    await expect(r).not.toHaveRule({ fwmark: 2 });
    expect(await failureOf(expect(r).toHaveRule({ fwmark: 0x20, fwmask: 0xff }))).toMatch(/200: from all fwmark 0x20\/0xf0 lookup 101/);

    await expect(r).toRouteVia(SERVER, '10.2.0.1', { mark: 1, dev: 'b0', table: 101 });
    await expect(r).toRouteVia(SERVER, '10.2.0.1', { mark: 0x2c, table: 101 }); // 0x2c & 0xf0 = 0x20
    await expect(r).toRouteVia(SERVER, '10.1.0.1', { mark: 2, table: 'main' });
    await expect(r).not.toRouteVia(SERVER, '10.2.0.1', { mark: 2 });
    // fibmatch: the entry the marked lookup hit is table 101's default route
    await expect(r).toRouteVia(SERVER, '10.2.0.1', { mark: 1, fibmatch: true, prefix: 'default', table: 101 });
    const entry = await failureOf(expect(r).toRouteVia(SERVER, { mark: 1, fibmatch: true, prefix: '203.0.113.0/24' }));
    expect(entry).toMatch(/the matched entry is default, not 203\.0\.113\.0\/24\n\s+ip route get fibmatch 203\.0\.113\.9 mark 1 → default via 10\.2\.0\.1 dev b0 table 101/);

    // real packets: the mangle table marks TCP to port 8443, which policy routing then sends out b0 (masqueraded, so
    // the reply comes back through g2 too); port 80 is unmarked and takes g1
    await r.iptables(['-t', 'mangle', '-A', 'OUTPUT', '-p', 'tcp', '--dport', '8443', '-j', 'MARK', '--set-mark', '1']);
    await r.iptables(['-t', 'nat', '-A', 'POSTROUTING', '-o', 'b0', '-j', 'MASQUERADE']);
    await onlyForwards(g2, g1);
    await expect(r).toReach({ address: SERVER, port: 8443 });
    await expect(r).not.toReach({ address: SERVER, port: 80 });
    await onlyForwards(g1, g2);
    await expect(r).toReach({ address: SERVER, port: 80 });
    // (the diagnosis looks the route up without the mark, so it is not asked for a disposition here)
    await expect(r).not.toReach({ address: SERVER, port: 8443 });
  });
});

describe('route types', () => {
  test('blackhole, unreachable, prohibit: the table shows the type, lookups name it, probes end in NO_ROUTE', async ({ lab }) => {
    const { r } = await twoRouters(lab);
    await Promise.all([
      r.addRoute('10.9.0.0/16', { type: 'blackhole' }),
      r.addRoute('10.8.0.0/16', { type: 'unreachable' }),
      r.addRoute('10.7.0.0/16', { type: 'prohibit', metric: 5 }),
      r.addRoute('10.6.0.0/16', { type: 'unreachable', table: 100 }),
    ]);
    await expect(r).toHaveRouteEntry({ destination: '10.9.0.0/16', type: 'blackhole' });
    await expect(r).toHaveRouteEntry({ destination: '10.7.0.0/16', type: 'prohibit', metric: 5 });
    await expect(r).toHaveRouteEntry({ destination: '10.6.0.0/16', type: 'unreachable', table: 100 });
    await expect(r).not.toHaveRouteEntry({ destination: '10.6.0.0/16' }); // not in main
    await expect(r).not.toHaveRouteEntry({ destination: '10.9.0.0/16', type: 'unreachable' });
    await expect(r).not.toHaveRouteEntry({ destination: '10.7.0.0/16', type: 'prohibit', metric: 6 });
    const listed = await failureOf(expect(r).toHaveRouteEntry({ destination: '10.9.0.0/16', type: 'unreachable' }));
    expect(listed).toMatch(/r's main table has no such route; it has:[^]*\n\s+10\.7\.0\.0\/16 prohibit metric 5\n\s+10\.8\.0\.0\/16 unreachable\n\s+10\.9\.0\.0\/16 blackhole/);
    expect(await failureOf(expect(r).toHaveRouteEntry({ destination: '10.6.0.0/16', type: 'blackhole', table: 100 }))).toMatch(/r's table 100 has no such route; it has:\n\s+10\.6\.0\.0\/16 unreachable$/);

    // lookups: the kernel refuses each with its own errno, which names the type
    await expect(r).toRouteVia('10.9.1.1', { type: 'blackhole' });
    await expect(r).toRouteVia('10.8.1.1', { type: 'unreachable' });
    await expect(r).toRouteVia('10.7.1.1', { type: 'prohibit' });
    await expect(r).toRouteVia('10.5.1.1', { type: 'unicast' }); // the default route
    await expect(r).not.toRouteVia('10.9.1.1', { type: 'unreachable' });
    expect(await failureOf(expect(r).toRouteVia('10.9.1.1', '10.1.0.1'))).toMatch(/r: a blackhole route \(or rule\) drops packets to 10\.9\.1\.1: the kernel answers "Invalid argument"\n\s+ip route get 10\.9\.1\.1 → blackhole \(Invalid argument\)/);
    expect(await failureOf(expect(r).toRouteVia('10.8.1.1', '10.1.0.1'))).toMatch(/an unreachable route refuses packets to 10\.8\.1\.1: the kernel answers "No route to host"/);
    expect(await failureOf(expect(r).toRouteVia('10.7.1.1', { type: 'blackhole' }))).toMatch(/a prohibit route refuses packets to 10\.7\.1\.1: the kernel answers "Permission denied", not a blackhole route/);
    expect(await failureOf(expect(r).toRouteVia('10.9.1.1', '10.1.0.1', { type: 'blackhole' }))).toMatch(/so there is no gateway, device, source, table or entry to check/);
    expect(await failureOf(expect(r).toRouteVia('10.5.1.1', { type: 'blackhole' }))).toMatch(/the route is unicast, not blackhole/);

    // packets: each is NO_ROUTE, and the diagnosis names the route's type (ping's "broadcast?" for EACCES included)
    await expect(r).not.toReach('10.9.1.1', { because: 'NO_ROUTE' });
    await expect(r).not.toReach('10.8.1.1', { because: 'NO_ROUTE' });
    await expect(r).not.toReach('10.7.1.1', { because: 'NO_ROUTE' });
    await expect(r).not.toReach({ address: '10.9.1.1', port: 80 }, { because: 'NO_ROUTE' });
    await expect(r).not.toReach({ address: '10.7.1.1', port: 80 }, { because: 'NO_ROUTE' });
    expect(await failureOf(expect(r).toReach('10.9.1.1'))).toMatch(/r: no route to 10\.9\.1\.1 \(a blackhole route: the kernel drops the packets, "Invalid argument"\)/);
    expect(await failureOf(expect(r).toReach('10.7.1.1'))).toMatch(/r: no route to 10\.7\.1\.1 \(a prohibit route: the kernel refuses to send, "Permission denied"\)/);
    expect(await failureOf(expect(r).toReach('10.8.1.1'))).toMatch(/r: no route to 10\.8\.1\.1 \(an unreachable route: the kernel refuses to send, "No route to host"\)/);

    // a blackhole rule: the lookup of a marked packet is refused the same way
    await r.addRule({ fwmark: 8, action: 'blackhole', priority: 11 });
    await expect(r).toHaveRule({ fwmark: 8, action: 'blackhole' });
    await expect(r).toRouteVia(SERVER, { mark: 8, type: 'blackhole' });
    await expect(r).toRouteVia(SERVER, '10.1.0.1', { mark: 9 });

    // replaced by a unicast route, the destination is reachable through g1 again
    await r.replaceRoute('10.9.0.0/16', { via: '10.1.0.1' });
    await expect(r).toHaveRouteEntry({ destination: '10.9.0.0/16', type: 'unicast', gateway: '10.1.0.1' });
    await expect(r).toRouteVia('10.9.1.1', '10.1.0.1');
  });

  test('metric preference: of two routes to one prefix the lower metric wins; deleting it by metric hands over', async ({ lab }) => {
    const { r, g1, g2 } = await twoRouters(lab);
    await r.addRoute(`${SERVER}/32`, { via: '10.1.0.1', metric: 20 });
    await r.addRoute(`${SERVER}/32`, { via: '10.2.0.1', metric: 10, src: '10.2.0.2' });
    await expect(r).toHaveRouteEntry({ destination: `${SERVER}/32`, gateway: '10.1.0.1', metric: 20 });
    await expect(r).toHaveRouteEntry({ destination: SERVER, gateway: '10.2.0.1', metric: 10, src: '10.2.0.2' });
    await expect(r).not.toHaveRouteEntry({ destination: SERVER, gateway: '10.2.0.1', metric: 20 });
    await expect(r).not.toHaveRouteEntry({ destination: SERVER, src: '10.1.0.2' });
    expect(await failureOf(expect(r).toHaveRouteEntry({ destination: SERVER, metric: 30 }))).toMatch(/203\.0\.113\.9 via 10\.2\.0\.1 dev b0 src 10\.2\.0\.2 metric 10\n\s+203\.0\.113\.9 via 10\.1\.0\.1 dev a0 metric 20/);
    await expect(r).toRouteVia(SERVER, '10.2.0.1', { src: '10.2.0.2' });
    await onlyForwards(g2, g1);
    await expect(r).toReach(SERVER);

    await r.deleteRoute(`${SERVER}/32`, { metric: 10 });
    await expect(r).not.toHaveRouteEntry({ destination: SERVER, metric: 10 });
    await expect(r).toHaveRouteEntry({ destination: SERVER, metric: 20 });
    await expect(r).toRouteVia(SERVER, '10.1.0.1');
    await expect(r).not.toReach(SERVER, { because: 'FORWARDING_DISABLED' });
    await expect(r.deleteRoute(`${SERVER}/32`, { metric: 10 })).rejects.toThrow(NotFoundError);
  });
});

describe('multipath and nexthop objects', () => {
  const twoPaths = { nexthops: [{ via: '10.1.0.1', dev: 'a0', weight: 3 }, { via: '10.2.0.1', dev: 'b0' }] };

  test('a multipath route with weights: every path matched in any order; a wrong weight or gateway lists the table', async ({ lab }) => {
    const { r, g1, g2 } = await twoRouters(lab);
    await r.addRoute('10.4.0.0/16', twoPaths);
    await expect(r).toHaveRouteEntry({ destination: '10.4.0.0/16', nexthops: [{ via: '10.2.0.1', weight: 1 }, { via: '10.1.0.1', dev: 'a0', weight: 3 }] });
    await expect(r).toHaveRouteEntry({ destination: '10.4.0.0/16', gateway: '10.2.0.1' }); // one path
    await expect(r).not.toHaveRouteEntry({ destination: '10.4.0.0/16', nexthops: [{ via: '10.1.0.1', weight: 3 }] }); // not every path
    await expect(r).not.toHaveRouteEntry({ destination: '10.4.0.0/16', nexthops: [{ via: '10.1.0.1', weight: 1 }, { via: '10.2.0.1', weight: 1 }] });
    const weight = await failureOf(expect(r).toHaveRouteEntry({ destination: '10.4.0.0/16', nexthops: [{ via: '10.1.0.1', weight: 2 }, { via: '10.2.0.1' }] }));
    expect(weight).toMatch(/r's main table has no such route; it has:[^]*\n\s+10\.4\.0\.0\/16 nexthops: via 10\.1\.0\.1 dev a0 weight 3, via 10\.2\.0\.1 dev b0 weight 1$/m);
    const gw = await failureOf(expect(r).toHaveRouteEntry({ destination: '10.4.0.0/16', nexthops: [{ via: '10.1.0.1', weight: 3 }, { via: '10.3.0.1' }] }));
    expect(gw).toMatch(/10\.4\.0\.0\/16 nexthops: via 10\.1\.0\.1 dev a0 weight 3, via 10\.2\.0\.1 dev b0 weight 1/);
    expect(await failureOf(expect(r).not.toHaveRouteEntry({ destination: '10.4.0.0/16', gateway: '10.1.0.1' }))).toMatch(/r's table has 10\.4\.0\.0\/16 nexthops: via 10\.1\.0\.1/);

    // the lookup takes one path; fibmatch reports the entry with both
    await expect(r).toRouteVia('10.4.1.1', '10.1.0.1', { fibmatch: true, prefix: '10.4.0.0/16' });
    await expect(r).toRouteVia('10.4.1.1', '10.2.0.1', { fibmatch: true });
    expect(await failureOf(expect(r).toRouteVia('10.4.1.1', { fibmatch: true, prefix: '10.4.0.0/24' }))).toMatch(/the matched entry is 10\.4\.0\.0\/16, not 10\.4\.0\.0\/24\n\s+ip route get fibmatch 10\.4\.1\.1 → 10\.4\.0\.0\/16 nexthops: via 10\.1\.0\.1 dev a0 weight 3, via 10\.2\.0\.1 dev b0 weight 1/);

    // the same route again is EEXIST, translated: which route, and what to do instead
    const dup = r.addRoute('10.4.0.0/16', twoPaths);
    await expect(dup).rejects.toThrow(ConflictError);
    await expect(dup).rejects.toThrow(/already has a route to 10\.4\.0\.0\/16 in table main with the same metric \(the kernel: "RTNETLINK answers: File exists"\): .*use replaceRoute\("10\.4\.0\.0\/16", …\) to change it/);
    await r.replaceRoute('10.4.0.0/16', { via: '10.2.0.1' });
    await expect(r).toHaveRouteEntry({ destination: '10.4.0.0/16', nexthops: [{ via: '10.2.0.1', dev: 'b0' }] });
    await expect(r).not.toHaveRouteEntry({ destination: '10.4.0.0/16', gateway: '10.1.0.1' });

    // packets over a multipath route: both paths carry them (each router alone suffices once the other is off)
    await r.replaceRoute(`${SERVER}/32`, { nexthops: [{ via: '10.1.0.1' }, { via: '10.2.0.1' }] });
    await expect(r).toHaveRouteEntry({ destination: SERVER, nexthops: [{ via: '10.1.0.1', dev: 'a0' }, { via: '10.2.0.1', dev: 'b0' }] });
    await expect(r).toReach(SERVER, { from: '10.1.0.2' });
    await onlyForwards(g2, g1);
    await expect(r).toReach(SERVER, { from: '10.2.0.2' });
    await expect(r).not.toReach(SERVER, { from: '10.1.0.2' });
  });

  test('linkdown and dead: a path whose carrier is gone is linkdown, an interface set down is dead too', async ({ lab }) => {
    const { r, g1 } = await twoRouters(lab);
    await r.addRoute('10.4.0.0/16', twoPaths);
    await expect(r).not.toHaveRouteEntry({ destination: '10.4.0.0/16', flags: ['linkdown'] });
    await g1.down('a1'); // r's a0 loses its carrier (the kernel tells the FIB a moment later, with the link's operstate)
    await expect(r).toHaveLink('a0', { state: 'DOWN' }); // NO-CARRIER
    await expect(r).toHaveRouteEntry({ destination: '10.4.0.0/16', gateway: '10.1.0.1', flags: ['linkdown'] });
    await expect(r).not.toHaveRouteEntry({ destination: '10.4.0.0/16', gateway: '10.1.0.1', flags: ['dead'] });
    await expect(r).not.toHaveRouteEntry({ destination: '10.4.0.0/16', gateway: '10.2.0.1', flags: ['linkdown'] });
    await expect(r).toHaveRouteEntry({ destination: 'default', gateway: '10.1.0.1', flags: ['linkdown'] });
    expect(await failureOf(expect(r).toHaveRouteEntry({ destination: 'default', flags: ['dead'] }))).toMatch(/\n\s+default via 10\.1\.0\.1 dev a0 linkdown\n/);
    // with ignore_routes_with_linkdown off (the default) the kernel still picks the linkdown path (weight 3 of 4)
    const picks = async () => new Set((await Promise.all(Array.from({ length: 8 }, (_, i) => r.routeGet(`10.4.${i}.${i * 7 + 1}`)))).map((x) => x?.gateway));
    expect(await picks()).toContain('10.1.0.1');

    // an interface set down: its path is dead (and linkdown); the other path stays linkdown only
    await r.down('b0');
    await expect(r).toHaveRouteEntry({ destination: '10.4.0.0/16', nexthops: [{ via: '10.1.0.1', flags: ['linkdown'] }, { via: '10.2.0.1', flags: ['dead', 'linkdown'] }] });
    const dead = await failureOf(expect(r).toHaveRouteEntry({ destination: '10.4.0.0/16', gateway: '10.1.0.1', flags: ['dead'] }));
    expect(dead).toMatch(/10\.4\.0\.0\/16 nexthops: via 10\.1\.0\.1 dev a0 weight 3 linkdown, via 10\.2\.0\.1 dev b0 weight 1 dead linkdown/);

    // ignore_routes_with_linkdown on (the kernel reads it when a link changes, so it is set before the carrier goes):
    // the linkdown path is dead too, and no lookup picks it
    await Promise.all([r.up('b0'), g1.up('a1')]);
    await expect(r).toHaveLink('a0', { state: 'UP' });
    await expect(r).toHaveLink('b0', { state: 'UP' });
    await expect(r).not.toHaveRouteEntry({ destination: '10.4.0.0/16', flags: ['linkdown'] });
    await Promise.all([r.sysctl('net.ipv4.conf.all.ignore_routes_with_linkdown', 1), r.sysctl('net.ipv4.conf.a0.ignore_routes_with_linkdown', 1)]);
    await g1.down('a1');
    await expect(r).toHaveLink('a0', { state: 'DOWN' });
    await expect(r).toHaveRouteEntry({ destination: '10.4.0.0/16', nexthops: [{ via: '10.1.0.1', flags: ['dead', 'linkdown'] }, { via: '10.2.0.1' }] });
    await expect(r).not.toHaveRouteEntry({ destination: '10.4.0.0/16', gateway: '10.2.0.1', flags: ['linkdown'] });
    expect(await picks()).toEqual(new Set(['10.2.0.1']));
    await expect(r).toRouteVia('10.4.0.1', '10.2.0.1', { dev: 'b0' });
  });

  test('nexthop objects and groups: routes by nhid, a blackhole nexthop, and the kernel refusing duplicates and unknown ids', async ({ lab }) => {
    const { r, g1 } = await twoRouters(lab);
    await r.addNexthop({ id: 1, via: '10.1.0.1', dev: 'a0' });
    await r.addNexthop({ id: 2, via: '10.2.0.1', dev: 'b0' });
    await r.addNexthop({ id: 10, group: [{ id: 1, weight: 3 }, { id: 2 }] });
    await r.addNexthop({ id: 11, blackhole: true });
    const objects = await r.nexthops();
    expect(objects.find((n) => n.id === 10)?.group).toEqual([{ id: 1, weight: 3 }, { id: 2 }]);
    expect(objects.find((n) => n.id === 11)).toHaveProperty('blackhole');

    await r.addRoute('10.5.0.0/16', { nhid: 10 });
    await r.addRoute('10.6.0.0/16', { nhid: 11 });
    await r.addRoute(`${SERVER}/32`, { nhid: 2 });
    await expect(r).toHaveRouteEntry({ destination: '10.5.0.0/16', nhid: 10, nexthops: [{ via: '10.1.0.1', weight: 3 }, { via: '10.2.0.1', weight: 1 }] });
    await expect(r).not.toHaveRouteEntry({ destination: '10.5.0.0/16', nhid: 11 });
    expect(await failureOf(expect(r).toHaveRouteEntry({ destination: '10.5.0.0/16', nhid: 1 }))).toMatch(/10\.5\.0\.0\/16 nexthops: via 10\.1\.0\.1 dev a0 weight 3, via 10\.2\.0\.1 dev b0 weight 1 nhid 10/);
    await expect(r).toRouteVia('10.5.1.1', '10.1.0.1', { fibmatch: true, prefix: '10.5.0.0/16' });
    await expect(r).toRouteVia('10.6.1.1', { type: 'blackhole' });
    await expect(r).not.toReach('10.6.1.1', { because: 'NO_ROUTE' });
    await expect(r).toRouteVia(SERVER, '10.2.0.1', { dev: 'b0' });
    await expect(r).toReach(SERVER);

    // refusals, translated
    const again = r.addNexthop({ id: 1, via: '10.1.0.1', dev: 'a0' });
    await expect(again).rejects.toThrow(ConflictError);
    await expect(again).rejects.toThrow(/already has a nexthop object with id 1 \(RTNETLINK answers: File exists\); delete it first \(deleteNexthop\)/);
    await expect(r.addRoute('10.7.0.0/16', { nhid: 77 })).rejects.toThrow(NotFoundError);
    await expect(r.addRoute('10.7.0.0/16', { nhid: 77 })).rejects.toThrow(/no nexthop object named "77".*Nexthop id does not exist/);
    await expect(r.addNexthop({ id: 12, group: [{ id: 1 }, { id: 99 }] })).rejects.toThrow(NotFoundError);
    await expect(r.addNexthop({ id: 13, via: '10.99.0.1', dev: 'a0' })).rejects.toThrow(/invalid gateway \(via\) "10\.99\.0\.1": .* has no link in the gateway's subnet/);
    await expect(r).not.toHaveRouteEntry({ destination: '10.7.0.0/16' });

    // the kernel removes a nexthop object when its link loses its carrier, and routes through it go with it
    await g1.down('a1');
    await expect(r).toHaveLink('a0', { state: 'DOWN' }); // NO-CARRIER
    const left = await r.nexthops();
    expect(left.map((n) => n.id)).not.toContain(1);
    await expect(r).not.toHaveRouteEntry({ destination: '10.5.0.0/16', gateway: '10.1.0.1' });
    // a deleted object takes its routes with it
    await r.deleteNexthop(11);
    await expect(r).not.toHaveRouteEntry({ destination: '10.6.0.0/16' });
    await expect(r.deleteNexthop(11)).rejects.toThrow(NotFoundError);
    await expect(r.deleteNexthop(11)).rejects.toThrow(/no nexthop object named "11".*has no nexthop with that id/);
  });
});

describe('duplicates and IPv6', () => {
  test('the kernel refuses the same route (any type, any table) and the same rule at the same priority: ConflictError', async ({ lab }) => {
    const { r } = await twoRouters(lab);
    await r.addRoute('10.9.0.0/16', { type: 'blackhole' });
    await expect(r.addRoute('10.9.0.0/16', { type: 'blackhole' })).rejects.toThrow(ConflictError);
    await expect(r.addRoute('10.9.0.0/16', { via: '10.1.0.1' })).rejects.toThrow(/already has a route to 10\.9\.0\.0\/16 in table main with the same metric/);
    await r.addRoute('10.9.0.0/16', { via: '10.1.0.1', metric: 7 }); // another metric is another route
    await expect(r.addRoute('10.9.0.0/16', { via: '10.2.0.1', metric: 7 })).rejects.toThrow(/in table main with metric 7 .*give another metric/);
    await r.addRoute('10.9.0.0/16', { via: '10.1.0.1', table: 100 }); // another table too
    await expect(r.addRoute('10.9.0.0/16', { type: 'unreachable', table: 100 })).rejects.toThrow(/already has a route to 10\.9\.0\.0\/16 in table 100/);
    await r.addRule({ fwmark: 9, table: 100, priority: 20 });
    const rule = r.addRule({ fwmark: 9, table: 100, priority: 20 });
    await expect(rule).rejects.toThrow(ConflictError);
    await expect(rule).rejects.toThrow(/already has this very rule, at the same priority \(RTNETLINK answers: File exists\)/);
    // without a priority the kernel gives the second one its own, so it is not a duplicate
    await r.addRule({ fwmark: 9, table: 100 });
    expect((await r.rules()).filter((x) => x.fwmark === '0x9')).toHaveLength(2);
  });

  test('IPv6: rules by source and by mark (family inferred, or { family: 6 }), routes in a table', async ({ lab }) => {
    const { r } = await twoRouters(lab);
    await r.addAddress('2001:db8:1::2/64', 'a0');
    await r.addRoute('2001:db8:9::/64', { type: 'blackhole', table: 200 });
    await r.addRoute('default6', { dev: 'a0', table: 200 });
    await r.addRule({ family: 6, fwmark: 3, table: 200 });
    await r.addRule({ from: '2001:db8:1::/64', table: 200, priority: 300 });
    await expect(r).toHaveRule({ family: 6, fwmark: 3, table: 200 });
    await expect(r).toHaveRule({ from: '2001:db8:1::/64', table: 200 });
    await expect(r).not.toHaveRule({ fwmark: 3, table: 200 }); // IPv4's rules do not have it
    expect((await r.rules({ family: 6 })).find((x) => x.fwmark === '0x3')).toMatchObject({ src: 'all', table: '200' });
    await expect(r).toHaveRouteEntry({ destination: '2001:db8:9::/64', type: 'blackhole', table: 200 });
    await expect(r).not.toHaveRouteEntry({ destination: '2001:db8:9::/64', type: 'blackhole' });
    await expect(r).toRouteVia('2001:db8:5::1', { mark: 3, dev: 'a0', table: 200 });
    await expect(r).not.toRouteVia('2001:db8:5::1', { mark: 4, table: 200 });
    await r.deleteRule({ family: 6, fwmark: 3, table: 200 });
    await expect(r).not.toHaveRule({ family: 6, fwmark: 3 });
  });
});

/** Each call throws an InvalidInputError whose message matches. */
async function allRefused(cases: [string, () => Promise<unknown>, RegExp][]): Promise<void> {
  for (const [what, call, message] of cases) {
    const error = await call().then(
      () => new Error(`${what}: accepted`),
      (e: unknown) => e,
    );
    expect(error, what).toBeInstanceOf(InvalidInputError);
    expect(String((error as Error).message), what).toMatch(message);
  }
}

describe('bad input: refused before anything runs, naming the input', () => {
  test('routes, rules, nexthops and the matchers\' options', async ({ lab }) => {
    const r = await lab.netns('r');
    const before = await r.routes({ table: 'all' });
    const refused: [string, () => Promise<unknown>, RegExp][] = [
      ['a table name the kernel lacks', () => r.addRoute('10.0.0.0/8', { dev: 'lo', table: 'nosuch' as never }), /invalid table "nosuch": expected a table number from 1 to 4294967295, or "main", "local" or "default"/],
      ['a hostile table', () => r.addRoute('10.0.0.0/8', { dev: 'lo', table: '1; reboot' as never }), /invalid table "1; reboot"/],
      ['table 0', () => r.addRoute('10.0.0.0/8', { dev: 'lo', table: 0 }), /invalid table 0/],
      ['table 2^32', () => r.addRoute('10.0.0.0/8', { dev: 'lo', table: 2 ** 32 }), /invalid table 4294967296/],
      ['a hostile type', () => r.addRoute('10.0.0.0/8', { type: 'blackhole; reboot' as never }), /invalid route type "blackhole; reboot": expected one of unicast/],
      ['a blackhole with a gateway', () => r.addRoute('10.0.0.0/8', { type: 'blackhole', via: '10.1.0.1' }), /invalid route type "blackhole": a blackhole route has no next hop/],
      ['a unicast route with no path', () => r.addRoute('10.0.0.0/8', { metric: 3 }), /give a gateway \(`via`\), a device \(`dev`\), or both/],
      ['a hostile metric', () => r.addRoute('10.0.0.0/8', { dev: 'lo', metric: '$(id)' as never }), /invalid metric "\$\(id\)": expected a whole number/],
      ['a hostile src', () => r.addRoute('10.0.0.0/8', { dev: 'lo', src: '$(id)' }), /invalid src \(preferred source\) "\$\(id\)"/],
      ['an IPv6 src on an IPv4 route', () => r.addRoute('10.0.0.0/8', { dev: 'lo', src: 'fd00::1' }), /it is IPv6 but the destination 10\.0\.0\.0\/8 is IPv4/],
      ['no nexthops', () => r.addRoute('10.0.0.0/8', { nexthops: [] }), /invalid nexthops \[\]: expected a non-empty array/],
      ['a hostile nexthop gateway', () => r.addRoute('10.0.0.0/8', { nexthops: [{ via: '1; reboot' }] }), /invalid nexthops\[0\]\.via "1; reboot"/],
      ['a weight of 0', () => r.addRoute('10.0.0.0/8', { nexthops: [{ dev: 'lo', weight: 0 }] }), /invalid nexthops\[0\]\.weight 0: expected a whole number from 1 to 256/],
      ['a hostile nexthop device', () => r.addRoute('10.0.0.0/8', { nexthops: [{ dev: 'lo; reboot' }] }), /invalid nexthops\[0\]\.dev "lo; reboot"/],
      ['nhid with via', () => r.addRoute('10.0.0.0/8', { nhid: 1, via: '10.1.0.1' }), /a route with a nexthop object \(`nhid`\) takes its gateway and device from the object/],
      ['an unknown route option', () => r.addRoute('10.0.0.0/8', { dev: 'lo', proto: 'static' } as never), /invalid route option "proto": unknown option/],
      ['a fwmark that is not a number', () => r.addRule({ fwmark: '0x5' as never, table: 100 }), /invalid rule fwmark "0x5": expected a whole number from 0 to 4294967295/],
      ['a hostile fwmark', () => r.addRule({ fwmark: '1; reboot' as never, table: 100 }), /invalid rule fwmark "1; reboot"/],
      ['a hostile rule table', () => r.addRule({ from: '10.0.0.0/8', table: '$(id)' as never }), /invalid rule table "\$\(id\)"/],
      ['a hostile rule source', () => r.addRule({ from: '$(id)', table: 100 }), /invalid rule from "\$\(id\)"/],
      ['a rule source with host bits', () => r.addRule({ from: '10.0.0.1/8', table: 100 }), /invalid rule from "10\.0\.0\.1\/8": host bits are set/],
      ['a hostile iif', () => r.addRule({ iif: 'a0; reboot', table: 100 }), /invalid rule iif "a0; reboot": it contains ";"/],
      ['a rule with no table', () => r.addRule({ from: '10.0.0.0/8' }), /invalid rule table undefined: a rule looks its routes up in a table/],
      ['an unknown rule action', () => r.addRule({ from: '10.0.0.0/8', action: 'drop' as never }), /invalid rule action "drop": expected one of lookup, blackhole, unreachable, prohibit/],
      ['a rule family that contradicts its source', () => r.addRule({ from: '10.0.0.0/8', family: 6, table: 100 }), /invalid rule from "10\.0\.0\.0\/8": it is IPv4 but the rule is IPv6/],
      ['a nexthop id 0', () => r.addNexthop({ id: 0, dev: 'lo' }), /invalid nexthop id 0: expected a whole number from 1 to 4294967295/],
      ['a nexthop of no kind', () => r.addNexthop({ id: 1 }), /give exactly one of: a gateway and\/or device/],
      ['a nexthop of two kinds', () => r.addNexthop({ id: 1, dev: 'lo', blackhole: true }), /give exactly one of/],
      ['a group weight of 300', () => r.addNexthop({ id: 1, group: [{ id: 2, weight: 300 }] }), /invalid nexthop group\[0\]\.weight 300/],
      ['a hostile lookup mark', () => r.routeGet('10.0.0.1', { mark: '$(id)' as never }), /invalid mark "\$\(id\)"/],
      ['a deleteRoute table', () => r.deleteRoute('10.0.0.0/8', { table: 'x;y' as never }), /invalid table "x;y"/],
    ];
    await allRefused(refused);
    const matchers: [string, () => Promise<unknown>, RegExp][] = [
      ['toRouteVia mark < 0', () => expect(r).toRouteVia('10.0.0.1', { mark: -1, dev: 'lo' }), /invalid toRouteVia option mark -1: expected a number ≥ 0/],
      ['toRouteVia mark 1.5', () => expect(r).toRouteVia('10.0.0.1', { mark: 1.5, dev: 'lo' }), /invalid mark 1\.5: expected a whole number/],
      ['toRouteVia table', () => expect(r).toRouteVia('10.0.0.1', { table: '1; reboot' as never }), /invalid toRouteVia table "1; reboot"/],
      ['toRouteVia prefix without fibmatch', () => expect(r).toRouteVia('10.0.0.1', { prefix: '10.0.0.0/8' }), /add \{ fibmatch: true \}/],
      ['toRouteVia oif', () => expect(r).toRouteVia('10.0.0.1', { oif: '$(id)', dev: 'lo' }), /invalid oif "\$\(id\)"/],
      ['toRouteVia unknown option', () => expect(r).toRouteVia('10.0.0.1', { tos: 4 } as never), /unknown option; toRouteVia takes/],
      ['toHaveRouteEntry table', () => expect(r).toHaveRouteEntry({ destination: 'default', table: '1; reboot' as never }), /invalid route entry table "1; reboot"/],
      ['toHaveRouteEntry nexthop via', () => expect(r).toHaveRouteEntry({ destination: 'default', nexthops: [{ via: '$(id)' }] }), /invalid route entry nexthops\[0\]\.via "\$\(id\)"/],
      ['toHaveRouteEntry flags', () => expect(r).toHaveRouteEntry({ destination: 'default', flags: ['dead; reboot'] }), /invalid route entry flags/],
      ['toHaveRouteEntry metric', () => expect(r).toHaveRouteEntry({ destination: 'default', metric: 1.5 }), /invalid route entry metric 1\.5/],
      ['toHaveRule fwmark', () => expect(r).toHaveRule({ fwmark: 'x' as never }), /invalid toHaveRule option fwmark "x": expected a number/],
      ['toHaveRule action', () => expect(r).toHaveRule({ action: 'drop' as never }), /invalid toHaveRule action "drop"/],
      ['toHaveRule from', () => expect(r).toHaveRule({ from: '1; reboot' }), /invalid toHaveRule from "1; reboot"/],
    ];
    await allRefused(matchers);
    // nothing ran: the tables are as they were
    expect(await r.routes({ table: 'all' })).toEqual(before);
  });
});

// Found by trying to make these matchers lie: each passed on 0.1.x of the routing API.
describe('routing verdicts without a false pass', () => {
  test('a lookup that is no kernel answer (namespace gone, no such device) is an error, never "no route" for .not', async ({ lab }) => {
    const [blue, red] = await Promise.all([lab.netns('blue'), lab.netns('red')]);
    await lab.veth({ ns: blue, name: 'veth-blue', address: '192.168.15.2/24' }, { ns: red, name: 'veth-red', address: '192.168.15.1/24' });
    await blue.addRoute('10.0.0.0/8', { via: '192.168.15.1' });
    await expect(expect(blue).not.toRouteVia('10.1.1.1', '192.168.15.1', { oif: 'veth-blu' })).rejects.toThrow(NotFoundError);
    await expect(blue).toRouteVia('10.1.1.1', '192.168.15.1', { oif: 'veth-blue' });
    await lab.sh`ip netns del blue`;
    await expect(expect(blue).not.toRouteVia('10.1.1.1', '192.168.15.1')).rejects.toThrow(NotFoundError);
  });

  test('"all" is the zero-length prefix: .not.toHaveRule({ from: "0.0.0.0/0" }) fails where a from-all rule exists', async ({ lab }) => {
    const red = await lab.netns('red');
    await expect(red).toHaveRule({ from: '0.0.0.0/0', table: 'main' });
    await expect(red).toHaveRule({ from: '::/0', table: 'main' });
    expect(await failureOf(expect(red).not.toHaveRule({ from: '0.0.0.0/0', table: 'main' }))).toMatch(/has the rule/);
    expect(await failureOf(expect(red).not.toHaveRule({ to: '0.0.0.0/0', table: 'main' }))).toMatch(/has the rule/);
    // and a family that contradicts the rule's own prefix is a mistake, not a question
    await expect(expect(red).toHaveRule({ from: 'fd00:5::/64', family: 4 })).rejects.toThrow(InvalidInputError);
    await expect(expect(red).not.toHaveRule({ to: '10.5.0.0/16', family: 6 })).rejects.toThrow(InvalidInputError);
  });
});
