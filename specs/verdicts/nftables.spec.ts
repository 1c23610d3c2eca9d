// nftables as a first-class rule source, and one reading of the rules for every reader: the probes' DNAT lookup,
// the diagnosis, the state dump and the picture see the same rules (src/parse/*), native nft ones included.
import { expect, test } from '../../src/vitest.js';
import { readTopology, toMermaid, toSvg } from '../../src/graph.js';
import { readLabState } from '../../src/state.js';
import { formatState } from '../../src/report.js';
import { failureOf, tutorial } from '../matchers/helpers.js';

const nftSite = (rules: string) => ['table inet site {', rules, '}', ''].join('\n');

test('an nft-only dnat: the responder starts where the native rule sends the packet, and the message names the rule', async ({ lab }) => {
  const net = await tutorial(lab);
  const blue = net.nodes[1]!;
  const wan = net.wan!.ns;
  const published = { address: net.wan!.hostAddress, port: 9090 };
  // no rule: nothing listens in the lab host, so the port is refused
  expect(await failureOf(expect(wan).toReach(published, { timeout: 500 }))).toMatch(/\(REFUSED\)/);
  await lab.host.exec('nft', ['-f', '-'], {
    input: nftSite(`chain pre { type nat hook prerouting priority dstnat; policy accept; ip daddr ${net.wan!.hostAddress} tcp dport 9090 counter dnat ip to 192.168.15.2:80; }`),
  });
  await expect(wan).toReach(published);
  const msg = await failureOf(expect(wan).not.toReach(published));
  expect(msg).toMatch(/host: DNAT \S+:9090 → 192\.168\.15\.2:80 \(rule `nft inet site pre: ip daddr \S+ tcp dport 9090 counter dnat ip to 192\.168\.15\.2:80`\); answered by netspec's responder in blue/);
  // another port is not rewritten by it
  expect(await failureOf(expect(wan).toReach({ ...published, port: 9091 }, { timeout: 500 }))).toMatch(/\(REFUSED\)/);
  expect(blue.name).toBe('blue');
});

test('an nft forward chain with policy drop is FILTERED and named, with the kernel trace and without it (rules only)', async ({ lab }) => {
  const net = await tutorial(lab);
  const red = net.nodes[0]!;
  await lab.host.exec('nft', ['-f', '-'], { input: nftSite('chain guard { type filter hook forward priority 0; policy drop; }') });
  const traced = await failureOf(expect(red).toReach('203.0.113.8', { timeout: 500 }));
  expect(traced).toMatch(/\(FILTERED\)/);
  expect(traced).toMatch(/host: dropped by inet site guard policy drop — icmp echo-request 192\.168\.15\.1 → 203\.0\.113\.8/);
  const before = process.env.NETSPEC_TRACE;
  process.env.NETSPEC_TRACE = '0';
  try {
    const untraced = await failureOf(expect(red).toReach('203.0.113.8', { timeout: 500 }));
    expect(untraced).toMatch(/\(FILTERED\)/);
    expect(untraced).toMatch(/host \(192\.168\.15\.3\): the nft forward chain inet site guard policy drop drops what it does not accept \(read from its rules/);
    expect(untraced).not.toMatch(/FORWARD policy ACCEPT/);
    await expect(red).not.toReach('203.0.113.8', { because: 'FILTERED' });
  } finally {
    if (before === undefined) delete process.env.NETSPEC_TRACE;
    else process.env.NETSPEC_TRACE = before;
  }
  // a counted nft drop rule is named by its counter when there is no trace
  await lab.host.exec('nft', ['-f', '-'], { input: 'delete table inet site\n' + nftSite('chain guard { type filter hook forward priority 0; policy accept; ip daddr 203.0.113.8 counter drop; }') });
  process.env.NETSPEC_TRACE = '0';
  try {
    const counted = await failureOf(expect(red).toReach('203.0.113.8', { timeout: 500 }));
    expect(counted).toMatch(/host: dropped by inet site guard rule `ip daddr 203\.0\.113\.8 counter drop`; its counter rose during the probe/);
  } finally {
    if (before === undefined) delete process.env.NETSPEC_TRACE;
    else process.env.NETSPEC_TRACE = before;
  }
});

test('native nft rules in the picture and the dump, next to the iptables ones; iptables-nft rules shown once', async ({ lab }) => {
  const net = await tutorial(lab);
  await lab.host.exec('nft', ['-f', '-'], {
    input: nftSite('chain guard { type filter hook forward priority 0; policy drop; }\n chain pre { type nat hook prerouting priority dstnat; policy accept; tcp dport 9090 dnat ip to 192.168.15.2:80; }'),
  });
  const states = await readLabState(lab);
  const model = await readTopology(lab, states);
  const host = model.namespaces.find((n) => n.name === 'host')!;
  expect(host.nft).toEqual(['nft inet site guard: forward policy drop', 'nft inet site pre: tcp dport 9090 dnat ip to 192.168.15.2:80']);
  expect(host.nat).toEqual(['192.168.15.0/24']); // the tutorial's MASQUERADE, in iptables form
  expect(toMermaid(model)).toContain('nft inet site guard: forward policy drop');
  expect(toSvg(model)).toContain('nft inet site pre: tcp dport 9090 dnat ip to 192.168.15.2:80');
  const dump = formatState(states);
  expect(dump).toMatch(/^ {2}nft {3}table inet site \{$/m);
  expect(dump).toMatch(/^ {2}ipt {3}\[\d+:\d+\] -A POSTROUTING -s 192\.168\.15\.0\/24 -j MASQUERADE$/m);
  // iptables-nft's own tables are not repeated in nft form
  expect(dump).not.toMatch(/nft {3}table ip (filter|nat)/);
  expect(net.nodes.length).toBe(2);
});

test('every reader sees the same rules: a mangle FORWARD chain printed first and a negated MASQUERADE', async ({ lab }) => {
  const net = await tutorial(lab);
  const red = net.nodes[0]!;
  // iptables-save prints mangle before filter here: its FORWARD ACCEPT is not the filter table's policy
  await lab.host.iptables(['-t', 'mangle', '-A', 'FORWARD', '-p', 'udp', '-j', 'ACCEPT']);
  await lab.host.iptables(['-t', 'nat', '-A', 'POSTROUTING', '!', '-s', '10.99.0.0/16', '-o', 'nosuch0', '-j', 'MASQUERADE']);
  await lab.host.policy('FORWARD', 'DROP');
  const states = await readLabState(lab);
  expect(states[0]!.iptables.indexOf('*mangle')).toBeLessThan(states[0]!.iptables.indexOf('*filter'));
  const model = await readTopology(lab, states);
  const host = model.namespaces.find((n) => n.name === 'host')!;
  expect(host.policy).toBe('DROP');
  expect(host.nat).toEqual(['192.168.15.0/24', '! 10.99.0.0/16']);
  expect(toMermaid(model)).toContain('FORWARD DROP');
  const msg = await failureOf(expect(red).toReach('203.0.113.8', { timeout: 500 }));
  expect(msg).toMatch(/\(FILTERED\)/);
  expect(msg).toMatch(/host: dropped by the FORWARD policy DROP \(table filter\)/);
});

test('a DNAT for one incoming interface: from the wan it lands in blue, from the bridge it does not (REFUSED in the host)', async ({ lab }) => {
  const net = await tutorial(lab);
  const [red, blue] = [net.nodes[0]!, net.nodes[1]!];
  const wan = net.wan!.ns;
  await lab.host.iptables(['-t', 'nat', '-A', 'PREROUTING', '-i', 'uplink0', '-p', 'tcp', '--dport', '80', '-j', 'DNAT', '--to-destination', '192.168.15.2']);
  const published = { address: net.wan!.hostAddress, port: 80 };
  await expect(wan).toReach(published);
  expect(await failureOf(expect(wan).not.toReach(published))).toMatch(/host: DNAT \S+:80 → 192\.168\.15\.2:80 .*answered by netspec's responder in blue/);
  // from red the packet comes in on v-net-0: the kernel does not rewrite it, so nothing answers in the host
  const fromBridge = await failureOf(expect(red).toReach({ address: '192.168.15.3', port: 80 }, { timeout: 500 }));
  expect(fromBridge).toMatch(/\(REFUSED\)/);
  expect(fromBridge).not.toMatch(/host: DNAT/);
  expect(fromBridge).toMatch(/192\.168\.15\.3:80: answered with a refusal/);
  expect(blue.name).toBe('blue');
});
