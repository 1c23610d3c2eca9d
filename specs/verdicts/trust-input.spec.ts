// Issue 22, classes 3–6: verdicts that rested on netspec's reading of its input instead of on what the kernel did.
// 3. Unreadable is an error: output netspec cannot parse is never "nothing there"; iproute2's raw control bytes are
//    read as the names they are; an iptables comment with a line break is one rule; no raw ESC reaches a report.
// 4. Every selector counts: a policy rule's `not`, tos/dsfield, ipproto, ports, uid range and mark mask are compared
//    and printed; a rule that selects on more than the expectation names is a typed refusal, never a silent match.
// 5. Input that means something else is refused (a target's unknown key); a stopped responder is gone before the next probe.
// 6. Silence is not refusal: a UDP server that receives and stays silent is an error; the source's own address is refused.
import { describe, expect, test } from '../../src/vitest.js';
import { InvalidInputError, ProbeError, type Lab, type Netns } from '../../src/index.js';
import { parseAddresses, parseIpBatch, parseIpRules, parseLinks, parseRoutes } from '../../src/parse/ip.js';
import { dnatFor, parseIptablesSave } from '../../src/parse/iptables.js';
import { parseNftJson } from '../../src/parse/nft.js';
import { describeRule } from '../../src/diagnose/index.js';
import { formatState } from '../../src/report.js';
import { readLabState } from '../../src/state.js';
import { readTopology, toMermaid, toSvg } from '../../src/graph.js';
import { serve } from '../../src/probe.js';
import { failureOf } from '../matchers/helpers.js';
import { outcomeOf } from './helpers.js';

const ESC = '\x1b';

/** red .1 and blue .2 on one bridge, IPv4 and IPv6. */
async function pair(lab: Lab): Promise<{ red: Netns; blue: Netns }> {
  const [red, blue] = await Promise.all([lab.netns('red'), lab.netns('blue')]);
  const br = await lab.bridge('v-net-0');
  await Promise.all([br.attach(red!, { address: '192.168.15.1/24' }), br.attach(blue!, { address: '192.168.15.2/24' })]);
  const dev = async (ns: Netns) => (await ns.links()).find((l) => l.ifname !== 'lo')!.ifname;
  await Promise.all([red!.addAddress('fd00::1/64', await dev(red!), { nodad: true }), blue!.addAddress('fd00::2/64', await dev(blue!), { nodad: true })]);
  return { red: red!, blue: blue! };
}

