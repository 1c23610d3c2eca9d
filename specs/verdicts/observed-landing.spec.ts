// Issue 22, classes 1 and 2: where a probe lands is observed (netspec's landing watch sees the probe's own packets
// delivered, after every NAT), never read from the rules; and only the probe's own packets, answered by the end meant,
// count. Each case is a configuration netspec's old static reading got wrong: the real landing place answered with a
// reset, so `.not.toReach` passed on an open port; or a witness or handshake that was not the probe's own decided.
import { expect, test } from '../../src/vitest.js';
import { serve, type Lab, type Netns } from '../../src/index.js';
import { failureOf, tutorial } from '../matchers/helpers.js';
import { outcomeOf } from './helpers.js';
import { watchLanding } from '../../src/landing.js';

/** Three namespaces on one bridge, no NAT anywhere: a 10.1.0.1, b 10.1.0.2, c 10.1.0.3. */
async function trio(lab: Lab): Promise<{ a: Netns; b: Netns; c: Netns }> {
  const [a, b, c] = await Promise.all([lab.netns('a'), lab.netns('b'), lab.netns('c')]);
  const bridge = await lab.bridge('v-trio');
  await Promise.all([bridge.attach(a, { address: '10.1.0.1/24' }), bridge.attach(b, { address: '10.1.0.2/24' }), bridge.attach(c, { address: '10.1.0.3/24' })]);
  return { a, b, c };
}

/** The port is open where the packet really lands: a positive probe reaches it and `.not` fails (it was a false pass). */
async function opensWhereItLands(from: Netns, target: { address: string; port: number }, landedIn: string): Promise<void> {
  await expect(from).toReach(target);
  const msg = await failureOf(expect(from).not.toReach(target));
  expect(msg).toMatch(new RegExp(`answered by netspec's responder in ${landedIn} .*where netspec's landing watch saw the probe's own packets delivered`));
}

// ── class 1: the kernel decides where a packet lands ──

test('a native nft table named `ip nat` (the wiki\'s name) is read as a rule source: its dnat decides', async ({ lab }) => {
  const { a, b } = await trio(lab);
  await b.exec('nft', ['-f', '-'], { input: 'table ip nat {\n chain prerouting { type nat hook prerouting priority dstnat; policy accept; tcp dport 9090 dnat to 10.1.0.2:80; }\n}\n' });
  await opensWhereItLands(a, { address: '10.1.0.2', port: 9090 }, 'b');
  const msg = await failureOf(expect(a).not.toReach({ address: '10.1.0.2', port: 9090 }));
  expect(msg).toMatch(/DNAT 10\.1\.0\.2:9090 → 10\.1\.0\.2:80/);
});

test('a DNAT limited by -s to another source does not apply to the probe: it lands on the port it was sent to', async ({ lab }) => {
  const { a, b } = await trio(lab);
  await b.exec('iptables', ['-t', 'nat', '-A', 'PREROUTING', '-s', '10.1.0.99', '-p', 'tcp', '--dport', '9090', '-j', 'DNAT', '--to-destination', '10.1.0.2:80']);
  await opensWhereItLands(a, { address: '10.1.0.2', port: 9090 }, 'b');
  // from the source the rule names, it is rewritten: the same observation follows it
  await b.exec('iptables', ['-t', 'nat', '-I', 'PREROUTING', '-s', '10.1.0.1', '-p', 'tcp', '--dport', '9091', '-j', 'DNAT', '--to-destination', '10.1.0.2:81']);
  expect(await failureOf(expect(a).not.toReach({ address: '10.1.0.2', port: 9091 }))).toMatch(/DNAT 10\.1\.0\.2:9091 → 10\.1\.0\.2:81/);
});

test('an nft `dnat to … map` sends the probe where the map says', async ({ lab }) => {
  const { a, b } = await trio(lab);
  await b.exec('nft', ['-f', '-'], {
    input: 'table inet site {\n chain pre { type nat hook prerouting priority dstnat; policy accept; meta nfproto ipv4 dnat ip addr . port to tcp dport map { 9090 : 10.1.0.2 . 80, 9092 : 10.1.0.2 . 82 }; }\n}\n',
  });
  await opensWhereItLands(a, { address: '10.1.0.2', port: 9090 }, 'b');
  expect(await failureOf(expect(a).not.toReach({ address: '10.1.0.2', port: 9092 }))).toMatch(/→ 10\.1\.0\.2:82/);
});

test('a DNAT on a router in the path, for an address no namespace owns, lands where the router sends it', async ({ lab }) => {
  const net = await tutorial(lab);
  const wan = net.wan!.ns;
  await wan.exec('ip', ['route', 'add', '203.0.113.77/32', 'via', net.wan!.hostAddress]);
  await lab.host.exec('iptables', ['-t', 'nat', '-A', 'PREROUTING', '-d', '203.0.113.77', '-p', 'tcp', '--dport', '9090', '-j', 'DNAT', '--to-destination', '192.168.15.2:80']);
  await opensWhereItLands(wan, { address: '203.0.113.77', port: 9090 }, 'blue');
});

