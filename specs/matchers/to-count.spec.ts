// Issue 27: counting packets at a point (`ns.counter(filter)` + `expect(counter).toCount(bounds)`, nft named counters in
// a table of netspec's own) and where a probe landed (`expect(source).toLandOn(ns, target)`, the landing watch of
// src/landing.ts). Positive and negative: a counter that must stay 0 stays 0 while others count; a count over or under
// its bounds fails with the count; a probe DNATed to web1 does not land on web2, and saying it does fails.
import { describe, expect, test } from '../../src/vitest.js';
import { InvalidInputError, serve, type Lab, type Netns } from '../../src/index.js';

/** red 10.0.0.1 — blue 10.0.0.2 on one veth (veth-red / veth-blue); and fd00::1 / fd00::2. */
async function pair(lab: Lab): Promise<{ red: Netns; blue: Netns }> {
  const [red, blue] = await Promise.all([lab.netns('red'), lab.netns('blue')]);
  await lab.veth({ ns: red, name: 'veth-red', address: '10.0.0.1/24' }, { ns: blue, name: 'veth-blue', address: '10.0.0.2/24' });
  await Promise.all([red.addAddress('fd00::1/64', 'veth-red'), blue.addAddress('fd00::2/64', 'veth-blue')]);
  return { red, blue };
}

/**
 * A client on 198.51.100.2 (the Internet side) before the lab host (198.51.100.1), which DNATs tcp 8080 to web1
 * 10.0.0.2:80 on bridge br0 (10.0.0.1/24); web2 is 10.0.0.3 on the same bridge.
 */
async function dnatLab(lab: Lab) {
  const [client, web1, web2] = await Promise.all([lab.netns('client'), lab.netns('web1'), lab.netns('web2')]);
  const br = await lab.bridge('br0', { address: '10.0.0.1/24' });
  await Promise.all([br.attach(web1, { address: '10.0.0.2/24', gateway: true }), br.attach(web2, { address: '10.0.0.3/24', gateway: true })]);
  await lab.veth({ ns: client, name: 'eth0', address: '198.51.100.2/24' }, { ns: lab.host, name: 'uplink0', address: '198.51.100.1/24' });
  await client.addRoute('default', { via: '198.51.100.1' });
  await lab.host.forwarding();
  await lab.host.iptables(['-t', 'nat', '-A', 'PREROUTING', '-i', 'uplink0', '-p', 'tcp', '--dport', '8080', '-j', 'DNAT', '--to-destination', '10.0.0.2:80']);
  return { client, web1, web2 };
}

