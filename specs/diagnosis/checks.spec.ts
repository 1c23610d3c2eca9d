// The diagnosis's pieces on their own, from synthetic kernel facts (no lab): the parsers it reads /proc/sys/net and
// `ss` with, the trace filter that keeps a probe's own packets when others run beside it, the check for a reply from an
// unexpected source, and the formatter's ×N.
import { describe, expect, test } from 'vitest';
import { parseListeners, parseProcSys } from '../../src/parse/proc.js';
import { ownSteps, packetEnds, type Ctx } from '../../src/diagnose/facts.js';
import { dedupe } from '../../src/diagnose/format.js';
import { formatState } from '../../src/report.js';
import { wrongSourceCheck } from '../../src/diagnose/target.js';
import { neighborCheck } from '../../src/diagnose/link.js';
import type { Trace, TraceStep } from '../../src/trace.js';

const seen = (ns: string, chain: 'prerouting' | 'output', packet: string, reply = false): TraceStep => ({ ns, chain, packet, verdict: 'seen', reply });

describe('parsers', () => {
  test('/proc/sys/net as grep prints it: keys in slash form (an interface name may hold a dot)', () => {
    const m = parseProcSys('/proc/sys/net/ipv4/conf/eth0.10/forwarding:0\n/proc/sys/net/ipv4/icmp_echo_ignore_all:1\ngrep: /proc/sys/net/ipv6/conf/all/stable_secret: Input/output error\n');
    expect(m.get('net/ipv4/conf/eth0.10/forwarding')).toBe('0');
    expect(m.get('net/ipv4/icmp_echo_ignore_all')).toBe('1');
    expect(m.size).toBe(2);
  });

  test('ss -Hlntu: addresses with brackets, %dev and wildcards', () => {
    expect(parseListeners('tcp LISTEN 0 4096 127.0.0.1:80 0.0.0.0:*\nudp UNCONN 0 0 [::]:53 [::]:*\ntcp LISTEN 0 5 10.0.0.1%eth0:22 0.0.0.0:*\nudp UNCONN 0 0 *:5353 *:*\n')).toEqual([
      { protocol: 'tcp', address: '127.0.0.1', port: 80 },
      { protocol: 'udp', address: '::', port: 53 },
      { protocol: 'tcp', address: '10.0.0.1', port: 22, dev: 'eth0' },
      { protocol: 'udp', address: '*', port: 5353 },
    ]);
  });

  test("a traced packet's ends: IPv4 and IPv6, with ports and interfaces", () => {
    expect(packetEnds('tcp syn 10.0.0.2:40876 → 203.0.113.8:443 (iif br0, oif uplink0)')).toEqual({ what: 'tcp syn', src: '10.0.0.2', sport: 40876, dst: '203.0.113.8', dport: 443, iif: 'br0', oif: 'uplink0' });
    expect(packetEnds('udp fd00::1:5000 → fd00::2:53 (oif eth0)')).toEqual({ what: 'udp', src: 'fd00::1', sport: 5000, dst: 'fd00::2', dport: 53, oif: 'eth0' });
    expect(packetEnds('icmp echo-request fd00::1 → fd00::2')).toEqual({ what: 'icmp echo-request', src: 'fd00::1', dst: 'fd00::2' });
  });
});

describe("a probe's own packets", () => {
  test('the steps of probes running beside it (a mesh) are left out; a DNAT of its own packets keeps the new address', () => {
    const trace: Trace = {
      unavailable: [],
      steps: [
        seen('red', 'output', 'icmp echo-request 192.168.15.1 → 192.168.15.9 (oif veth-red)'),
        { ns: 'host', chain: 'ip filter FORWARD', packet: 'icmp echo-request 192.168.15.1 → 203.0.113.8 (iif v-net-0, oif uplink0)', verdict: 'drop' },
        { ns: 'host', chain: 'ip nat PREROUTING', packet: 'icmp echo-request 192.168.15.1 → 192.168.15.9 (iif v-net-0)', verdict: 'accept', rule: 'ip daddr 192.168.15.9 counter dnat to 10.1.0.5' },
        seen('inner', 'prerouting', 'icmp echo-request 192.168.15.1 → 10.1.0.5 (iif eth0)'),
      ],
    };
    const own = ownSteps(trace, ['192.168.15.9']);
    expect(own.steps.map((s) => s.ns)).toEqual(['red', 'host', 'inner']);
    expect(own.steps.some((s) => s.verdict === 'drop')).toBe(false);
  });
});