test("a DNAT in the source's own OUTPUT chain is where its packets go", async ({ lab }) => {
  const { a, b } = await trio(lab);
  await a.exec('iptables', ['-t', 'nat', '-A', 'OUTPUT', '-d', '10.1.0.2', '-p', 'tcp', '--dport', '9090', '-j', 'DNAT', '--to-destination', '10.1.0.3:80']);
  await opensWhereItLands(a, { address: '10.1.0.2', port: 9090 }, 'c');
  expect(b.name).toBe('b');
});

test('two namespaces hold the same address: the one the packets are routed to is the one that answers', async ({ lab }) => {
  const net = await tutorial(lab);
  const [red, blue] = net.nodes as [Netns, Netns];
  const wan = net.wan!.ns;
  // blue (first by name) and the wan both hold 10.77.0.1; the host routes it to the wan
  await blue.exec('ip', ['addr', 'add', '10.77.0.1/32', 'dev', 'lo']);
  await wan.exec('ip', ['addr', 'add', '10.77.0.1/32', 'dev', 'lo']);
  await lab.host.exec('ip', ['route', 'add', '10.77.0.1/32', 'via', '198.51.100.1']);
  await opensWhereItLands(red, { address: '10.77.0.1', port: 9090 }, 'wan');
  // ICMP seenAs: the wan's view (the host masquerades red), not blue's
  await expect(red).toReach('10.77.0.1', { seenAs: net.wan!.hostAddress });
});

// ── class 2: only the probe's own packets count ──

test("seenAs over ICMP counts the probe's own echo requests, not another sender's in the same window", async ({ lab }) => {
  const { a, b, c } = await trio(lab);
  // c pings b all through the probe
  const noise = c.exec('ping', ['-n', '-q', '-i', '0.05', '-w', '6', '10.1.0.2'], { reject: false, timeoutMs: 20_000 });
  await new Promise((r) => setTimeout(r, 200));
  const wrong = await outcomeOf(expect(a).toReach('10.1.0.2', { seenAs: '10.1.0.3', timeout: 1000 }));
  expect(wrong).toBe('failed');
  expect(await failureOf(expect(a).toReach('10.1.0.2', { seenAs: '10.1.0.3', timeout: 1000 }))).toMatch(/saw the source as 10\.1\.0\.1, not 10\.1\.0\.3/);
  // the true claim still passes beside the noise, and `.not` with the wrong source too
  await expect(a).toReach('10.1.0.2', { seenAs: '10.1.0.1' });
  await expect(a).not.toReach('10.1.0.2', { seenAs: '10.1.0.3' });
  await noise;
  expect(b.name).toBe('b');
});

test('seenAs over TCP to the spec\'s own server counts the probe\'s own connection, not another client\'s', async ({ lab }) => {
  const { a, b, c } = await trio(lab);
  // a server that answers without netspec's marker, and another client connecting to it all the while
  void b.exec('timeout', ['15', 'socat', 'TCP4-LISTEN:7000,fork,reuseaddr', 'SYSTEM:echo hi'], { reject: false }).catch(() => undefined);
  await new Promise((r) => setTimeout(r, 300));
  const noise = c.exec('sh', ['-c', 'for i in $(seq 40); do socat -T1 - TCP4:10.1.0.2:7000 </dev/null >/dev/null 2>&1; sleep 0.05; done'], { reject: false, timeoutMs: 30_000 });
  expect(await outcomeOf(expect(a).toReach({ address: '10.1.0.2', port: 7000 }, { responder: false, seenAs: '10.1.0.3' }))).toBe('failed');
  await expect(a).toReach({ address: '10.1.0.2', port: 7000 }, { responder: false, seenAs: '10.1.0.1' });
  await noise;
});

test('a userland proxy (socat) in front of a silent backend completes the handshake: not a pass either way', async ({ lab }) => {
  const { a, b, c } = await trio(lab);
  await c.exec('nft', ['-f', '-'], { input: 'table inet quiet {\n chain in { type filter hook input priority 0; policy accept; tcp dport 80 drop; }\n}\n' });
  void b.exec('timeout', ['20', 'socat', 'TCP4-LISTEN:8080,fork,reuseaddr', 'TCP4:10.1.0.3:80,connect-timeout=10'], { reject: false }).catch(() => undefined);
  await new Promise((r) => setTimeout(r, 300));
  const target = { address: '10.1.0.2', port: 8080 };
  const positive = await outcomeOf(expect(a).toReach(target, { responder: false, timeout: 1500 }));
  expect(positive).not.toBe('passed');
  const negative = await outcomeOf(expect(a).not.toReach(target, { responder: false }));
  expect(negative).toMatchObject({ threw: { message: expect.stringMatching(/sent nothing.*no verdict/) } });
});