describe('toCount: packets seen at a point', () => {
  test('three echo requests in, three replies out; a TCP counter stays 0; IPv6 counted apart', async ({ lab }) => {
    const { red, blue } = await pair(lab);
    const requests = await blue.counter({ protocol: 'icmp', icmpType: 'echo-request', src: '10.0.0.1', iif: 'veth-blue' });
    const replies = await blue.counter({ protocol: 'icmp', icmpType: 'echo-reply', dst: '10.0.0.1' }, { hook: 'output' });
    const tcp = await blue.counter({ protocol: 'tcp', dport: 80 });
    const six = await blue.counter({ protocol: 'icmpv6', icmpType: 'echo-request' });
    await red.exec('ping', ['-n', '-c', '3', '-i', '0.2', '10.0.0.2']);
    await expect(requests).toCount({ exactly: 3 });
    await expect(replies).toCount({ exactly: 3 });
    await expect(tcp).toCount({ exactly: 0 });
    await expect(six).toCount({ exactly: 0 });
    await red.exec('ping', ['-n', '-c', '2', '-i', '0.2', 'fd00::2']);
    await expect(six).toCount({ exactly: 2 });
    await expect(requests).toCount({ atLeast: 1, atMost: 3 });
    // negatives: a count outside its bounds fails with the count and the command that read it
    await expect(expect(requests).toCount({ exactly: 2 })).rejects.toThrow(/counter in blue: meta nfproto ipv4 ip saddr 10\.0\.0\.1 meta l4proto icmp icmp type echo-request iifname "veth-blue" at prerouting counted 3 packets \(\d+ bytes\), expected exactly 2\n[\s\S]*blue\$ nft -j list counter inet netspec_count_/);
    await expect(expect(tcp).toCount({ atLeast: 1, timeout: 300 })).rejects.toThrow(/counted 0 packets \(0 bytes\), expected at least 1 \(waited \d+ ms for more\)/);
    await expect(expect(requests).toCount({ atMost: 2 })).rejects.toThrow(/counted 3 packets .*expected at most 2/);
    // reset, then remove
    await requests.reset();
    await expect(requests).toCount({ exactly: 0 });
    await requests.remove();
    await expect(expect(requests).toCount({ exactly: 0 })).rejects.toThrow(/could not read counter in blue/);
  });

  test('the counter sees packets a filter drops later (its chain is first), and a forwarded packet at forward', async ({ lab }) => {
    const { red, blue } = await pair(lab);
    const seen = await blue.counter({ protocol: 'tcp', dport: 5555 });
    await blue.iptables(['-A', 'INPUT', '-p', 'tcp', '--dport', '5555', '-j', 'DROP']);
    await expect(red).not.toReach({ address: '10.0.0.2', port: 5555 }, { window: 500 });
    await expect(seen).toCount({ atLeast: 1 });
    // forward: red → lab host → green, counted at the host's forward hook with iif and oif, not at its input
    const green = await lab.netns('green');
    await lab.veth({ ns: red, name: 'up0', address: '10.9.0.2/24' }, { ns: lab.host, name: 'red-up', address: '10.9.0.1/24' });
    await lab.veth({ ns: green, name: 'eth0', address: '10.8.0.2/24' }, { ns: lab.host, name: 'green-up', address: '10.8.0.1/24' });
    await Promise.all([red.addRoute('10.8.0.0/24', { via: '10.9.0.1' }), green.addRoute('10.9.0.0/24', { via: '10.8.0.1' })]);
    await lab.host.forwarding();
    const forwarded = await lab.host.counter({ protocol: 'icmp', icmpType: 'echo-request', iif: 'red-up', oif: 'green-up' });
    const input = await lab.host.counter({ protocol: 'icmp', icmpType: 'echo-request' }, { hook: 'input' });
    await red.exec('ping', ['-n', '-c', '2', '-i', '0.2', '10.8.0.2']);
    await expect(forwarded).toCount({ exactly: 2 });
    await expect(input).toCount({ exactly: 0 });
    expect(forwarded.hooks).toEqual(['forward']);
  });

  test('bad filters and bounds are refused, naming the key and the fix', async ({ lab }) => {
    const { blue } = await pair(lab);
    for (const [filter, options, message] of [
      [{ port: 80 }, {}, /invalid counter filter key "port": unknown key \(say sport or dport\)/],
      [{ proto: 'tcp' }, {}, /unknown key \(say protocol\)/],
      [{ dport: 80 }, {}, /ports need \{ protocol: "tcp" \} or "udp"/],
      [{ protocol: 'sctp' }, {}, /expected "tcp", "udp", "icmp" \(IPv4\) or "icmpv6"/],
      [{ protocol: 'icmp', icmpType: 'packet-too-big' }, {}, /expected one of echo-request.* \(ICMP\)/],
      [{ protocol: 'tcp', icmpType: 'echo-request' }, {}, /an ICMP type or code needs protocol icmp or icmpv6, not tcp/],
      [{ src: '10.0.0.1', dst: 'fd00::2' }, {}, /it is IPv6, but the filter is IPv4 already/],
      [{ src: '10.0.0.1/24' }, {}, /host bits are set; the network is 10\.0\.0\.0\/24/],
      [{ iif: 'veth-blue' }, { hook: 'output' }, /the output hook has no input interface/],
      [{ oif: 'veth-blue' }, { hook: 'prerouting' }, /the prerouting hook has no output interface yet/],
      [{ iif: 'a"; drop' }, {}, /invalid counter filter iif/],
      [{}, { hook: 'egress' }, /expected one of prerouting, input, forward, output, postrouting, ingress/],
      [{}, { hook: ['input', 'input'] }, /a hook is named twice/],
      [{}, { hooks: 'input' }, /invalid counter option "hooks": unknown option/],
      [{ ct: 'bogus' }, {}, /expected one of new, established, related, invalid, untracked/],
      [{ dstMac: 'de:ad:be:ef:13' }, {}, /expected a MAC address such as/],
      [{ dstMac: 'de:ad:be:ef:13:37' }, { hook: 'ingress' }, /the ingress hook is bound to one device: give the filter an iif/],
      [{ iif: 'veth-blue', ct: 'new' }, { hook: 'ingress' }, /conntrack has not seen a frame at the device's ingress yet/],
      [{ iif: 'veth-blue' }, { hook: ['ingress', 'prerouting'] }, /ingress is a hook of its own/],
    ] as const) {
      const error = await blue.counter(filter as never, options as never).catch((e: unknown) => e);
      expect(error, JSON.stringify(filter)).toBeInstanceOf(InvalidInputError);
      expect(String(error), JSON.stringify(filter)).toMatch(message);
    }
    // nothing was added for any of them
    const tables = (await blue.exec('nft', ['list', 'tables'])).stdout;
    expect(tables).not.toMatch(/netspec_count_/);
    const c = await blue.counter({ protocol: 'udp' });
    await expect(expect(c).toCount({} as never)).rejects.toThrow(/give at least one of atLeast, exactly, atMost/);
    await expect(expect(c).toCount({ exactly: 1, atLeast: 1 })).rejects.toThrow(/`exactly` says it all/);
    await expect(expect(c).toCount({ atLeast: 3, atMost: 2 })).rejects.toThrow(/no count passes/);
    await expect(expect(c).toCount({ exactly: -1 })).rejects.toThrow(/expected a number ≥ 0/);
    await expect(expect(c).toCount({ exactly: 1.5 })).rejects.toThrow(/expected a whole number of packets/);
    await expect(expect(c).toCount({ exacly: 1 } as never)).rejects.toThrow(/unknown option; toCount takes atLeast, exactly, atMost, bytes, timeout/);
    await expect(expect(c).toCount({ atLeast: 1, bytes: 84 })).rejects.toThrow(/bytes goes with exactly/);
    await expect(blue.nftCounter('t; flush ruleset', 'x')).rejects.toThrow(/invalid nft table name/);
    await expect(blue.nftCounter('filter', 'nosuch')).rejects.toThrow(/could not read nft counter inet filter nosuch in blue/);
    await expect(expect(c).not.toCount({ exactly: 3 })).rejects.toThrow(/`\.not\.toCount` would pass on any other count/);
    await expect(expect(blue).toCount({ exactly: 0 })).rejects.toThrow(/expected a counter: const c = await red\.counter/);
  });
});

describe('counters of the namespace\'s own ruleset, conntrack states, a device\'s ingress', () => {
  test('nftCounter reads a named counter of the spec\'s own table; ct and MAC filters and the ingress hook count what they say', async ({ lab }) => {
    const { red, blue } = await pair(lab);
    await blue.exec('nft', ['-f', '-'], { input: 'table inet t { counter hits { }; chain input { type filter hook input priority 0; policy accept; icmp type echo-request counter name "hits"; }; }' });
    const hits = await blue.nftCounter('t', 'hits');
    const fresh = await blue.counter({ protocol: 'icmp', icmpType: 'echo-request', ct: 'new' });
    const tracked = await blue.counter({ protocol: 'icmp', icmpType: 'echo-request', ct: ['established', 'related'] });
    const redMac = (await red.links()).find((l) => l.ifname === 'veth-red')!.address!;
    const fromRed = await blue.counter({ iif: 'veth-blue', srcMac: redMac, protocol: 'icmp' }, { hook: 'ingress' });
    const unknown = await blue.counter({ iif: 'veth-blue', dstMac: 'de:ad:be:ef:13:37' }, { hook: 'ingress' });
    await red.exec('ping', ['-n', '-c', '2', '-i', '0.2', '10.0.0.2']);
    await expect(hits).toCount({ exactly: 2, bytes: 168 });
    await expect(expect(hits).toCount({ exactly: 2, bytes: 100 })).rejects.toThrow(/nft counter inet t hits in blue counted 2 packets \(168 bytes\), expected exactly 2 \(100 bytes\)/);
    await expect(fresh).toCount({ exactly: 1 }); // one ping: one new flow, its second request established
    await expect(tracked).toCount({ exactly: 1 });
    await expect(fromRed).toCount({ exactly: 2 });
    // a frame for a MAC nobody has reaches blue's device (a neighbour entry on red sends it there) but not its IP layer
    await red.exec('ip', ['neigh', 'replace', '10.0.0.100', 'lladdr', 'de:ad:be:ef:13:37', 'dev', 'veth-red', 'nud', 'permanent']);
    await red.exec('ping', ['-n', '-c', '1', '-W', '1', '10.0.0.100'], { reject: false });
    await expect(unknown).toCount({ exactly: 1 });
    expect(String(unknown)).toMatch(/at ingress of veth-blue$/);
    await expect(hits.remove()).rejects.toThrow(/it is a counter of the namespace's own ruleset, not netspec's/);
  });
});

describe('toLandOn: where a probe landed, observed', () => {
  test('a DNATed probe lands on web1 (as 10.0.0.2:80), NOT on web2, and counters at web1 and web2 agree', async ({ lab }) => {
    const { client, web1, web2 } = await dnatLab(lab);
    const at1 = await web1.counter({ protocol: 'tcp', dport: 80, iif: 'veth-web1' });
    const at2 = await web2.counter({ protocol: 'tcp' });
    const target = { address: '198.51.100.1', port: 8080 };
    await expect(client).toLandOn(web1, target);
    await expect(client).toLandOn(web1, target, { delivered: { address: '10.0.0.2', port: 80 } });
    await expect(client).not.toLandOn(web2, target);
    await expect(client).not.toLandOn(lab.host, target);
    await expect(at1).toCount({ atLeast: 1 });
    await expect(at2).toCount({ exactly: 0 });
    // negatives: the named namespace or the delivered address is wrong, and the message says where it did land
    await expect(expect(client).toLandOn(web2, target)).rejects.toThrow(/client's probe to 198\.51\.100\.1:8080 \(tcp\) landed in web1 on 10\.0\.0\.2:80 \(host: DNAT 198\.51\.100\.1:8080 → 10\.0\.0\.2:80 \(rule `-A PREROUTING -i uplink0 .*`\)\), not in web2\n/);
    await expect(expect(client).toLandOn(web1, target, { delivered: { port: 8080 } })).rejects.toThrow(/landed in web1 on 10\.0\.0\.2:80 .*not in web1 as \*:8080/);
    await expect(expect(client).not.toLandOn(web1, target)).rejects.toThrow(/expect\(client\)\.not\.toLandOn/);
  });

  test('without the DNAT rule the probe lands on the lab host itself, and on neither web server', async ({ lab }) => {
    const { client, web1 } = await dnatLab(lab);
    await lab.host.iptables(['-t', 'nat', '-F', 'PREROUTING']);
    const target = { address: '198.51.100.1', port: 8080 };
    await expect(client).toLandOn(lab.host, target, { responder: false, timeout: 1000 });
    await expect(client).not.toLandOn(web1, target, { responder: false, timeout: 1000 });
    // a probe whose packets are dropped before any input lands nowhere: not on web1
    await lab.host.iptables(['-t', 'raw', '-A', 'PREROUTING', '-i', 'uplink0', '-p', 'tcp', '-j', 'DROP']);
    await expect(expect(client).toLandOn(lab.host, target, { timeout: 800 })).rejects.toThrow(/was delivered to no namespace of the lab within 800 ms/);
  });

  test('a spec\'s own server (serve()) answering at once: the landing is still observed, on web1 and not on web2', async ({ lab }) => {
    const { client, web1, web2 } = await dnatLab(lab);
    const server = await serve(lab.enter('web1'), { port: 80 });
    const target = { address: '198.51.100.1', port: 8080 };
    await expect(client).toLandOn(web1, target, { responder: false, delivered: { address: '10.0.0.2', port: 80 } });
    await expect(client).not.toLandOn(web2, target, { responder: false });
    await server.stop();
  });

  test('bad input: ICMP, unknown keys, a target without port, a non-namespace', async ({ lab }) => {
    const { client, web1 } = await dnatLab(lab);
    const target = { address: '198.51.100.1', port: 8080 };
    await expect(expect(client).toLandOn(web1, target, { protocol: 'icmp' as never })).rejects.toThrow(/expected "tcp" or "udp"/);
    await expect(expect(client).toLandOn(web1, target, { delivered: { addr: '10.0.0.2' } as never })).rejects.toThrow(/invalid toLandOn option delivered key "addr"/);
    await expect(expect(client).toLandOn(web1, target, { landing: true } as never)).rejects.toThrow(/unknown option; toLandOn takes/);
    await expect(expect(client).toLandOn(web1, '198.51.100.1')).rejects.toThrow(/a TCP probe needs a port/);
    await expect(expect(client).toLandOn('web1' as never, target)).rejects.toThrow(/expected the namespace handle where the probe must land/);
  });
});
