// The one parser per format (src/parse/*), fed real outputs captured from a lab running the Docker emulation plus a
// mangle rule, a negated MASQUERADE, native nft tables (a dnat, a forward chain with policy drop, an ip6 table), a
// multipath route in table 100 and a policy rule. specs/parse/capture.ts made them: `npx tsx specs/parse/capture.ts`.
import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { globalAddresses, parseAddresses, parseIpBatch, parseIpRules, parseLinks, parseNeighbors, parseNexthops, parseNsIds, parseRoutes, splitJsonArrays } from '../../src/parse/ip.js';
import { describeRule } from '../../src/diagnose/index.js';
import { addressMatches, counters, dnatFor, hasOption, judge, masqueradeSource, masquerades, option, parseIptablesSave, policyOf, risenCounters } from '../../src/parse/iptables.js';
import { dropPolicies, formatNft, nativeOnly, nftDnatFor, nftSourceNat, parseNftJson, risenNft, setElements } from '../../src/parse/nft.js';
import { describeRoute } from '../../src/diagnose/index.js';
import { parseIcmpRedirects, parseNeighborTableStat } from '../../src/parse/proc.js';

const captured = (name: string) => readFileSync(new URL(`./captured/${name}`, import.meta.url), 'utf8');
const save = parseIptablesSave(captured('host.iptables-save'));
const nft = parseNftJson(captured('host.nft.json'));
const native = nativeOnly(nft);

