// Type tests (run by Vitest's typecheck): the matcher augmentation, async results, and wrong options as type errors.
import { expectTypeOf, test } from 'vitest';
import { expect } from '../../src/vitest.js';
import type { Netns, PacketCounter } from '../../src/index.js';

declare const red: Netns;
declare const counter: PacketCounter;

test('matchers are typed and return Promise<void>', () => {
  expectTypeOf(expect(red).toReach('192.168.15.2')).toEqualTypeOf<Promise<void>>();
  expectTypeOf(expect(red).not.toReach(red, { window: 200 })).toEqualTypeOf<Promise<void>>();
  expectTypeOf(expect(red).toReach({ address: '10.0.0.1', port: 80 }, { protocol: 'tcp', seenAs: '198.51.100.2' })).toEqualTypeOf<Promise<void>>();
  expectTypeOf(expect(red).toReach('10.0.2.2', { ttl: 63 })).toEqualTypeOf<Promise<void>>();
  expectTypeOf(expect(red).toHaveArpEntry('192.168.15.2', { mac: '02:42:ac:11:00:02', state: ['REACHABLE', 'STALE'] })).toEqualTypeOf<Promise<void>>();
  expectTypeOf(expect(red).toRouteVia('203.0.113.8', '192.168.15.3')).toEqualTypeOf<Promise<void>>();
  expectTypeOf(expect(red).toRouteVia('192.168.15.2', { dev: 'veth-red' })).toEqualTypeOf<Promise<void>>();
  expectTypeOf(expect(red).toHaveLink('veth-red', { master: 'v-net-0', state: 'UP' })).toEqualTypeOf<Promise<void>>();
  expectTypeOf(expect(red).toHaveLink('veth-red', { kind: 'veth', mtu: 1500, mac: '02:00:00:00:00:01', carrier: true, timeout: 2000 })).toEqualTypeOf<Promise<void>>();
  // @ts-expect-error carrier is a boolean
  void expect(red).toHaveLink('veth-red', { carrier: 'yes' });
  expectTypeOf(expect(red).toForward()).toEqualTypeOf<Promise<void>>();
  expectTypeOf(expect(red).toHaveRouteEntry({ destination: 'default', gateway: '192.168.15.3' })).toEqualTypeOf<Promise<void>>();
  expectTypeOf(expect(red).toHaveAddress('192.168.15.1/24')).toEqualTypeOf<Promise<void>>();
  // routing (issue 15): the lookup's keys, the table's contents, policy rules
  expectTypeOf(expect(red).toRouteVia('203.0.113.8', '10.2.0.1', { from: '10.2.0.2', mark: 1, table: 100, oif: 'b0' })).toEqualTypeOf<Promise<void>>();
  expectTypeOf(expect(red).toRouteVia('203.0.113.8', { fibmatch: true, prefix: 'default', table: 'main' })).toEqualTypeOf<Promise<void>>();
  expectTypeOf(expect(red).toRouteVia('10.9.1.1', { type: 'blackhole' })).toEqualTypeOf<Promise<void>>();
  expectTypeOf(expect(red).toHaveRouteEntry({ destination: '10.4.0.0/16', nexthops: [{ via: '10.1.0.1', weight: 3, flags: ['linkdown'] }], table: 100, metric: 5 })).toEqualTypeOf<Promise<void>>();
  expectTypeOf(expect(red).toHaveRouteEntry({ destination: '10.9.0.0/16', type: 'prohibit', table: '100', nhid: 1, src: '10.0.0.1' })).toEqualTypeOf<Promise<void>>();
  expectTypeOf(expect(red).toHaveRule({ from: '10.2.0.2', fwmark: 1, table: 100, priority: 100, action: 'lookup' })).toEqualTypeOf<Promise<void>>();
  expectTypeOf(red.addRoute('default', { via: '10.2.0.1', table: 100, metric: 10 })).toEqualTypeOf<Promise<void>>();
  expectTypeOf(red.addRoute('10.4.0.0/16', { nexthops: [{ via: '10.1.0.1', weight: 3 }, { via: '10.2.0.1' }] })).toEqualTypeOf<Promise<void>>();
  expectTypeOf(red.addRule({ fwmark: 1, table: 101 })).toEqualTypeOf<Promise<void>>();
  expectTypeOf(red.addNexthop({ id: 10, group: [{ id: 1, weight: 3 }, { id: 2 }] })).toEqualTypeOf<Promise<void>>();
  // issue 27: counters, landing, what a probe carries
  expectTypeOf(red.counter({ protocol: 'icmp', icmpType: 'echo-request', ct: ['new', 'related'], iif: 'eth0' }, { hook: 'forward' })).toEqualTypeOf<Promise<PacketCounter>>();
  expectTypeOf(red.counter({ iif: 'eth0', dstMac: 'de:ad:be:ef:13:37' }, { hook: 'ingress' })).toEqualTypeOf<Promise<PacketCounter>>();
  expectTypeOf(red.nftCounter('filter', 'related', { family: 'inet' })).toEqualTypeOf<Promise<PacketCounter>>();
  expectTypeOf(expect(counter).toCount({ exactly: 1, bytes: 576 })).toEqualTypeOf<Promise<void>>();
  expectTypeOf(expect(counter).toCount({ atLeast: 1, atMost: 3, timeout: 500 })).toEqualTypeOf<Promise<void>>();
  expectTypeOf(expect(red).toLandOn(red, { address: '198.51.100.1', port: 8080 }, { delivered: { address: '10.0.0.2', port: 80 } })).toEqualTypeOf<Promise<void>>();
  expectTypeOf(expect(red).toReach('10.2.0.2', { size: 1400, dontFragment: true, tos: 0x10 })).toEqualTypeOf<Promise<void>>();
  expectTypeOf(expect(red).toReach({ address: '10.0.0.2', port: 80 }, { sourcePort: 4445 })).toEqualTypeOf<Promise<void>>();
  // exposure (issue 30)
  expectTypeOf(expect(red).toReachOnly(red, [{ port: 443 }, { port: '1000-2000' }, { port: 53, protocol: 'udp' }, 80])).toEqualTypeOf<Promise<void>>();
  expectTypeOf(expect(red).not.toReachAny('10.0.0.2', { protocol: ['tcp', 'udp'], listening: true })).toEqualTypeOf<Promise<void>>();
  // @ts-expect-error a range is a string "low-high"
  void expect(red).toReachOnly(red, [{ port: [1000, 2000] }]);
  // @ts-expect-error toReachOnly sweeps one protocol unless an allowed port names another
  void expect(red).toReachOnly(red, [443], { protocol: ['tcp', 'udp'] });
});

