// An adversarial pass over the proxy-following verdict (a silent TCP listener that connects onward is followed to what
// is behind it, from the landing watch's record of each onward SYN, its SYN-ACK and where it landed). Each scenario
// knows its truth independently (did the probe's own bytes reach a listener's own socket? the reader's log says), and
// asserts netspec gives that verdict or a ProbeError, never the opposite one. (UDP `.not.toReach` of a silent reader
// under a saturated CPU was checked too, 30 tries: no false pass; it saturates every core, so it belongs to the serial
// soundness harness, not to this file of the "labs" group.)
import { expect, test } from '../../src/vitest.js';
import type { Lab, Netns } from '../../src/index.js';
import { outcomeOf } from './helpers.js';

/** Three namespaces on one bridge, no NAT anywhere: a 10.1.0.1, b 10.1.0.2, c 10.1.0.3 (and fd01::1-3). */
async function trio(lab: Lab): Promise<{ a: Netns; b: Netns; c: Netns }> {
  const [a, b, c] = await Promise.all([lab.netns('a'), lab.netns('b'), lab.netns('c')]);
  const bridge = await lab.bridge('v-adv');
  await Promise.all([bridge.attach(a, { address: '10.1.0.1/24' }), bridge.attach(b, { address: '10.1.0.2/24' }), bridge.attach(c, { address: '10.1.0.3/24' })]);
  return { a, b, c };
}