describe('iptables-save', () => {
  test('tables, chains with policies and counters, rules with their options', () => {
    expect(save.tables).toEqual(['mangle', 'filter', 'nat']);
    expect(save.chains.find((c) => c.table === 'filter' && c.name === 'INPUT')).toEqual({ table: 'filter', name: 'INPUT', policy: 'ACCEPT', packets: 1, bytes: 84 });
    expect(save.chains.find((c) => c.table === 'filter' && c.name === 'DOCKER')?.policy).toBeUndefined();
    const dnat = save.rules.find((r) => r.target === 'DNAT' && option(r, '--dport')?.values[0] === '8080')!;
    expect(dnat).toMatchObject({ table: 'nat', chain: 'DOCKER', packets: 0, text: '-A DOCKER ! -i br-048ba37db75a -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.18.0.2:80' });
    expect(option(dnat, '-i')).toEqual({ name: '-i', values: ['br-048ba37db75a'], negated: true });
    expect(option(dnat, '--in-interface')).toBe(option(dnat, '-i'));
    // a quoted comment is one value
    const commented = save.rules.find((r) => option(r, '--comment'))!;
    expect(option(commented, '--comment')!.values).toEqual(['not the lab']);
    expect(commented.target).toBe('MASQUERADE');
  });

  test("a chain's policy is its table's: mangle's FORWARD ACCEPT, printed first, is not filter's FORWARD DROP", () => {
    // the picture once read the first `:FORWARD` line of the whole output (mangle's) and drew no FORWARD DROP
    expect(captured('host.iptables-save').indexOf(':FORWARD ACCEPT')).toBeLessThan(captured('host.iptables-save').indexOf(':FORWARD DROP'));
    expect(policyOf(save, 'FORWARD')).toBe('DROP');
    expect(policyOf(save, 'FORWARD', 'mangle')).toBe('ACCEPT');
    expect(policyOf(save, 'NOSUCH')).toBeUndefined();
  });

  test('a negated source is not the source: `! -s 10.99.0.0/16 -j MASQUERADE` does not cover 10.99.1.1', () => {
    // the picture drew it as "MASQUERADE 10.99.0.0/16" and the diagnosis said it covered 10.99.x (both read `-s (\S+)`)
    const negated = masquerades(save).find((r) => option(r, '-s')?.negated)!;
    expect(masqueradeSource(negated)).toBe('! 10.99.0.0/16');
    expect(addressMatches(option(negated, '-s'), '10.99.1.1')).toBe(false);
    expect(addressMatches(option(negated, '-s'), '192.168.15.1')).toBe(true);
    expect(masquerades(save).map(masqueradeSource)).toEqual(['172.18.0.0/16', '172.17.0.0/16', '172.18.0.2/32', '172.18.0.2/32', '! 10.99.0.0/16']);
    const packet = { protocol: 'icmp' as const, destination: '203.0.113.8', source: '10.99.1.1', local: false };
    expect(judge(negated, packet)).toBe('no');
    expect(judge(negated, { ...packet, source: '10.1.1.1' })).toBe('maybe'); // its `-o uplink0` is not known before sending
  });

  test("Docker's published ports: the DNAT a packet from outside meets, through PREROUTING → DOCKER, RETURNs skipped", () => {
    const tcp = dnatFor(save, { protocol: 'tcp', destination: '198.51.100.2', port: 8080, local: true })!;
    expect(tcp).toMatchObject({ address: '172.18.0.2', port: 80 });
    expect(dnatFor(save, { protocol: 'udp', destination: '198.51.100.2', port: 5353, local: true })).toMatchObject({ address: '172.18.0.2', port: 53 });
    // not published, another protocol, or not a local address (addrtype --dst-type LOCAL): no DNAT
    expect(dnatFor(save, { protocol: 'tcp', destination: '198.51.100.2', port: 8081, local: true })).toBeUndefined();
    expect(dnatFor(save, { protocol: 'udp', destination: '198.51.100.2', port: 8080, local: true })).toBeUndefined();
    expect(dnatFor(save, { protocol: 'tcp', destination: '203.0.113.8', port: 8080, local: false })).toBeUndefined();
  });

  test('the incoming interface, where known: a packet from the bridge itself meets `-i br-… -j RETURN`, not the DNAT', () => {
    const fromOutside = { protocol: 'tcp' as const, destination: '198.51.100.2', port: 8080, local: true, iif: 'uplink0' };
    expect(dnatFor(save, fromOutside)).toMatchObject({ address: '172.18.0.2', port: 80 });
    expect(dnatFor(save, { ...fromOutside, iif: 'br-048ba37db75a' })).toBeUndefined();
    expect(dnatFor(save, { ...fromOutside, iif: 'docker0' })).toBeUndefined();
    const wild = parseIptablesSave(['*nat', ':PREROUTING ACCEPT [0:0]', '-A PREROUTING -i up+ -p tcp -j DNAT --to-destination 10.0.0.9', 'COMMIT', ''].join('\n'));
    expect(dnatFor(wild, { ...fromOutside, iif: 'uplink0' })).toMatchObject({ address: '10.0.0.9' });
    expect(dnatFor(wild, { ...fromOutside, iif: 'eth0' })).toBeUndefined();
  });

  test('DNAT only from the chains PREROUTING reaches, and `! -d` is a negation, not a wildcard', () => {
    const rules = parseIptablesSave(
      ['*nat', ':PREROUTING ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]', ':ORPHAN - [0:0]', '-A PREROUTING ! -d 10.0.0.1/32 -p tcp -m tcp --dport 80 -j DNAT --to-destination 10.0.0.9:8080', '-A ORPHAN -p tcp -j DNAT --to-destination 10.0.0.7', '-A OUTPUT -p tcp -j DNAT --to-destination 10.0.0.8', 'COMMIT', ''].join('\n'),
    );
    expect(dnatFor(rules, { protocol: 'tcp', destination: '10.0.0.1', port: 80, local: true })).toBeUndefined();
    expect(dnatFor(rules, { protocol: 'tcp', destination: '10.0.0.2', port: 80, local: true })).toMatchObject({ address: '10.0.0.9', port: 8080 });
  });

  test('counters: every policy and rule; risen ones between two reads', () => {
    const all = counters(save);
    expect(all.find((c) => c.table === 'nat' && c.rule === '-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER')?.packets).toBe(1);
    expect(all.filter((c) => c.policy).length).toBe(save.chains.filter((c) => c.policy).length);
    const later = parseIptablesSave(captured('host.iptables-save').replace(':FORWARD DROP [0:0]', ':FORWARD DROP [3:252]').replace('[0:0] -A DOCKER-ISOLATION-STAGE-1 -j RETURN', '[2:168] -A DOCKER-ISOLATION-STAGE-1 -j RETURN'));
    expect(risenCounters(save, later).map((c) => `${c.table} ${c.rule}`)).toEqual(['filter policy DROP', 'filter -A DOCKER-ISOLATION-STAGE-1 -j RETURN']);
    // a rule inserted between the reads does not shift the comparison onto its neighbors
    const inserted = parseIptablesSave(captured('host.iptables-save').replace('[0:0] -A FORWARD -j DOCKER-USER', '[5:420] -A FORWARD -j LOG\n[0:0] -A FORWARD -j DOCKER-USER'));
    expect(risenCounters(save, inserted)).toEqual([]);
  });

  test("an nft-syntax match found among a rule's options: host prefixes, negation", () => {
    const accept = save.rules.find((r) => r.chain === 'DOCKER' && r.table === 'filter')!;
    expect(hasOption(accept, '-d', '172.18.0.2')).toBe(true); // printed as 172.18.0.2/32
    expect(hasOption(accept, '-i', 'br-048ba37db75a', true)).toBe(true);
    expect(hasOption(accept, '-i', 'br-048ba37db75a')).toBe(false);
    expect(hasOption(accept, '--dport', '80')).toBe(true);
    expect(hasOption(accept, '--dport', '8')).toBe(false); // not a substring match
    expect(counters(save).find((c) => c.rule === accept.text)?.parsed?.target).toBe('ACCEPT');
  });

  test('empty or missing output is an empty ruleset', () => {
    expect(parseIptablesSave('')).toEqual({ tables: [], chains: [], rules: [] });
    expect(parseIptablesSave(captured('host.ip6tables-save')).rules).toEqual([]);
  });
});