/** A UDP server in `ns` that receives every datagram and never answers; resolves once it listens. */
async function silentUdp(ns: Netns, port: number, six = false): Promise<void> {
  void ns.exec('timeout', ['30', 'socat', '-u', `UDP${six ? '6' : '4'}-RECV:${port}`, '/dev/null'], { reject: false }).catch(() => undefined);
  for (let i = 0; !(await ns.exec('ss', ['-H', '-lun', `sport = :${port}`])).stdout.trim(); i++) {
    if (i > 200) throw new Error('the silent server never listened');
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('class 3: unreadable is an error', () => {
  const linkJson = (name: string, alias: string) =>
    `[{"ifindex":1,"ifname":"lo","flags":["LOOPBACK"],"mtu":65536,"operstate":"UNKNOWN","link_type":"loopback"},{"ifindex":3,"link":"p\x01q","ifname":"${name}","flags":[],"mtu":1500,"operstate":"DOWN","link_type":"ether","ifalias":"${alias}"}]\n`;

  test('iproute2 JSON with raw control bytes in names and aliases is read exactly, never as an empty table', () => {
    const links = parseLinks(linkJson(`a${ESC}b`, `x\x01y\\nz`));
    expect(links.map((l) => l.ifname)).toEqual(['lo', `a${ESC}b`]);
    expect(links[1]!.ifalias).toBe('x\x01y\nz');
    expect(links[1]!.link).toBe('p\x01q');
    const addrs = parseAddresses(`[{"ifindex":3,"ifname":"a${ESC}b","operstate":"DOWN","addr_info":[{"family":"inet","local":"10.9.0.1","prefixlen":24,"scope":"global","label":"a${ESC}b"}]}]`);
    expect(addrs[0]!.addr_info[0]!.local).toBe('10.9.0.1');
    // the -batch form: every array read, the control bytes in the second too
    const batch = parseIpBatch(`${linkJson('v0', 'ok')}${linkJson(`\x02`, '\x7f')}[][]`);
    expect(batch.links.map((l) => l.ifname)).toEqual(['lo', 'v0']);
  });

  test('output that is not iproute2 JSON is a ProbeError naming the command and the byte offset', () => {
    expect(() => parseLinks('[{"ifname": lo}]', 'red$ ip -j link show')).toThrow(ProbeError);
    expect(() => parseLinks('[{"ifname": lo}]', 'red$ ip -j link show')).toThrow(/`red\$ ip -j link show` at byte 12/);
    expect(() => parseAddresses('[{"ifname":"lo","addr_info":[')).toThrow(/ip -json addr show.*cut short/);
    expect(() => parseIpRules('Error: something\n[]')).toThrow(/at byte 0 .*text outside the JSON arrays/);
    expect(() => parseRoutes('[]]')).toThrow(ProbeError);
    // the byte offset counts bytes, not characters (é is two)
    expect(() => parseLinks('[{"ifname":"é", x}]')).toThrow(/at byte 17/);
    expect(parseLinks('')).toEqual([]); // no output at all is no rows (a command that printed nothing)
  });

  test('nft output netspec cannot read is a ProbeError, not an empty ruleset', () => {
    expect(() => parseNftJson('{"nftables": [{"table": ', 'blue$ nft -j list ruleset')).toThrow(/`blue\$ nft -j list ruleset` at byte/);
    expect(() => parseNftJson('Error: Could not process rule')).toThrow(ProbeError);
    expect(() => parseNftJson('{"something": []}')).toThrow(/no `nftables` array/);
    expect(parseNftJson('').rules).toEqual([]);
  });

  test('an iptables-save comment with a line break is one rule: its second line is never a phantom DNAT', () => {
    const save = [
      '*nat',
      ':PREROUTING ACCEPT [0:0]',
      '[0:0] -A PREROUTING -m comment --comment "hello',
      '-A PREROUTING -p tcp -j DNAT --to-destination 10.0.0.9" -j ACCEPT',
      '[3:180] -A PREROUTING -m comment --comment "a \\"quoted\\" \\\\ back" -j ACCEPT',
      `[0:0] -A PREROUTING -m comment --comment "esc${ESC}[31mred" -j ACCEPT`,
      'COMMIT',
      '',
    ].join('\n');
    const parsed = parseIptablesSave(save);
    expect(parsed.rules).toHaveLength(3);
    expect(parsed.rules.every((r) => r.target === 'ACCEPT')).toBe(true);
    expect(parsed.rules[0]!.options.find((o) => o.name === '--comment')!.values).toEqual(['hello\n-A PREROUTING -p tcp -j DNAT --to-destination 10.0.0.9']);
    expect(parsed.rules[1]!.options.find((o) => o.name === '--comment')!.values).toEqual(['a "quoted" \\ back']);
    expect(parsed.rules[1]!.packets).toBe(3);
    expect(dnatFor(parsed, { protocol: 'tcp', destination: '192.168.15.2', port: 80, local: true })).toBeUndefined();
  });

  test('iptables-save lines that are not a table, chain, rule or COMMIT are refused, with the byte offset', () => {
    expect(() => parseIptablesSave('*nat\n:PREROUTING ACCEPT [0:0]\n-X garbage\nCOMMIT\n', 'blue$ iptables-save -t nat')).toThrow(/`blue\$ iptables-save -t nat` at byte 30/);
    expect(() => parseIptablesSave('*nat\n-A PREROUTING -m comment --comment "never closed\n-j ACCEPT\n')).toThrow(/quoted word that never ends/);
    expect(() => parseIptablesSave('-A PREROUTING -j ACCEPT\n')).toThrow(/before any `\*table`/);
  });

  test('no raw control character reaches the state dump: names, aliases and comments are escaped', () => {
    const state = {
      name: 'red',
      links: parseLinks(linkJson(`a${ESC}b`, 'x')),
      addresses: [],
      routes: [],
      routes6: [],
      neighbors: [],
      ipRules: [],
      ipRules6: [],
      forwarding: { ipv4: false, ipv6: false },
      iptables: '',
      iptablesRules: parseIptablesSave(`*nat\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -m comment --comment "x${ESC}[2Jy\nz" -j ACCEPT\nCOMMIT\n`),
      nftRules: { tables: [], chains: [], rules: [] },
      nft: '',
      commands: [],
    };
    const dump = formatState([state]);
    expect(dump).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f]/);
    expect(dump).toContain('a\\x1bb');
    expect(dump).toContain('x\\x1b[2Jy\\x0az');
  });

  test('a lab with a link named with ESC and an alias with \\x01: every other link and address is still seen', async ({ lab }) => {
    const { red, blue } = await pair(lab);
    await red.exec('ip', ['link', 'add', `a${ESC}b`, 'type', 'veth', 'peer', 'name', 'p\x01q']);
    await red.exec('ip', ['addr', 'add', '10.9.0.1/24', 'dev', `a${ESC}b`]);
    await blue.exec('ip', ['link', 'set', (await blue.links()).find((l) => l.ifname !== 'lo')!.ifname, 'alias', `web${ESC}[31m\x01`]);
    // found by its exact name, with its address
    expect((await red.links()).map((l) => l.ifname)).toContain(`a${ESC}b`);
    expect((await red.addresses()).find((l) => l.ifname === `a${ESC}b`)?.addr_info[0]?.local).toBe('10.9.0.1');
    // .not passes only when the thing is really absent
    const eth = (await red.links()).find((l) => l.ifname !== 'lo' && !l.ifname.includes(ESC) && !l.ifname.includes('\x01'))!.ifname;
    expect(await outcomeOf(expect(red).not.toHaveLink(eth))).toBe('failed');
    expect(await outcomeOf(expect(red).not.toHaveLink('lo'))).toBe('failed');
    expect(await outcomeOf(expect(red).not.toHaveAddress('10.9.0.1/24'))).toBe('failed');
    expect(await outcomeOf(expect(red).not.toHaveAddress('192.168.15.1/24'))).toBe('failed');
    await expect(red).toHaveAddress('10.9.0.1/24');
    // a probe lands where the address is: blue's table read, a responder started, reached
    await expect(red).toReach({ address: '192.168.15.2', port: 8080 });
    expect(await outcomeOf(expect(red).not.toReach({ address: '192.168.15.2', port: 8080 }))).toBe('failed');
    // a failing message lists the names escaped, never a raw ESC
    const msg = await failureOf(expect(red).toHaveLink('nosuch'));
    expect(msg).toContain('a\\x1bb');
    expect(msg).not.toContain(ESC);
    // and the lab's state dump too
    const dump = formatState(await readLabState(lab));
    expect(dump).toContain('a\\x1bb');
    expect(dump).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f]/);
    // and the pictures (netspec graph, the report's .mmd and .svg): escaped, never raw
    const model = await readTopology(lab, await readLabState(lab));
    for (const picture of [toMermaid(model), toSvg(model)]) {
      expect(picture).toContain('a\\x1bb');
      expect(picture).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f]/);
    }
  });

  test('an iptables comment with a line break in a lab is no phantom DNAT: the probe lands on the target', async ({ lab }) => {
    const { red, blue } = await pair(lab);
    await blue.iptables(['-t', 'nat', '-A', 'PREROUTING', '-m', 'comment', '--comment', 'note\n-A PREROUTING -p tcp -j DNAT --to-destination 10.0.0.99', '-j', 'ACCEPT']);
    await blue.iptables(['-t', 'nat', '-A', 'PREROUTING', '-m', 'comment', '--comment', `two${ESC}\nlines`, '-j', 'RETURN']);
    await expect(red).toReach({ address: '192.168.15.2', port: 80 });
    expect(await outcomeOf(expect(red).not.toReach({ address: '192.168.15.2', port: 80 }))).toBe('failed');
    const state = (await readLabState(lab)).find((s) => s.name === 'blue')!;
    expect(state.iptablesRules.rules.filter((r) => r.table === 'nat').map((r) => r.target)).toEqual(['ACCEPT', 'RETURN']);
  });
});