test('wrong options are type errors', () => {
  // @ts-expect-error: a counter filter has no `port` (sport or dport)
  void red.counter({ port: 80 });
  // @ts-expect-error: `ct` is a conntrack state
  void red.counter({ ct: 'open' });
  // @ts-expect-error: `egress` is no hook of a counter
  void red.counter({}, { hook: 'egress' });
  // @ts-expect-error: `dontFragment` is a boolean
  void expect(red).toReach('10.0.0.2', { dontFragment: 'yes' });
  // @ts-expect-error: toLandOn's protocol is tcp or udp
  void expect(red).toLandOn(red, { address: '10.0.0.2', port: 80 }, { protocol: 'icmp' });
  // @ts-expect-error: `protocol` is icmp | tcp | udp
  void expect(red).toReach('192.168.15.2', { protocol: 'sctp' });
  // @ts-expect-error: there is no `tiemout` option
  void expect(red).toReach('192.168.15.2', { tiemout: 100 });
  // @ts-expect-error: `ttl` is a number, not a string
  void expect(red).toReach('10.0.2.2', { ttl: '63' });
  // @ts-expect-error: there is no `hops` option (the TTL says the hop count without assuming what the target sends)
  void expect(red).toReach('10.0.2.2', { hops: 1 });
  // @ts-expect-error: a target is an address, a namespace or { address, port }
  void expect(red).toReach(42);
  // @ts-expect-error: `state` is a NUD state
  void expect(red).toHaveArpEntry('192.168.15.2', { state: 'UP' });
  // @ts-expect-error: toHaveRouteEntry needs a destination
  void expect(red).toHaveRouteEntry({ gateway: '192.168.15.3' });
  // @ts-expect-error: a mark is a number
  void expect(red).toRouteVia('203.0.113.8', { mark: '1' });
  // @ts-expect-error: `drop` is no route type
  void expect(red).toRouteVia('203.0.113.8', { type: 'drop' });
  // @ts-expect-error: a table is a number or main/local/default
  void expect(red).toHaveRouteEntry({ destination: 'default', table: 'nosuch' });
  // @ts-expect-error: a rule's action is lookup, blackhole, unreachable or prohibit
  void expect(red).toHaveRule({ action: 'drop' });
  // @ts-expect-error: a weight is a number
  void red.addRoute('10.4.0.0/16', { nexthops: [{ via: '10.1.0.1', weight: '3' }] });
  // @ts-expect-error: a table is a number or main/local/default
  void red.addRule({ fwmark: 1, table: 'nosuch' });
});