describe('nft -j list ruleset', () => {
  test("tables, base chains (hook, priority, policy) and rules; iptables-nft's tables told from native ones", () => {
    expect(nft.tables.map((t) => `${t.family} ${t.name}`)).toEqual(['ip filter', 'ip nat', 'ip mangle', 'inet site', 'ip6 six']);
    expect(native.tables.map((t) => `${t.family} ${t.name}`)).toEqual(['inet site', 'ip6 six']);
    expect(native.chains.find((c) => c.name === 'guard')).toEqual({ family: 'inet', table: 'site', name: 'guard', type: 'filter', hook: 'forward', prio: 0, policy: 'drop' });
    expect(dropPolicies(native, 'forward').map((c) => c.name)).toEqual(['guard']);
    expect(dropPolicies(native, 'input')).toEqual([]);
  });

  test('rules render as nft syntax, as `nft list ruleset` prints them', () => {
    const text = native.rules.map((r) => r.text);
    expect(text).toEqual([
      'ip daddr 198.51.100.2 tcp dport 9090 counter packets 0 bytes 0 dnat ip to 172.18.0.2:80',
      'ct state established,related accept',
      'iifname "uplink0" ip saddr != 10.0.0.0/8 tcp dport { 80, 443 } counter packets 0 bytes 0 accept',
      'meta l4proto icmp reject',
      'ip6 daddr fd00::/8 udp dport 53 drop',
    ]);
    for (const t of text) expect(captured('host.nft.txt')).toContain(t);
    // the dump's form: the native tables only, tab-indented, priorities by name
    const dump = formatNft(native);
    expect(dump).toMatch(/^table inet site \{\n\tchain pre \{\n\t\ttype nat hook prerouting priority dstnat; policy accept;\n/);
    expect(dump).toContain('\tchain guard {\n\t\ttype filter hook forward priority filter; policy drop;');
    expect(dump).not.toMatch(/table ip (filter|nat|mangle)/);
    expect(nativeOnly(parseNftJson('{"nftables":[{"table":{"family":"inet","name":"netspec_trace_1_1"}}]}')).tables).toEqual([]);
  });

  test('a native dnat a packet meets, by family, protocol, address and port', () => {
    const to = nftDnatFor(native, { protocol: 'tcp', destination: '198.51.100.2', port: 9090, local: true });
    expect(to.dnat).toMatchObject({ address: '172.18.0.2', port: 80 });
    expect(to.prio).toBe(-100);
    expect(nftDnatFor(native, { protocol: 'udp', destination: '198.51.100.2', port: 9090, local: true }).dnat).toBeUndefined();
    expect(nftDnatFor(native, { protocol: 'tcp', destination: '198.51.100.3', port: 9090, local: true }).dnat).toBeUndefined();
    expect(nftDnatFor(native, { protocol: 'tcp', destination: 'fd00::2', port: 9090, local: true }).dnat).toBeUndefined();
    // an iifname match, judged when the interface is known
    const guarded = parseNftJson(captured('host.nft.json').replace('{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "daddr"}}, "right": "198.51.100.2"}}', '{"match": {"op": "==", "left": {"meta": {"key": "iifname"}}, "right": "uplink*"}}'));
    const packet = { protocol: 'tcp' as const, destination: '198.51.100.2', port: 9090, local: true };
    expect(nftDnatFor(nativeOnly(guarded), { ...packet, iif: 'uplink0' }).dnat).toMatchObject({ address: '172.18.0.2' });
    expect(nftDnatFor(nativeOnly(guarded), { ...packet, iif: 'v-net-0' }).dnat).toBeUndefined();
    expect(nftDnatFor(nativeOnly(guarded), packet).dnat).toMatchObject({ address: '172.18.0.2' }); // unknown: may
  });

  test('source NAT rules, and counters that rose', () => {
    const masq = parseNftJson(JSON.stringify({ nftables: [
      { table: { family: 'ip', name: 'out' } },
      { chain: { family: 'ip', table: 'out', name: 'post', type: 'nat', hook: 'postrouting', prio: 100, policy: 'accept' } },
      { rule: { family: 'ip', table: 'out', chain: 'post', handle: 2, expr: [{ match: { op: '==', left: { payload: { protocol: 'ip', field: 'saddr' } }, right: { prefix: { addr: '10.0.0.0', len: 24 } } } }, { counter: { packets: 4, bytes: 336 } }, { masquerade: null }] } },
    ] }));
    expect(masq.rules[0]!.text).toBe('ip saddr 10.0.0.0/24 counter packets 4 bytes 336 masquerade');
    expect(nftSourceNat(masq, { protocol: 'icmp', destination: '203.0.113.8', source: '10.0.0.5', local: false })).toHaveLength(1);
    expect(nftSourceNat(masq, { protocol: 'icmp', destination: '203.0.113.8', source: '10.0.1.5', local: false })).toHaveLength(0);
    expect(risenNft(native, masq)).toEqual([]);
    expect(risenNft(parseNftJson(JSON.stringify({ nftables: [{ rule: { ...masq.rules[0], expr: [{ counter: { packets: 1, bytes: 84 } }, { masquerade: null }] } }] })), masq).map((r) => r.handle)).toEqual([2]);
  });

  test("a witness set's elements, canonical", () => {
    expect(setElements('{"nftables":[{"set":{"family":"inet","name":"seen","elem":["FD00:0::1","10.0.0.1"]}}]}')).toEqual(['fd00::1', '10.0.0.1']);
    expect(setElements('')).toEqual([]);
  });
});

describe('ip -json', () => {
  test('links, addresses, neighbors and namespace ids', () => {
    const links = parseLinks(captured('host.links.json'));
    expect(links.find((l) => l.ifname === 'docker0')?.linkinfo?.info_kind).toBe('bridge');
    expect(links.filter((l) => l.linkinfo?.info_kind === 'veth').length).toBeGreaterThan(0);
    const addrs = parseAddresses(captured('host.addr.json'));
    expect(globalAddresses(addrs).map((a) => a.address)).toContain('172.18.0.1');
    expect(parseNeighbors(captured('host.neigh.json'))[0]).toMatchObject({ dst: '172.18.0.2' });
    expect(parseLinks(captured('c1.links.json')).find((l) => l.ifname === 'eth0')?.link_netnsid).toBe(0);
    expect(parseNsIds('[{"nsid":0},{"nsid":1,"name":"red"}]')).toEqual(new Map([[0, undefined], [1, 'red']]));
    expect(parseNsIds('')).toEqual(new Map());
  });

  test('routes of every table, with multipath nexthops, blackholes and policy rules', () => {
    const routes = parseRoutes(captured('host.routes.json'));
    const multipath = routes.find((r) => r.dst === '10.77.0.0/16')!;
    expect(multipath.table).toBe('100');
    expect(describeRoute(multipath)).toBe('table 100 nexthops: via 172.18.0.2 dev br-048ba37db75a weight 1, via 172.17.0.1 dev docker0 weight 2');
    expect(routes.find((r) => r.dst === '10.66.0.0/16')?.type).toBe('blackhole');
    expect(parseIpRules(captured('host.rules.json')).find((r) => r.table === '100')).toMatchObject({ priority: 1000, src: '10.77.0.0', srclen: 16 });
  });

  test('nexthop objects, policy rules with marks, interfaces and actions, and the table a lookup came from (iproute2 6.1)', () => {
    // r.*.json: captured from specs/matchers/routing.spec.ts's namespace r (ip -j nexthop show, ip -j rule show,
    // ip -j route get 203.0.113.5 from 10.2.0.2)
    const nexthops = parseNexthops(captured('r.nexthops.json'));
    expect(nexthops.find((n) => n.id === 10)?.group).toEqual([{ id: 1, weight: 3 }, { id: 2 }]);
    expect(nexthops.find((n) => n.id === 11)).toHaveProperty('blackhole', null);
    expect(nexthops.find((n) => n.id === 1)).toMatchObject({ gateway: '10.1.0.1', dev: 'a0' });
    const rules = parseIpRules(captured('r.rules.json'));
    expect(rules.map(describeRule)).toEqual([
      '0: from all lookup local',
      '40: from all oif b0 unreachable',
      '50: from all to 10.3.0.0/16 iif a0 lookup main',
      '99: from all fwmark 0x5 lookup 101',
      '100: from 10.1.0.2 lookup 100',
      '32763: from all fwmark 0x5/0xff lookup 100',
      '32766: from all lookup main',
      '32767: from all lookup default',
    ]);
    expect(parseRoutes(captured('r.route-get.json'))[0]).toMatchObject({ gateway: '10.2.0.1', table: '100' });
    expect(parseNexthops('')).toEqual([]);
  });

  test('`ip -json -batch` output: one array per command, back to back, strings with brackets kept whole', () => {
    const batch = [captured('host.links.json'), captured('host.addr.json'), captured('host.neigh.json'), captured('host.rules.json')].map((t) => t.trim()).join('');
    const parsed = parseIpBatch(batch);
    expect(parsed.links.length).toBe(parseLinks(captured('host.links.json')).length);
    expect(parsed.ipRules.length).toBe(4);
    expect(splitJsonArrays('[{"a":"]["}][2]')).toEqual([[{ a: '][' }], [2]]);
    // cut short: an error naming the command and the byte offset, never "nothing there" (issue 22, class 3)
    expect(() => parseIpBatch('[{"ifname":"lo"')).toThrow(/ip -json -batch.*at byte 15/);
  });
});

describe('/proc/net/stat neighbor tables', () => {
  const text = [
    'entries  allocs   destroys hash_grows lookups  hits     res_failed rcv_probes_mcast rcv_probes_ucast periodic_gc_runs forced_gc_runs unresolved_discards table_fulls',
    '00000402 00012f91 00013930 00000005   000f96e4 000687c7 0000004b   00000000         00000000         00000000         0000ab5a       00000000            0000ab12',
    '00000402 00011d7f 000113de 00000003   000d5c23 00059b5c 00000044   00000000         00000000         00000696         0000b1f5       00000000            00000010',
  ].join('\n');
  test('entries are the table\'s, table_fulls summed over CPUs (hexadecimal)', () => {
    expect(parseNeighborTableStat(text)).toEqual({ entries: 0x402, tableFulls: 0xab12 + 0x10 });
  });
  test('a header without the columns, or rows that do not fit it, say nothing', () => {
    expect(parseNeighborTableStat('')).toBeUndefined();
    expect(parseNeighborTableStat('entries allocs\n00000001 00000002')).toBeUndefined();
    expect(parseNeighborTableStat(`${text.split('\n')[0]}\n00000001 zz`)).toBeUndefined();
  });
});

test('parseIcmpRedirects: Icmp InRedirects from /proc/net/snmp, Icmp6InRedirects from /proc/net/snmp6; undefined when absent', () => {
  const snmp = [
    'Ip: Forwarding DefaultTTL InReceives',
    'Ip: 2 64 10',
    'Icmp: InMsgs InErrors InCsumErrors InDestUnreachs InTimeExcds InParmProbs InSrcQuenchs InRedirects InEchos',
    'Icmp: 5 0 0 1 0 0 0 3 1',
    'IcmpMsg: InType5',
    'IcmpMsg: 3',
  ].join('\n');
  expect(parseIcmpRedirects(snmp, 4)).toBe(3);
  expect(parseIcmpRedirects('Icmp6InMsgs                     \t4\nIcmp6InRedirects                \t2\nIcmp6OutRedirects 0\n', 6)).toBe(2);
  expect(parseIcmpRedirects('Ip: Forwarding\nIp: 1\n', 4)).toBeUndefined();
  expect(parseIcmpRedirects('Icmp: InMsgs InErrors\nIcmp: 1 0\n', 4)).toBeUndefined();
  expect(parseIcmpRedirects('Icmp6InMsgs 4\n', 6)).toBeUndefined();
});