describe('class 4: every selector of a policy rule counts', () => {
  test('`not`: a rule `not from X` is never toHaveRule({ from: X }); with not: true it is', async ({ lab }) => {
    const r = await lab.netns('r');
    await r.exec('ip', ['rule', 'add', 'not', 'from', '10.1.0.0/16', 'lookup', '100', 'priority', '100']);
    await r.exec('ip', ['-6', 'rule', 'add', 'not', 'to', 'fd00::/8', 'lookup', '100', 'priority', '100']);
    await expect(r).not.toHaveRule({ from: '10.1.0.0/16', table: 100 });
    await expect(r).not.toHaveRule({ from: '10.1.0.0/16' });
    await expect(r).not.toHaveRule({ to: 'fd00::/8' });
    await expect(r).toHaveRule({ from: '10.1.0.0/16', table: 100, not: true });
    await expect(r).toHaveRule({ to: 'fd00::/8', not: true, priority: 100 });
    await expect(r).not.toHaveRule({ from: '10.2.0.0/16', not: true });
    // added through netspec, and printed with its `not`
    await r.addRule({ not: true, from: '10.3.0.0/16', table: 101, priority: 110 });
    await expect(r).toHaveRule({ not: true, from: '10.3.0.0/16', table: 101 });
    expect(await failureOf(expect(r).toHaveRule({ from: '10.9.0.0/16' }))).toMatch(/100: not from 10\.1\.0\.0\/16 lookup 100/);
  });

  test('tos/dsfield: compared as a number in every spelling iproute2 prints; unnamed, it is a refusal', async ({ lab }) => {
    const r = await lab.netns('r');
    await r.exec('ip', ['rule', 'add', 'from', '10.2.0.0/16', 'tos', '0x10', 'lookup', '100', 'priority', '101']);
    await r.exec('ip', ['rule', 'add', 'from', '10.4.0.0/16', 'dsfield', '0x08', 'lookup', '100', 'priority', '102']);
    await expect(r).toHaveRule({ from: '10.2.0.0/16', tos: 0x10, table: 100 });
    await expect(r).toHaveRule({ from: '10.4.0.0/16', tos: 8 });
    await expect(r).not.toHaveRule({ from: '10.2.0.0/16', tos: 0x08 });
    await expect(expect(r).toHaveRule({ from: '10.2.0.0/16', table: 100 })).rejects.toThrow(InvalidInputError);
    await expect(expect(r).not.toHaveRule({ from: '10.2.0.0/16' })).rejects.toThrow(/also selects on tos 0x10/);
    await expect(expect(r).not.toHaveRule({ from: '10.4.0.0/16' })).rejects.toThrow(/tos 0x8/);
    await r.addRule({ from: '10.5.0.0/16', tos: 0x04, table: 100, priority: 103 });
    await expect(r).toHaveRule({ from: '10.5.0.0/16', tos: 4 });
    // iproute2 prints a dsfield it has a name for by its name (rt_dsfield): AF11 is 0x28
    expect(parseIpRules('[{"priority":1,"src":"all","tos":"AF11","table":"100"}]').map(describeRule)).toEqual(['1: from all tos 0x28 lookup 100']);
  });

  test('ipproto, sport/dport ranges and uidrange: compared, and a rule with one the expectation leaves out is refused', async ({ lab }) => {
    const r = await lab.netns('r');
    await r.exec('ip', ['rule', 'add', 'ipproto', 'tcp', 'sport', '1000-2000', 'dport', '53', 'lookup', '100', 'priority', '104']);
    await expect(r).toHaveRule({ ipproto: 'tcp', sport: '1000-2000', dport: 53, table: 100 });
    await expect(r).toHaveRule({ ipproto: 6, sport: '1000-2000', dport: '53' });
    await expect(r).not.toHaveRule({ ipproto: 'udp', sport: '1000-2000', dport: 53 });
    await expect(r).not.toHaveRule({ ipproto: 'tcp', sport: 1000, dport: 53 });
    await expect(expect(r).toHaveRule({ dport: 53, table: 100 })).rejects.toThrow(/ipproto 6, sport 1000-2000/);
    await expect(expect(r).not.toHaveRule({ table: 100, priority: 104 })).rejects.toThrow(InvalidInputError);
    // uid 0 is mapped in every lab's user namespace
    await r.addRule({ uidrange: '0-0', table: 102, priority: 105 });
    await expect(r).toHaveRule({ uidrange: 0, table: 102 });
    await expect(r).not.toHaveRule({ uidrange: '1-5', table: 102 });
    await expect(expect(r).toHaveRule({ table: 102 })).rejects.toThrow(/uidrange 0/);
    await expect(expect(r).toHaveRule({ ipproto: 'nosuch' })).rejects.toThrow(InvalidInputError);
    await expect(expect(r).toHaveRule({ sport: '2000-1000' })).rejects.toThrow(InvalidInputError);
  });

  test('fwmark: a mark given without a mask is the whole mark; a rule with a narrower mask is a refusal', async ({ lab }) => {
    const r = await lab.netns('r');
    await r.addRule({ fwmark: 0x10, fwmask: 0xff, table: 100, priority: 106 });
    await r.addRule({ fwmark: 0x1, table: 100, priority: 107 });
    await expect(r).toHaveRule({ fwmark: 0x10, fwmask: 0xff });
    await expect(r).toHaveRule({ fwmark: 0x1, fwmask: 0xffffffff });
    await expect(r).toHaveRule({ fwmark: 0x1 });
    await expect(r).not.toHaveRule({ fwmark: 0x1, fwmask: 0xff });
    await expect(expect(r).toHaveRule({ fwmark: 0x10, table: 100 })).rejects.toThrow(/fwmask 0xff/);
    await expect(expect(r).toHaveRule({ fwmask: 0xff })).rejects.toThrow(/a mask masks a mark/);
  });

  test('selectors netspec does not compare (tun_id, l3mdev, suppress_prefixlength) refuse rather than match', async ({ lab }) => {
    const r = await lab.netns('r');
    await r.exec('ip', ['rule', 'add', 'iif', 'lo', 'tun_id', '5', 'lookup', '100', 'priority', '111']);
    await r.exec('ip', ['rule', 'add', 'from', '10.6.0.0/16', 'lookup', 'main', 'suppress_prefixlength', '0', 'priority', '112']);
    await expect(expect(r).toHaveRule({ iif: 'lo', table: 100 })).rejects.toThrow(/tun_id 5 \(toHaveRule does not compare it\)/);
    await expect(expect(r).not.toHaveRule({ from: '10.6.0.0/16', table: 'main' })).rejects.toThrow(/suppress_prefixlength 0/);
    // a clean match elsewhere decides
    await r.addRule({ iif: 'lo', table: 100, priority: 113 });
    await expect(r).toHaveRule({ iif: 'lo', table: 100 });
  });

  test('every selector is printed: describeRule and the state dump drop none', async ({ lab }) => {
    const rows = parseIpRules(
      '[{"priority":100,"not":null,"src":"10.1.0.0","srclen":16,"table":"100"},{"priority":101,"src":"10.2.0.0","srclen":16,"tos":"AF11","table":"100"},' +
        '{"priority":103,"src":"all","uid_start":100,"uid_end":200,"table":"100"},{"priority":104,"src":"all","ipproto":"tcp","sport_start":1000,"sport_end":2000,"dport":53,"table":"100"},' +
        '{"priority":105,"src":"all","fwmark":"0x10","fwmask":"0xff","table":"100"},{"priority":111,"src":"all","iif":"lo","tun_id":5,"table":"100"},{"priority":109,"src":"10.6.0.0","srclen":16,"goto":110}]',
    );
    expect(rows.map(describeRule)).toEqual([
      '100: not from 10.1.0.0/16 lookup 100',
      '101: from 10.2.0.0/16 tos 0x28 lookup 100',
      '103: from all uidrange 100-200 lookup 100',
      '104: from all ipproto tcp sport 1000-2000 dport 53 lookup 100',
      '105: from all fwmark 0x10/0xff lookup 100',
      '111: from all iif lo lookup 100 tun_id 5',
      '109: from 10.6.0.0/16 goto 110',
    ]);
    const r = await lab.netns('r');
    await r.exec('ip', ['rule', 'add', 'not', 'from', '10.7.0.0/16', 'dsfield', '0x10', 'ipproto', 'udp', 'dport', '53', 'lookup', '100', 'priority', '120']);
    const dump = formatState(await readLabState(lab));
    expect(dump).toContain('rule  120: not from 10.7.0.0/16 tos 0x10 ipproto udp dport 53 lookup 100');
  });
});

