// Issue 30: exposure assertions over every port, with real packets. A port is exposed when the target's firewall lets
// a probe in (delivered past its input filters), whether anything listens there or not; `{ listening: true }` asks
// for a listener too. Every negative claim is tested both ways.
import { expect, test } from '../../src/vitest.js';
import { serve, type Lab, type Netns } from '../../src/index.js';
import { failureOf } from '../matchers/helpers.js';
import { portRanges, sweepPorts } from '../../src/exposure.js';

/** Each sweep of every port takes a few seconds (more on a loaded machine), and a failure traces a probe per run of ports. */
const SWEEP_TEST_MS = 90_000;

/** Two namespaces on one bridge: a 10.7.0.1 (and fd07::1), b 10.7.0.2 (fd07::2). */
async function pair(lab: Lab): Promise<{ a: Netns; b: Netns }> {
  const [a, b] = await Promise.all([lab.netns('a'), lab.netns('b')]);
  const bridge = await lab.bridge('v-pair');
  await Promise.all([bridge.attach(a, { address: '10.7.0.1/24', ifname: 'eth0' }), bridge.attach(b, { address: '10.7.0.2/24', ifname: 'eth0' })]);
  await Promise.all([a.exec('ip', ['addr', 'add', 'fd07::1/64', 'dev', 'eth0', 'nodad']), b.exec('ip', ['addr', 'add', 'fd07::2/64', 'dev', 'eth0', 'nodad'])]);
  return { a, b };
}

const firewall = (lab: Lab, ns: Netns, rules: string) =>
  ns.exec('nft', ['-f', '-'], { input: `table inet fw {\n chain input { type filter hook input priority 0; policy drop; ct state established,related accept; ${rules} }\n}\n` });

test('an off-by-one range (tcp dport 1000-2001 where 1000-2000 was meant) fails toReachOnly naming exactly 2001', async ({ lab }) => {
  const { a, b } = await pair(lab);
  await firewall(lab, b, 'tcp dport 22 accept; tcp dport 1000-2001 accept;');
  const msg = await failureOf(expect(a).toReachOnly(b, [{ port: 22 }, { port: '1000-2000' }]));
  expect(msg).toMatch(/a reaches 1 TCP port of 10\.7\.0\.2 that is not allowed: 2001\n/);
  expect(msg).toMatch(/2001\/tcp: delivered to b on 10\.7\.0\.2:2001\n/);
  // the rule that let it in, from a traced probe
  expect(msg).toMatch(/port 2001: b: .*tcp dport 1000-2001 accept/);
  expect(msg.match(/port 2001: /g)).toHaveLength(1);
  expect(msg).toMatch(/all 65,535 ports swept/);
  // the range as meant passes; the allowed ports are reached too
  await b.exec('nft', ['replace', 'rule', 'inet', 'fw', 'input', 'handle', await ruleHandle(b, '1000-2001'), 'tcp', 'dport', '1000-2000', 'accept']);
  await expect(a).toReachOnly(b, [{ port: 22 }, { port: '1000-2000' }]);
  // an allowed port the firewall does not open is a failure too, named
  expect(await failureOf(expect(a).toReachOnly(b, [{ port: 22 }, { port: '1000-2000' }, { port: 443 }]))).toMatch(/does not reach allowed TCP port 443 of 10\.7\.0\.2: no probe to it was delivered/);
}, SWEEP_TEST_MS);

async function ruleHandle(ns: Netns, text: string): Promise<string> {
  const out = (await ns.exec('nft', ['-a', 'list', 'chain', 'inet', 'fw', 'input'])).stdout;
  const line = out.split('\n').find((l) => l.includes(text));
  const handle = /# handle (\d+)/.exec(line ?? '')?.[1];
  if (!handle) throw new Error(`no rule with ${text} in ${out}`);
  return handle;
}

test('a port open with nothing listening is exposed; with { listening: true } it is not, and a listener makes it so', async ({ lab }) => {
  const { a, b } = await pair(lab);
  await firewall(lab, b, 'tcp dport { 80, 443 } accept;');
  // nothing listens anywhere: both ports are exposed all the same (the firewall is what is tested)
  await expect(a).toReachOnly(b, [{ port: 80 }, { port: 443 }]);
  await expect(a).toReachAny(b);
  // the listening view: nothing listens, so nothing is reached…
  await expect(a).not.toReachAny(b, { listening: true });
  const none = await failureOf(expect(a).toReachOnly(b, [{ port: 443 }], { listening: true }));
  expect(none).toMatch(/does not reach allowed TCP port 443 of 10\.7\.0\.2 with something listening \(443: the firewall lets the probes in, but nothing listens there\)/);
  // …until a server listens on 443
  const server = await serve(lab.enter('b'), { port: 443 });
  try {
    await expect(a).toReachOnly(b, [{ port: 443 }], { listening: true });
    expect(await failureOf(expect(a).not.toReachAny(b, { listening: true }))).toMatch(/a reaches 1 TCP port of 10\.7\.0\.2 with something listening: 443\n/);
  } finally {
    await server.stop();
  }
}, SWEEP_TEST_MS);