describe('a reply from an unexpected source', () => {
  const ctx = (protocol: 'udp' | 'icmp', steps: TraceStep[]) =>
    ({ source: { name: 'red' }, target: { protocol, address: '192.168.15.20', port: protocol === 'udp' ? 5353 : undefined, family: 4 }, outcome: {}, after: [], rawTrace: { steps, unavailable: [] }, sourcePorts: [40000] }) as unknown as Ctx;

  test('a UDP answer from another address than the one probed is named, with the port unreachable it caused', () => {
    const f = wrongSourceCheck(
      ctx('udp', [seen('red', 'output', 'udp 192.168.15.1:40000 → 192.168.15.20:5353 (oif veth-red)'), seen('red', 'prerouting', 'udp 192.168.15.2:5353 → 192.168.15.1:40000 (iif veth-red)', true), seen('red', 'output', 'icmp destination-unreachable 192.168.15.1 → 192.168.15.2 (oif veth-red)', true)]),
    );
    expect(f?.disposition).toBe('NO_REPLY');
    expect(f?.says[0]).toMatch(/red: a reply came from 192\.168\.15\.2, not from 192\.168\.15\.20: udp 192\.168\.15\.2:5353 → 192\.168\.15\.1:40000 \(kernel trace\).*answered that reply with port unreachable/);
  });

  test('an answer from the address probed, or on another port, or to another probe\'s source port, or an echo reply (no port to tell a probe by) is not one', () => {
    expect(wrongSourceCheck(ctx('udp', [seen('red', 'prerouting', 'udp 192.168.15.2:5353 → 192.168.15.1:40001 (iif veth-red)', true)]))).toBeUndefined();
    expect(wrongSourceCheck(ctx('udp', [seen('red', 'prerouting', 'udp 192.168.15.20:5353 → 192.168.15.1:40000 (iif veth-red)', true)]))).toBeUndefined();
    expect(wrongSourceCheck(ctx('udp', [seen('red', 'prerouting', 'udp 192.168.15.2:7000 → 192.168.15.1:40000 (iif veth-red)', true)]))).toBeUndefined();
    expect(wrongSourceCheck(ctx('icmp', [seen('red', 'prerouting', 'icmp echo-reply 192.168.15.2 → 192.168.15.1 (iif veth-red)', true)]))).toBeUndefined();
  });
});

describe('the formatter', () => {
  test('a step met by N probes is one line with ×N (lines differing only in ports)', () => {
    const lines = dedupe([
      'host: ip nat PREROUTING: `dnat to 10.0.0.2:80` rewrites tcp syn 10.0.0.9:40001 → 198.51.100.2:8080 (iif uplink0) (kernel trace)',
      'host: ip nat PREROUTING: `dnat to 10.0.0.2:80` rewrites tcp syn 10.0.0.9:40002 → 198.51.100.2:8080 (iif uplink0) (kernel trace)',
      'host: ip nat PREROUTING: `dnat to 10.0.0.2:80` rewrites tcp ack 10.0.0.9:40003 → 198.51.100.2:8080 (iif uplink0) (kernel trace)',
      'red: route to 203.0.113.8 via 10.0.0.1',
    ]);
    expect(lines).toEqual(['host: ip nat PREROUTING: `dnat to 10.0.0.2:80` rewrites tcp syn 10.0.0.9:40001 → 198.51.100.2:8080 (iif uplink0) (kernel trace) (×3)', 'red: route to 203.0.113.8 via 10.0.0.1']);
  });
});