/** Run `argv` in `ns` (for at most 40 s, ended with the lab: its pid namespace) and wait until it listens on TCP `port`. */
async function listening(ns: Netns, port: number, argv: string[]): Promise<void> {
  background(ns, argv);
  for (let i = 0; i < 50; i++) {
    const ss = await ns.exec('ss', ['-H', '-ltn', `sport = :${port}`]);
    if (ss.stdout.trim()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`nothing listens on ${ns.name} port ${port} after 5 s`);
}

/** Run `argv` in `ns` in the background for at most 40 s (it ends with the lab, whose pid namespace holds it). */
function background(ns: Netns, argv: string[]): void {
  void ns.exec('timeout', ['40', ...argv], { reject: false }).catch(() => undefined);
}

/** A silent reader on `port` of `ns` that appends what it reads to `log`. */
const reader = (ns: Netns, port: number, log: string, six = false) =>
  listening(ns, port, ['socat', '-u', `TCP${six ? '6' : '4'}-LISTEN:${port},fork,reuseaddr`, `OPEN:${log},creat,append`]);

/** Did the probe's own bytes ("netspec") reach the reader's log? */
async function readerGot(ns: Netns, log: string): Promise<boolean> {
  const r = await ns.exec('cat', [log], { reject: false });
  return /netspec/.test(r.stdout);
}

type Outcome = Awaited<ReturnType<typeof outcomeOf>>;
const word = (o: Outcome) => (typeof o === 'string' ? o : `threw ${o.threw.name}: ${o.threw.message.slice(250, 900)}`);

/**
 * netspec's two verdicts on one target against the truth: reached → toReach passes or is no verdict (ProbeError), and
 * .not.toReach fails or is no verdict; not reached → the opposite. Never the opposite verdict; any other error throws.
 */
function judge(truth: boolean, positive: Outcome, negative: Outcome, what: string): void {
  console.log(`[proxy-adversarial] ${what}: truth ${truth ? 'reached' : 'not reached'}; toReach ${word(positive)}; .not.toReach ${word(negative)}`);
  for (const o of [positive, negative]) if (typeof o !== 'string') expect(o.threw.name, `${what}: ${o.threw.message}`).toBe('ProbeError');
  if (truth) {
    expect(negative, `${what}: .not.toReach passed although the probe reached the reader`).not.toBe('passed');
    expect(positive, `${what}: toReach failed although the probe reached the reader`).not.toBe('failed');
  } else {
    expect(positive, `${what}: toReach passed although no listener got the probe`).not.toBe('passed');
    expect(negative, `${what}: .not.toReach failed although no listener got the probe`).not.toBe('failed');
  }
}

async function both(a: Netns, target: { address: string; port: number }, timeout = 1500): Promise<[Outcome, Outcome]> {
  const positive = await outcomeOf(expect(a).toReach(target, { responder: false, timeout }));
  const negative = await outcomeOf(expect(a).not.toReach(target, { responder: false, timeout }));
  return [positive, negative];
}

test('a proxy whose upstream is refused, in a namespace that also keeps connecting to a live silent reader: never reached', async ({ lab }) => {
  const { a, b, c } = await trio(lab);
  await reader(c, 9002, '/tmp/bg.log');
  background(b, ['sh', '-c', 'while true; do echo background | socat -u - TCP4:10.1.0.3:9002; sleep 0.05; done']);
  await listening(b, 9000, ['socat', 'TCP4-LISTEN:9000,fork,reuseaddr', 'TCP4:10.1.0.3:9001']);
  const [positive, negative] = await both(a, { address: '10.1.0.2', port: 9000 });
  judge(await readerGot(c, '/tmp/bg.log'), positive, negative, 'proxy to refused + background to live reader');
});

test('a proxy whose upstream is blackholed, sharing its source port with a connection of its own to a live reader: never reached', async ({ lab }) => {
  const { a, b, c } = await trio(lab);
  await reader(c, 9002, '/tmp/bg.log');
  // the proxy's onward SYNs go to an address nobody owns (never delivered, never answered), from source port 40000;
  // another connection of b's from the same port to c (another 4-tuple: allowed) is accepted by a silent reader
  await listening(b, 9000, ['socat', 'TCP4-LISTEN:9000,fork,reuseaddr', 'TCP4:10.1.0.99:9001,sourceport=40000,reuseaddr,connect-timeout=1']);
  // (tcp_tw_reuse: b may reuse its TIME_WAIT 4-tuple to c after a second, as many hosts are set up to)
  await b.exec('sysctl', ['-w', 'net.ipv4.tcp_tw_reuse=1']);
  background(b, ['sh', '-c', 'while true; do echo background | socat -u - TCP4:10.1.0.3:9002,sourceport=40000,reuseaddr; sleep 1.1; done']);
  await new Promise((r) => setTimeout(r, 300));
  const [positive, negative] = await both(a, { address: '10.1.0.2', port: 9000 }, 1000);
  judge(await readerGot(c, '/tmp/bg.log'), positive, negative, 'proxy to blackhole, same sport as live connection');
});

test('a silent reader that also keeps opening a connection to a dead port (its own, unrelated to the probe): the probe reached it', async ({ lab }) => {
  const { a, b } = await trio(lab);
  await reader(b, 9001, '/tmp/reader.log');
  // e.g. a service that keeps retrying its database, which is down: refused every time
  background(b, ['sh', '-c', 'while true; do socat -u /dev/null TCP4:10.1.0.3:5432; sleep 0.05; done']);
  await new Promise((r) => setTimeout(r, 300));
  const [positive, negative] = await both(a, { address: '10.1.0.2', port: 9001 });
  judge(await readerGot(b, '/tmp/reader.log'), positive, negative, 'reader + unrelated dead onward');
});

// KNOWN FALSE PASS, not fixed: a reader that, for each connection it accepts, reads it all and then opens one
// connection of its own to a dead service (an audit logger that is down) looks to the landing watch exactly like a
// proxy in front of nothing: one refused onward connection per accepted one, and a hang-up. Nothing the watch records
// ties an onward connection to the accepted one (same process, same time); nor does anything else:
// a proxy also connects onward at accept and reads after. `.not.toReach` passes.
test.fails('KNOWN: a reader that opens one connection to a dead logger per connection, before reading, is taken for a proxy in front of nothing', async ({ lab }) => {
  const { a, b } = await trio(lab);
  // (a script: socat's own address syntax would split the inner address at its colons)
  await b.exec('sh', ['-c', 'printf "%s\\n" "socat -u /dev/null TCP4:10.1.0.3:5432" "cat >> /tmp/reader.log" > /tmp/reader.sh']);
  await listening(b, 9001, ['socat', 'TCP4-LISTEN:9001,fork,reuseaddr', 'SYSTEM:sh /tmp/reader.sh']);
  const [positive, negative] = await both(a, { address: '10.1.0.2', port: 9001 });
  judge(await readerGot(b, '/tmp/reader.log'), positive, negative, 'reader + one dead connection per accepted one');
});

test('a silent reader that also fetches from a live server now and then: the probe reached it', async ({ lab }) => {
  const { a, b, c } = await trio(lab);
  await reader(b, 9001, '/tmp/reader.log');
  await reader(c, 9002, '/tmp/other.log');
  background(b, ['sh', '-c', 'while true; do echo fetch | socat -u - TCP4:10.1.0.3:9002; sleep 0.05; done']);
  await new Promise((r) => setTimeout(r, 300));
  const [positive, negative] = await both(a, { address: '10.1.0.2', port: 9001 });
  judge(await readerGot(b, '/tmp/reader.log'), positive, negative, 'reader + unrelated live onward');
});

test('a proxy behind a MASQUERADE with random ports in its own namespace, in front of a silent reader', async ({ lab }) => {
  const { a, b, c } = await trio(lab);
  await b.exec('nft', ['-f', '-'], { input: 'table ip m {\n chain post { type nat hook postrouting priority 100; policy accept; ip daddr 10.1.0.3 tcp dport 9001 masquerade random; }\n}\n' });
  await reader(c, 9001, '/tmp/up.log');
  await listening(b, 9000, ['socat', 'TCP4-LISTEN:9000,fork,reuseaddr', 'TCP4:10.1.0.3:9001']);
  const [positive, negative] = await both(a, { address: '10.1.0.2', port: 9000 });
  judge(await readerGot(c, '/tmp/up.log'), positive, negative, 'proxy + masquerade random, live reader');
});

test('a proxy behind an SNAT to a fixed port range, in front of nothing', async ({ lab }) => {
  const { a, b } = await trio(lab);
  await b.exec('nft', ['-f', '-'], { input: 'table ip m {\n chain post { type nat hook postrouting priority 100; policy accept; ip daddr 10.1.0.3 tcp dport 9001 snat to 10.1.0.2:41000-41010; }\n}\n' });
  await listening(b, 9000, ['socat', 'TCP4-LISTEN:9000,fork,reuseaddr', 'TCP4:10.1.0.3:9001']);
  const [positive, negative] = await both(a, { address: '10.1.0.2', port: 9000 }, 1000);
  judge(false, positive, negative, 'proxy + snat port range, dead upstream');
});

test('a proxy whose onward connection is DNATed in its own OUTPUT to a silent reader', async ({ lab }) => {
  const { a, b, c } = await trio(lab);
  await b.exec('nft', ['-f', '-'], { input: 'table ip m {\n chain out { type nat hook output priority -100; policy accept; ip daddr 10.1.0.50 tcp dport 7000 dnat to 10.1.0.3:9001; }\n}\n' });
  await reader(c, 9001, '/tmp/up.log');
  await listening(b, 9000, ['socat', 'TCP4-LISTEN:9000,fork,reuseaddr', 'TCP4:10.1.0.50:7000']);
  const [positive, negative] = await both(a, { address: '10.1.0.2', port: 9000 });
  judge(await readerGot(c, '/tmp/up.log'), positive, negative, 'proxy + output DNAT, live reader');
});

test('a proxy whose onward connection is DNATed in its own OUTPUT to a dead port', async ({ lab }) => {
  const { a, b } = await trio(lab);
  await b.exec('nft', ['-f', '-'], { input: 'table ip m {\n chain out { type nat hook output priority -100; policy accept; ip daddr 10.1.0.50 tcp dport 7000 dnat to 10.1.0.3:9001; }\n}\n' });
  await listening(b, 9000, ['socat', 'TCP4-LISTEN:9000,fork,reuseaddr', 'TCP4:10.1.0.50:7000']);
  const [positive, negative] = await both(a, { address: '10.1.0.2', port: 9000 }, 1000);
  judge(false, positive, negative, 'proxy + output DNAT, dead upstream');
});

test('a proxy in a namespace that tracks no connection (notrack), in front of a silent reader, then of nothing', async ({ lab }) => {
  const { a, b, c } = await trio(lab);
  // a fast path many hosts use: conntrack off for everything (the SYN-ACK of b's onward connection is untracked)
  await b.exec('nft', ['-f', '-'], { input: 'table inet raw {\n chain pre { type filter hook prerouting priority -400; policy accept; notrack; }\n chain out { type filter hook output priority -400; policy accept; notrack; }\n}\n' });
  await reader(c, 9001, '/tmp/up.log');
  await listening(b, 9000, ['socat', 'TCP4-LISTEN:9000,fork,reuseaddr', 'TCP4:10.1.0.3:9001']);
  await listening(b, 9003, ['socat', 'TCP4-LISTEN:9003,fork,reuseaddr', 'TCP4:10.1.0.3:9004']);
  const [positive, negative] = await both(a, { address: '10.1.0.2', port: 9000 });
  judge(await readerGot(c, '/tmp/up.log'), positive, negative, 'notrack proxy → live reader');
  const [p2, n2] = await both(a, { address: '10.1.0.2', port: 9003 }, 1000);
  judge(false, p2, n2, 'notrack proxy → dead');
});

test('a proxy whose upstream sits behind a DNAT in the upstream namespace, a silent reader', async ({ lab }) => {
  const { a, b, c } = await trio(lab);
  await c.exec('nft', ['-f', '-'], { input: 'table ip m {\n chain pre { type nat hook prerouting priority -100; policy accept; tcp dport 80 redirect to :9001; }\n}\n' });
  await reader(c, 9001, '/tmp/up.log');
  await listening(b, 9000, ['socat', 'TCP4-LISTEN:9000,fork,reuseaddr', 'TCP4:10.1.0.3:80']);
  const [positive, negative] = await both(a, { address: '10.1.0.2', port: 9000 });
  judge(await readerGot(c, '/tmp/up.log'), positive, negative, 'proxy to DNATed reader');
});

test('a proxy to a silent reader of its own namespace over loopback', async ({ lab }) => {
  const { a, b } = await trio(lab);
  await listening(b, 9001, ['socat', '-u', 'TCP4-LISTEN:9001,bind=127.0.0.1,fork,reuseaddr', 'OPEN:/tmp/lo.log,creat,append']);
  await listening(b, 9000, ['socat', 'TCP4-LISTEN:9000,fork,reuseaddr', 'TCP4:127.0.0.1:9001']);
  const [positive, negative] = await both(a, { address: '10.1.0.2', port: 9000 });
  judge(await readerGot(b, '/tmp/lo.log'), positive, negative, 'proxy over loopback to own reader');
});

test('a proxy to a dead port of its own namespace over loopback', async ({ lab }) => {
  const { a, b } = await trio(lab);
  await listening(b, 9000, ['socat', 'TCP4-LISTEN:9000,fork,reuseaddr', 'TCP4:127.0.0.1:9001']);
  const [positive, negative] = await both(a, { address: '10.1.0.2', port: 9000 }, 1000);
  judge(false, positive, negative, 'proxy over loopback to dead port');
});

test('an IPv4 proxy onward over IPv6: to a silent reader, then to nothing', async ({ lab }) => {
  const { a, b, c } = await trio(lab);
  for (const [ns, address] of [[b, 'fd01::2/64'], [c, 'fd01::3/64']] as const) {
    const dev = (await ns.exec('ip', ['-o', 'link'])).stdout.split('\n').find((l) => l && !/ lo:/.test(l))!.split(': ')[1]!.split('@')[0]!;
    await ns.exec('ip', ['-6', 'addr', 'add', address, 'dev', dev, 'nodad']);
  }
  await reader(c, 9001, '/tmp/six.log', true);
  await listening(b, 9000, ['socat', 'TCP4-LISTEN:9000,fork,reuseaddr', 'TCP6:[fd01::3]:9001']);
  await listening(b, 9003, ['socat', 'TCP4-LISTEN:9003,fork,reuseaddr', 'TCP6:[fd01::3]:9004']);
  const [positive, negative] = await both(a, { address: '10.1.0.2', port: 9000 });
  judge(await readerGot(c, '/tmp/six.log'), positive, negative, 'proxy v4 → v6 reader');
  const [p2, n2] = await both(a, { address: '10.1.0.2', port: 9003 }, 1000);
  judge(false, p2, n2, 'proxy v4 → v6 dead');
});

test('a proxy to a proxy that connects to a port that is refused (the far one dies after accepting)', async ({ lab }) => {
  const { a, b, c } = await trio(lab);
  // c accepts and connects to a's closed port: a docker-proxy-like thing in front of a stopped container
  await listening(c, 9001, ['socat', 'TCP4-LISTEN:9001,fork,reuseaddr', 'TCP4:10.1.0.1:7777']);
  await listening(b, 9000, ['socat', 'TCP4-LISTEN:9000,fork,reuseaddr', 'TCP4:10.1.0.3:9001']);
  const [positive, negative] = await both(a, { address: '10.1.0.2', port: 9000 }, 1000);
  judge(false, positive, negative, 'proxy → proxy → refused');
});

test('a proxy whose upstream accepts and resets at once (a container that RSTs): as reached as that upstream probed directly', async ({ lab }) => {
  const { a, b, c } = await trio(lab);
  // c's listener accepts and closes with SO_LINGER 0, reading nothing: netspec calls a listener that accepts "reached"
  // (it completed the handshake and closed: the listener's own socket); through a proxy, the verdict must not be
  // the opposite of the direct one
  await listening(c, 9001, ['socat', 'TCP4-LISTEN:9001,fork,reuseaddr,so-linger=0', 'SYSTEM:true']);
  await listening(b, 9000, ['socat', 'TCP4-LISTEN:9000,fork,reuseaddr', 'TCP4:10.1.0.3:9001']);
  const [dp, dn] = await both(a, { address: '10.1.0.3', port: 9001 }, 1000);
  const direct = dp === 'passed' && dn === 'failed' ? true : dp === 'failed' && dn === 'passed' ? false : undefined;
  console.log(`[proxy-adversarial] the upstream that RSTs, probed directly: toReach ${word(dp)}; .not.toReach ${word(dn)}`);
  expect(direct, 'a direct verdict on the resetting listener').toBeDefined();
  const [positive, negative] = await both(a, { address: '10.1.0.2', port: 9000 }, 1000);
  judge(direct!, positive, negative, 'proxy → RST upstream (truth: the direct verdict)');
});