test('a port answered with a RST by a REJECT rule is not open; a dropped port is closed; both ways', async ({ lab }) => {
  const { a, b } = await pair(lab);
  // 8443 rejected with a TCP reset (the rule answers, not a socket), 9000 dropped, 80 accepted
  await b.exec('nft', ['-f', '-'], { input: 'table inet fw {\n chain input { type filter hook input priority 0; policy accept; tcp dport 8443 reject with tcp reset; tcp dport 9000 drop; }\n}\n' });
  const server = await serve(lab.enter('b'), { port: 8443 });
  try {
    // everything but 8443 and 9000 is open (policy accept): every other port is seen, never 8443 (a listener there,
    // but the rule answers first) or 9000 (the sweep itself, without the failure's traced explanations)
    const s = await sweepPorts(a, { address: '10.7.0.2', family: 4 }, { protocol: 'tcp', listening: true });
    expect(portRanges(s.exposed.map((e) => e.port))).toBe('1-8442, 8444-8999, 9001-65535');
    expect(s.exposed.filter((e) => e.listening).map((e) => e.port)).toEqual([]);
  } finally {
    await server.stop();
  }
  // the negative claims, both ways: closed by reject and drop alone, open once the rules go
  await b.exec('nft', ['flush', 'chain', 'inet', 'fw', 'input']);
  await b.exec('nft', ['add', 'rule', 'inet', 'fw', 'input', 'tcp', 'dport', '!=', '{ 8443, 9000 }', 'drop']);
  await b.exec('nft', ['add', 'rule', 'inet', 'fw', 'input', 'tcp', 'dport', '8443', 'reject', 'with', 'tcp', 'reset']);
  await b.exec('nft', ['add', 'rule', 'inet', 'fw', 'input', 'tcp', 'dport', '9000', 'drop']);
  const again = await serve(lab.enter('b'), { port: 8443 });
  try {
    await expect(a).not.toReachAny(b);
  } finally {
    await again.stop();
  }
  await b.exec('nft', ['flush', 'chain', 'inet', 'fw', 'input']);
  await b.exec('nft', ['add', 'rule', 'inet', 'fw', 'input', 'tcp', 'dport', '!=', '{ 8443, 9000 }', 'drop']);
  await expect(a).toReachOnly(b, [{ port: 8443 }, { port: 9000 }]);
}, SWEEP_TEST_MS);

test('UDP: a datagram let in counts, a dropped or rejected one does not; the message says what a UDP sweep proves', async ({ lab }) => {
  const { a, b } = await pair(lab);
  await firewall(lab, b, 'udp dport 53 accept; udp dport 5353 accept; udp dport 123 reject;');
  const msg = await failureOf(expect(a).toReachOnly(b, [{ port: 53, protocol: 'udp' }]));
  expect(msg).toMatch(/a reaches 1 UDP port of 10\.7\.0\.2 that is not allowed: 5353\n/);
  expect(msg).toMatch(/UDP: a port counts as reached when netspec's datagram was delivered past the target's input filters/);
  expect(msg).toMatch(/what a UDP sweep cannot prove is that a service there answers/);
  // the TCP sweep (the default protocol) ran too, and found nothing: no TCP line
  expect(msg).not.toMatch(/TCP port/);
  await expect(a).toReachOnly(b, [{ port: 53 }, { port: 5353 }], { protocol: 'udp' });
  // TCP is not opened by the UDP rules
  await expect(a).not.toReachAny(b);
  expect(await failureOf(expect(a).not.toReachAny(b, { protocol: ['tcp', 'udp'] }))).toMatch(/a reaches 2 UDP ports of 10\.7\.0\.2: 53, 5353\n/);
}, SWEEP_TEST_MS);

test('IPv6: the sweep goes to the IPv6 address and names the extra port', async ({ lab }) => {
  const { a, b } = await pair(lab);
  await firewall(lab, b, 'meta l4proto ipv6-icmp accept; tcp dport { 443, 8080 } accept;');
  const msg = await failureOf(expect(a).toReachOnly('fd07::2', [{ port: 443 }]));
  expect(msg).toMatch(/a reaches 1 TCP port of fd07::2 that is not allowed: 8080\n/);
  expect(msg).toMatch(/8080\/tcp: delivered to b on \[fd07::2\]:8080/);
  await b.exec('nft', ['replace', 'rule', 'inet', 'fw', 'input', 'handle', await ruleHandle(b, '8080'), 'tcp', 'dport', '443', 'accept']);
  await expect(a).toReachOnly('fd07::2', [{ port: 443 }]);
}, SWEEP_TEST_MS);