test('a userland proxy in front of a port where nothing listens is no pass; with a server behind it, it is', async ({ lab }) => {
  const { a, b, c } = await trio(lab);
  void b.exec('timeout', ['20', 'socat', 'TCP4-LISTEN:8080,fork,reuseaddr', 'TCP4:10.1.0.3:80'], { reject: false }).catch(() => undefined);
  await new Promise((r) => setTimeout(r, 300));
  const target = { address: '10.1.0.2', port: 8080 };
  for (let i = 0; i < 3; i++) expect(await outcomeOf(expect(a).toReach(target, { responder: false, timeout: 800 }))).not.toBe('passed');
  await expect(a).not.toReach(target, { responder: false });
  // the server meant, behind the proxy, answers with netspec's marker through it: reached
  const server = await serve(lab.enter(c.name), { port: 80 });
  try {
    await expect(a).toReach(target, { responder: false });
  } finally {
    await server.stop();
  }
});

test('a REDIRECT on a router for an address nobody owns: the probe lands on the router\'s own listener, which answers (no false fail)', async ({ lab }) => {
  const { a, b } = await trio(lab);
  // b answers for 10.1.0.50 (an address nobody has) by redirecting it to its own listener: the probe's SYN is delivered
  // in b as 10.1.0.2:7001, so that is its landing, and the answer is the listener's
  await a.exec('ip', ['route', 'add', '10.1.0.50/32', 'via', '10.1.0.2']);
  await b.exec('sysctl', ['-w', 'net.ipv4.ip_forward=1']);
  await b.exec('iptables', ['-t', 'nat', '-A', 'PREROUTING', '-d', '10.1.0.50', '-p', 'tcp', '--dport', '7001', '-j', 'REDIRECT']);
  void b.exec('timeout', ['15', 'socat', 'TCP4-LISTEN:7001,fork,reuseaddr', 'SYSTEM:echo hi'], { reject: false }).catch(() => undefined);
  await new Promise((r) => setTimeout(r, 300));
  await expect(a).toReach({ address: '10.1.0.50', port: 7001 }, { responder: false, seenAs: '10.1.0.1' });
});

// ── a try counts once the kernel saw it leave (the oracle, seed 20261208, case 608: one UDP try under load, nothing
// seen landing, "not reached" although the silent server there was reachable) ──

test('UDP: the landing watch records which tries left the source (by their source port), and only those', async ({ lab }) => {
  const { a, b } = await trio(lab);
  const watch = await watchLanding(lab, { family: 4, protocol: 'udp', port: 5353 });
  if (!('read' in watch)) throw new Error(watch.unavailable);
  try {
    expect(await watch.left()).toEqual([]);
    const [first, second] = watch.ports;
    await a.exec('socat', ['-u', '-', `UDP4:10.1.0.2:5353,sourceport=${first},reuseaddr`], { input: 'x\n' });
    expect(await watch.left()).toEqual([{ ns: a.name, sport: first }]);
    // a datagram from another port of the same source is not the probe's
    await a.exec('socat', ['-u', '-', `UDP4:10.1.0.2:5353,sourceport=${second! + 100},reuseaddr`], { input: 'x\n' });
    expect(await watch.left()).toEqual([{ ns: a.name, sport: first }]);
    // it landed in b (delivered at input), from the port that left
    expect((await watch.read()).map((d) => [d.ns, d.sport])).toEqual([[b.name, first]]);
  } finally {
    await watch.stop();
  }
});

// ── probes at once from one namespace (a spec's Promise.all): each watch's source ports are its own (the review of
// stop 38: two random ranges could overlap, and each probe then counted the other's packets as its own) ──

test('landing watches alive at the same time never share a source port, and a stopped watch gives its ports back', async ({ lab }) => {
  // (a lab of its host alone: one table a watch)
  const start = () => watchLanding(lab, { family: 4, protocol: 'udp', port: 20010 });
  const watches = await Promise.all(Array.from({ length: 30 }, start));
  const live: { ports: number[]; stop(): Promise<void> }[] = [];
  try {
    for (const w of watches) {
      if (!('read' in w)) throw new Error(w.unavailable);
      live.push(w);
    }
    // 30 random ranges of 64 in 20000-29999 overlap somewhere but about once in 250 runs
    const ports = live.flatMap((w) => w.ports);
    expect(new Set(ports).size).toBe(ports.length);
    // the target's own port is never one of them
    expect(ports).not.toContain(20010);
  } finally {
    await Promise.all(live.map((w) => w.stop()));
  }
  // their blocks are free again: 130 more at once (of the 155 blocks without port 20010) still share none
  const more = await Promise.all(Array.from({ length: 130 }, start));
  try {
    const ports = more.flatMap((w) => ('read' in w ? w.ports : []));
    expect(ports.length).toBe(130 * 64);
    expect(new Set(ports).size).toBe(ports.length);
  } finally {
    await Promise.all(more.map((w) => ('read' in w ? w.stop() : undefined)));
  }
}, 120_000);