describe('class 5: input that means something else is refused', () => {
  test('a target object takes address and port only: protocol, from, seenAs or a typo there is an InvalidInputError naming it', async ({ lab }) => {
    const { red } = await pair(lab);
    for (const [key, extra] of [['protocol', { protocol: 'udp' }], ['from', { from: '192.168.15.1' }], ['seenAs', { seenAs: '192.168.15.1' }], ['prot', { prot: 80 }], ['Port', { Port: 53 }]] as const) {
      const target = { address: '192.168.15.2', port: 53, ...extra };
      const error = await expect(red).toReach(target).then(() => undefined, (e: unknown) => e);
      expect(error, key).toBeInstanceOf(InvalidInputError);
      expect((error as Error).message).toContain(JSON.stringify(key));
      expect((error as Error).message).toMatch(/a target takes address, port/);
      await expect(expect(red).not.toReach(target)).rejects.toThrow(InvalidInputError);
    }
    // the port once: in the target or in the options, not two different ones
    await expect(expect(red).not.toReach({ address: '192.168.15.2', port: 53 }, { port: 80 })).rejects.toThrow(/give the port once/);
    await expect(red).toReach({ address: '192.168.15.2', port: 8081 }, { port: 8081 });
    // unknown keys of options and of nested objects are refused too
    await expect(expect(red).not.toReach('192.168.15.2', { protocl: 'udp' } as never)).rejects.toThrow(/unknown option/);
    await expect(expect(red).toHaveRule({ from: '10.0.0.0/8', tabel: 100 } as never)).rejects.toThrow(/tabel/);
    await expect(expect(red).toHaveRouteEntry({ destination: 'default', nexthops: [{ via: '192.168.15.2', wieght: 1 }] } as never)).rejects.toThrow(/wieght/);
  });

  test('a responder is gone once its probe ends: `responder: false` right after never reaches it', async ({ lab }) => {
    const { red } = await pair(lab);
    for (let i = 0; i < 6; i++) {
      const target = { address: '192.168.15.2', port: 9000 + i };
      await expect(red).toReach(target, { protocol: i % 2 ? 'udp' : 'tcp' });
      await expect(red).not.toReach(target, { protocol: i % 2 ? 'udp' : 'tcp', responder: false, window: 200 });
    }
  });

  test('serve().stop() resolves once the server has exited: nothing listens after it, even when it is slow to go', async ({ lab }) => {
    const { blue } = await pair(lab);
    const listening = async (protocol: 'tcp' | 'udp') => (await blue.exec('ss', ['-H', '-p', protocol === 'tcp' ? '-ltn' : '-lun', 'sport = :7100'])).stdout.trim();
    for (const protocol of ['tcp', 'udp'] as const) {
      const server = await serve(lab.enter('blue'), { port: 7100, protocol });
      const line = await listening(protocol);
      const pid = /pid=(\d+)/.exec(line)?.[1];
      expect(pid, line).toBeDefined();
      // the `timeout` that runs the server is frozen (SIGSTOP) and thawed 700 ms later: until then it cannot pass the
      // stop on, and the server keeps listening, so stop() must wait for it
      const parent = (await blue.exec('cat', [`/proc/${pid!}/stat`])).stdout.replace(/^.*\) /, '').split(' ')[1]!;
      expect((await blue.exec('cat', [`/proc/${parent}/comm`])).stdout.trim()).toBe('timeout');
      await blue.exec('kill', ['-STOP', parent]);
      const thaw = new Promise((r) => setTimeout(r, 700)).then(() => blue.exec('kill', ['-CONT', parent]));
      const started = performance.now();
      await server.stop();
      expect(performance.now() - started).toBeGreaterThanOrEqual(600);
      await thaw;
      expect(await listening(protocol)).toBe('');
    }
  });
});