describe('the link check', () => {
  const state = (name: string, neighbors: unknown[] = []) => ({ name, links: [], addresses: [], routes: [], routes6: [], neighbors, ipRules: [], ipRules6: [], forwarding: { ipv4: false, ipv6: false } });
  const ctx = (route: Record<string, unknown>) =>
    ({ source: { name: 'red' }, target: { protocol: 'tcp', address: '192.168.15.1', port: 9, family: 4 }, route, after: [state('red')], trace: { steps: [], unavailable: [] }, notes: ['red: route'], sysctls: new Map(), log: [] }) as unknown as Ctx;

  test('a local destination (the source\'s own address, dev lo) takes no neighbor: never ARP "on lo"', async () => {
    expect(await neighborCheck(ctx({ type: 'local', dev: 'lo' }))).toBeUndefined();
    expect(await neighborCheck(ctx({ dev: 'lo' }))).toBeUndefined();
  });

  test('an unresolved neighbor on a real link is named (the same facts, dev veth-red)', async () => {
    const f = await neighborCheck(ctx({ dev: 'veth-red' }));
    expect(f?.disposition).toBe('NEIGHBOR_UNREACHABLE');
    expect(f?.says[0]).toMatch(/red: neighbor 192\.168\.15\.1 on veth-red is absent: no namespace in the lab has 192\.168\.15\.1/);
  });
});

describe("the console's state", () => {
  const ns = (name: string) => ({
    name,
    links: [
      { ifindex: 1, ifname: 'lo', flags: ['UP'], mtu: 65536, operstate: 'UNKNOWN', link_type: 'loopback' },
      { ifindex: 2, ifname: `veth-${name}`, flags: ['UP'], mtu: 1500, operstate: 'UP', link_type: 'ether', linkinfo: { info_kind: 'veth' } },
    ],
    addresses: [
      { ifindex: 1, ifname: 'lo', operstate: 'UNKNOWN', addr_info: [{ family: 'inet', local: '127.0.0.1', prefixlen: 8, scope: 'host' }] },
      { ifindex: 2, ifname: `veth-${name}`, operstate: 'UP', addr_info: [{ family: 'inet', local: `10.0.0.${name.length}`, prefixlen: 24, scope: 'global' }] },
    ],
    routes: [{ dst: '10.0.0.0/24', dev: `veth-${name}`, protocol: 'kernel', scope: 'link', prefsrc: `10.0.0.${name.length}` }, { dst: 'default', gateway: '10.0.0.1', dev: `veth-${name}` }],
    routes6: [],
    neighbors: [{ dst: '10.0.0.1', dev: `veth-${name}`, lladdr: '02:00:00:00:00:01', state: ['REACHABLE'] }],
    ipRules: [],
    ipRules6: [],
    forwarding: { ipv4: false, ipv6: false },
    iptables: '',
    iptablesRules: { tables: [], chains: [], rules: [] },
    nftRules: { tables: [], chains: [], rules: [] },
    nft: '',
    commands: [],
  });
  const states = [ns('red'), ns('blue'), ns('green')] as unknown as Parameters<typeof formatState>[0];

  test('the path only, its links on one line, without neighbors, loopback or the routes of addresses; the full dump has all', () => {
    const concise = formatState(states, { only: ['red', 'blue'], concise: true });
    expect(concise).toBe(['── namespace red ── forwarding ipv4=0 ipv6=0', '  links veth-red veth UP 10.0.0.3/24', '  route default via 10.0.0.1 dev veth-red', '── namespace blue ── forwarding ipv4=0 ipv6=0', '  links veth-blue veth UP 10.0.0.4/24', '  route default via 10.0.0.1 dev veth-blue'].join('\n'));
    const full = formatState(states);
    expect(full).toMatch(/── namespace green ──/);
    expect(full).toMatch(/neigh 10\.0\.0\.1 dev veth-red lladdr 02:00:00:00:00:01 REACHABLE/);
    expect(full).toMatch(/link {2}lo +loopback/);
  });
});