test('bad input is refused with a typed error naming it', async ({ lab }) => {
  const { a, b } = await pair(lab);
  await expect(expect(a).toReachOnly(b, [{ port: 443 }], { protcol: 'udp' } as never)).rejects.toThrow(/unknown option; toReachOnly takes protocol, listening/);
  await expect(expect(a).not.toReachAny(b, { ports: [1] } as never)).rejects.toThrow(/unknown option; toReachAny takes protocol, listening/);
  await expect(expect(a).toReachOnly(b, [{ port: 70000 }])).rejects.toThrow(/invalid toReachOnly allowed port 70000/);
  await expect(expect(a).toReachOnly(b, [{ port: '2000-1000' }] as never)).rejects.toThrow(/low ≤ high/);
  await expect(expect(a).toReachOnly(b, [{ port: 1, proto: 'udp' }] as never)).rejects.toThrow(/unknown key/);
  await expect(expect(a).toReachOnly({ address: '10.7.0.2', port: 443 } as never, [443])).rejects.toThrow(/sweeps every port/);
  await expect(expect(a).toReachOnly('10.7.0.1', [443])).rejects.toThrow(/a holds 10\.7\.0\.1 itself/);
  await expect(expect(a).not.toReachOnly(b, [443])).rejects.toThrow(/not\.toReachAny/);
}, SWEEP_TEST_MS);

test('attach mode: no sweep (it would add a table in namespaces netspec does not own): a typed error says what to do, and nothing is added', async ({ lab }) => {
  const { existingNamespaces, InvalidInputError } = await import('../../src/index.js');
  await pair(lab);
  const world = await existingNamespaces({ a: { path: `/proc/${lab.pid}/root/run/netns/a` }, b: { path: `/proc/${lab.pid}/root/run/netns/b` } }, { host: { pid: lab.pid } });
  const before = (await lab.get('b').exec('nft', ['list', 'ruleset'])).stdout;
  const a = world.get('a');
  // one at a time: an assertion made before the one before it settled would reject unawaited meanwhile
  for (const assertion of [() => expect(a).toReachOnly('10.7.0.2', [443]), () => expect(a).not.toReachAny('10.7.0.2')]) {
    const error = await assertion().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(InvalidInputError);
    expect(String(error)).toMatch(/attach mode changes nothing in the namespaces it attaches to: an exposure sweep needs a table of netspec's own .* toReach\(\{ address, port \}\)/);
  }
  expect((await lab.get('b').exec('nft', ['list', 'ruleset'])).stdout).toBe(before);
}, SWEEP_TEST_MS);

test("the source's own egress: a blackhole route or an output filter that refuses the probes is no port reached, said as such", async ({ lab }) => {
  const { a, b } = await pair(lab);
  await a.exec('ip', ['route', 'add', 'blackhole', '10.7.0.2/32']);
  await expect(a).not.toReachAny(b);
  expect(await failureOf(expect(a).toReachAny(b))).toMatch(/a reaches no TCP port of 10\.7\.0\.2 .*the source's kernel refused 65535 for want of a route/);
  await a.exec('ip', ['route', 'del', 'blackhole', '10.7.0.2/32']);
  // an egress filter in the source that lets only 443 out: the rest is refused there, and 443 is reached
  await a.exec('nft', ['-f', '-'], { input: 'table inet egress {\n chain out { type filter hook output priority 0; policy accept; ip daddr 10.7.0.2 tcp dport != 443 drop; }\n}\n' });
  const msg = await failureOf(expect(a).not.toReachAny(b));
  expect(msg).toMatch(/a reaches 1 TCP port of 10\.7\.0\.2: 443\n/);
  expect(msg).toMatch(/its own output filters refused 65534 \(EPERM\)/);
  await expect(a).toReachOnly(b, [443]);
}, SWEEP_TEST_MS);

test('probes lost on the way are swept again, never reported closed: a link that loses half the packets is no verdict', async ({ lab }) => {
  const { a, b } = await pair(lab);
  const open = [7, 1999, 20000, 33333, 50001, 65000];
  await firewall(lab, b, `tcp dport { ${open.join(', ')} } accept;`);
  // the link loses every other TCP packet at random, before anything in b sees it (as a lossy cable would)
  await b.exec('nft', ['-f', '-'], { input: 'table inet lossy {\n chain pre { type filter hook prerouting priority -600; policy accept; meta l4proto tcp numgen random mod 2 == 0 drop; }\n}\n' });
  const outcome = await expect(a)
    .toReachOnly(b, open.map((port) => ({ port })))
    .then(
      () => 'passed',
      (e: unknown) => `${(e as Error).name}: ${(e as Error).message}`,
    );
  // never an open port called closed: the probes that left a and never arrived in b are counted, and swept again
  // until a pass loses none; on every pass here, it is no verdict
  expect(outcome).not.toMatch(/does not reach allowed/);
  expect(outcome).toMatch(/^ProbeError: packets were lost in each of 4 passes of the TCP sweep/);
  // the same lab without the loss: a verdict
  await b.exec('nft', ['delete', 'table', 'inet', 'lossy']);
  await expect(a).toReachOnly(b, open.map((port) => ({ port })));
}, SWEEP_TEST_MS);