describe('class 6: silence is not refusal', () => {
  test('a UDP server that receives and never answers: .not.toReach and toReach are errors that say so (IPv4 and IPv6)', async ({ lab }) => {
    const { red, blue } = await pair(lab);
    await silentUdp(blue, 5300);
    await silentUdp(blue, 5306, true);
    for (const address of ['192.168.15.2', 'fd00::2']) {
      const port = address.includes(':') ? 5306 : 5300;
      const not = await outcomeOf(expect(red).not.toReach({ address, port }, { protocol: 'udp' }));
      expect(not, address).toMatchObject({ threw: expect.any(ProbeError) });
      expect((not as { threw: Error }).threw.message).toMatch(/received the datagram and stayed silent/);
      await expect(expect(red).toReach({ address, port }, { protocol: 'udp', timeout: 500 })).rejects.toThrow(ProbeError);
    }
  });

  test('a UDP answer lost on the way back is an error too; a port that is closed or filtered before the socket still passes .not', async ({ lab }) => {
    const { red, blue } = await pair(lab);
    // blue answers on 5301, but red drops the answers
    void blue.exec('timeout', ['30', 'socat', 'UDP4-RECVFROM:5301,fork', 'EXEC:cat'], { reject: false }).catch(() => undefined);
    await silentUdp(blue, 5302);
    for (let i = 0; !(await blue.exec('ss', ['-H', '-lun', 'sport = :5301'])).stdout.trim(); i++) {
      if (i > 200) throw new Error('the server never listened');
      await new Promise((r) => setTimeout(r, 25));
    }
    await red.iptables(['-A', 'INPUT', '-p', 'udp', '--sport', '5301', '-j', 'DROP']);
    await expect(expect(red).not.toReach({ address: '192.168.15.2', port: 5301 }, { protocol: 'udp' })).rejects.toThrow(/lost on the way back/);
    // negative claims: nothing listens on 5303 (port unreachable), and blue drops 5302 before the socket
    await expect(red).not.toReach({ address: '192.168.15.2', port: 5303 }, { protocol: 'udp', responder: false });
    await blue.iptables(['-I', 'INPUT', '-p', 'udp', '--dport', '5302', '-j', 'DROP']);
    await expect(red).not.toReach({ address: '192.168.15.2', port: 5302 }, { protocol: 'udp' });
  });

  test('an address the source holds itself is refused, in every spelling, loopback included', async ({ lab }) => {
    const { red } = await pair(lab);
    await red.addAddress('10.99.0.1/32', 'lo');
    for (const target of ['192.168.15.1', 'fd00::1', 'FD00::1', 'fd00:0:0:0::1', 'fd00:0000::0001', '10.99.0.1', '127.0.0.1', '127.0.0.2', '::1', '::ffff:192.168.15.1']) {
      await expect(expect(red).toReach(target), target).rejects.toThrow(InvalidInputError);
      await expect(expect(red).not.toReach(target), target).rejects.toThrow(InvalidInputError);
    }
    await expect(expect(red).toReach({ address: 'FD00::1', port: 80 })).rejects.toThrow(/red holds fd00::1 itself/);
    await expect(expect(red).not.toReach({ address: '127.0.0.1', port: 80 }, { protocol: 'udp' })).rejects.toThrow(InvalidInputError);
    await expect(expect(red).toReach({ address: '192.168.15.1', port: 80 }, { responder: false })).rejects.toThrow(/responder: false, seenAs/);
    // a port something forwards elsewhere may be probed on the source's own address when the answer proves its end
    const server = await serve(lab.enter('red'), { port: 7200 });
    await expect(red).toReach({ address: '127.0.0.1', port: 7200 }, { responder: false, seenAs: '127.0.0.1' });
    await server.stop();
    // toHaveReachability's address targets too
    for (const spelling of ['192.168.15.1', 'FD00:0::1', '127.0.0.1']) {
      await expect(expect(lab).toHaveReachability({ red: { [spelling]: true } })).rejects.toThrow(/red holds .* itself/);
      await expect(expect(lab).not.toHaveReachability({ red: { [spelling]: false } })).rejects.toThrow(InvalidInputError);
    }
    // the neighbour's address is still probed
    await expect(red).toReach('192.168.15.2');
    await expect(red).toReach('FD00:0::2');
  });
});
