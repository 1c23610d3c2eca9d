/**
 * `npm run bench`: netspec side by side with what its users would otherwise write, measured in the same run.
 * Ratios are what count (the machine is noisy); absolute medians are printed too. Results: bench/results/.
 * Installs nothing: the Mininet cases say "skipped" when `mn` is not installed (Debian package `mininet`).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createLab, type Lab } from '../src/index.js';
import { run, which } from '../src/exec.js';
import { spawnerPid } from '../src/spawner.js';
import { bridgeNetwork, tutorialNetwork } from '../fixtures/index.js';
import { toReach, toReachAny, toReachOnly, toRouteVia } from '../src/matchers/index.js';
import { DEFAULT_NOT_WINDOW_MS } from '../src/matchers/to-reach.js';

const here = new URL('.', import.meta.url).pathname;
const quick = process.argv.includes('--quick');
const runs = (n: number) => (quick ? Math.max(2, Math.ceil(n / 4)) : n);
// `--only=execa` (a case name) runs just that case
const only = process.argv.find((a) => a.startsWith('--only='))?.slice('--only='.length);
const want = (c: string) => !only || only === c;

interface Stat { median: number; p25: number; p75: number; min: number; max: number; n: number }
interface Row { case: string; subject: string; stat?: Stat; baseline?: string; ratio?: number; target?: string; met?: boolean; note?: string }

function stat(xs: number[]): Stat {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.max(0, Math.round(p * (s.length - 1))))]!;
  return { median: q(0.5), p25: q(0.25), p75: q(0.75), min: s[0]!, max: s[s.length - 1]!, n: s.length };
}

async function time(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

/** Run `a` and `b` alternately, `n` times each, after one warm-up of each. */
async function sideBySide(n: number, a: () => Promise<unknown>, b?: () => Promise<unknown>): Promise<[number[], number[]]> {
  await a();
  if (b) await b();
  const ta: number[] = [];
  const tb: number[] = [];
  for (let i = 0; i < n; i++) {
    ta.push(await time(a));
    if (b) tb.push(await time(b));
  }
  return [ta, tb];
}

function sh(argv: string[], options: { env?: NodeJS.ProcessEnv } = {}): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'], env: options.env ?? process.env });
    let err = '';
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${argv.join(' ')} exited ${code}: ${err.slice(-500)}`))));
  });
}

/** Run `fn` with every command through execa (NETSPEC_SPAWNER=node), as before the spawner. */
async function viaNode<T>(fn: () => Promise<T>): Promise<T> {
  process.env.NETSPEC_SPAWNER = 'node';
  try {
    return await fn();
  } finally {
    delete process.env.NETSPEC_SPAWNER;
  }
}

/** CPU ms per call of `fn`, run `n` times one after another, by `meter` (a CPU counter in ms). */
async function cpuPerCommand(meter: () => number, fn: () => Promise<unknown>, n: number): Promise<number> {
  const c = meter();
  for (let i = 0; i < n; i++) await fn();
  return (meter() - c) / n;
}

/** CPU of a process and its reaped children (utime + stime + cutime + cstime), in ms. */
function cpuTicksOf(statFile: string): number {
  const text = readFileSync(statFile, 'utf8');
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) * (1000 / 100);
}

const privateNs = ['unshare', '--net', '--mount', '--pid', '--fork', '--mount-proc', '--propagation', 'private'];

function must(result: { pass: boolean; message: () => string }, negate = false): void {
  if (result.pass === negate) throw new Error(`bench assertion failed: ${result.message()}`);
}

const rows: Row[] = [];
const ms = (x: number) => `${x.toFixed(x < 10 ? 1 : 0)} ms`;

// 1. lab: empty lab created and disposed
if (want('lab')) {
  const [lab, raw] = await sideBySide(runs(40), async () => (await createLab()).dispose(), () => sh([...privateNs, 'true']));
  const s = stat(lab);
  const ratio = s.median / stat(raw).median;
  rows.push({ case: 'lab', subject: 'createLab() + dispose()', stat: s, baseline: 'unshare --net --mount --pid --fork true', ratio, target: '≤ 1.3× bare unshare (and ≤ 20 ms)', met: ratio <= 1.3 && s.median <= 20 });
  rows.push({ case: 'lab', subject: '(baseline) bare unshare', stat: stat(raw) });
}

// 2. tutorial topology: build + 3 assertions + dispose, against the plain shell script
if (want('tutorial')) {
  const netspec = async () => {
    const lab = await createLab();
    const net = await tutorialNetwork(lab);
    const { red } = net;
    const ctx = { isNot: false };
    const [a, b, c] = await Promise.all([
      toReach.call(ctx, red, '192.168.15.2'),
      toReach.call(ctx, red, '203.0.113.8'),
      toRouteVia.call(ctx, red, '203.0.113.8', '192.168.15.3'),
    ]);
    must(a); must(b); must(c);
    await lab.dispose();
  };
  const script = () => sh([...privateNs, 'sh', `${here}tutorial.sh`]);
  const batched = () => sh([...privateNs, 'sh', `${here}tutorial-batched.sh`]);
  const [ns, sc] = await sideBySide(runs(20), netspec, script);
  const [ns2, bt] = await sideBySide(runs(20), netspec, batched);
  const s = stat(ns);
  const s2 = stat(ns2);
  rows.push({ case: 'tutorial', subject: 'netspec: tutorialNetwork + 3 assertions + dispose', stat: s, baseline: 'bench/tutorial.sh', ratio: s.median / stat(sc).median, target: '≤ 1.0× the shell script', met: s.median / stat(sc).median <= 1.0 });
  rows.push({ case: 'tutorial', subject: '(baseline) bench/tutorial.sh', stat: stat(sc) });
  rows.push({ case: 'tutorial', subject: 'netspec: the same, against the expert\'s batched script', stat: s2, baseline: 'bench/tutorial-batched.sh', ratio: s2.median / stat(bt).median, target: '≤ 0.5× the batched script', met: s2.median / stat(bt).median <= 0.5 });
  rows.push({ case: 'tutorial', subject: '(baseline) bench/tutorial-batched.sh (ip -batch, fping)', stat: stat(bt) });
}

// 3. mesh: N namespaces on one bridge, every ordered pair checked
for (const n of want('mesh') ? [10, 30, 100] : []) {
  const names = Array.from({ length: n }, (_, i) => `h${i + 1}`);
  const netspec = async () => {
    const lab = await createLab();
    try {
      await bridgeNetwork(lab, { names, prefix: '10.0.0.0/24', gateway: false });
      const m = await lab.reachability();
      if (!m.allReached || m.pairs.length !== n * (n - 1)) throw new Error(`mesh ${n}: ${m.unreachable.length} pairs unreachable`);
    } finally {
      // a failed run's lab (its probes still running) must not starve the cases after it
      await lab.dispose();
    }
  };
  // Mininet at N=100 (9,900 pings through its Python) takes minutes: that row has an absolute target instead
  const mininet = which('mn') && n < 100
    ? () => sh([...privateNs, 'sh', '-c', `ip link set lo up && mn --topo single,${n} --switch lxbr --controller none --test pingall`])
    : undefined;
  let measured: [number[], number[]];
  try {
    measured = await sideBySide(runs(n === 10 ? 8 : n === 30 ? 5 : 3), netspec, mininet);
  } catch (error) {
    // a mesh whose probes cannot run (a ProbeError: starved, no verdict) is a missed target, never a crash of the bench
    rows.push({ case: `mesh N=${n}`, subject: `netspec: ${n} on a bridge + ${n * (n - 1)} pairs`, target: n === 100 ? '≤ 3 s' : undefined, met: false, note: `no result: ${(error as Error).message.split('\n')[0]!.slice(0, 160)}` });
    continue;
  }
  const [ns, mn] = measured;
  const s = stat(ns);
  if (n === 100) {
    rows.push({ case: `mesh N=${n}`, subject: `netspec: ${n} on a bridge + ${n * (n - 1)} pairs`, stat: s, target: '≤ 3 s', met: s.median <= 3000 });
  } else if (mininet) {
    const speedup = stat(mn).median / s.median;
    const factor = n === 30 ? 10 : 3;
    rows.push({ case: `mesh N=${n}`, subject: `netspec: ${n} on a bridge + ${n * (n - 1)} pairs`, stat: s, baseline: 'mn … --test pingall', ratio: s.median / stat(mn).median, target: `≥ ${factor}× faster than Mininet`, met: speedup >= factor, note: `${speedup.toFixed(1)}× faster` });
    rows.push({ case: `mesh N=${n}`, subject: '(baseline) Mininet pingall, lxbr, no controller, in a private netns (FORWARD policy ACCEPT there)', stat: stat(mn) });
  } else {
    rows.push({ case: `mesh N=${n}`, subject: `netspec: ${n} on a bridge + ${n * (n - 1)} pairs`, stat: s, note: 'Mininet: skipped: mininet not installed' });
  }
}

// 4. negative: .not.toReach on an unreachable target, default options
if (want('negative')) {
  const lab: Lab = await createLab();
  const net = await tutorialNetwork(lab);
  const { red } = net;
  const [neg, ping] = await sideBySide(
    runs(12),
    async () => must(await toReach.call({ isNot: true }, red, '192.168.15.99'), true),
    () => red.exec('ping', ['-c1', '-W1', '192.168.15.99'], { reject: false }),
  );
  await lab.dispose();
  const s = stat(neg);
  rows.push({ case: 'negative', subject: `.not.toReach(unreachable), default window ${DEFAULT_NOT_WINDOW_MS} ms`, stat: s, baseline: 'ping -c1 -W1', ratio: s.median / stat(ping).median, target: '≤ 0.5 s', met: s.median <= 500 });
  rows.push({ case: 'negative', subject: '(baseline) ping -c1 -W1 in the lab', stat: stat(ping) });
}

// 5. scale: N namespaces on one bridge (10, 100, 1,000), built and disposed; memory of this process; the curve
const perNs = new Map<number, number>();
for (const n of want('scale') ? [10, 100, 1000] : []) {
  const names = Array.from({ length: n }, (_, i) => `n${i + 1}`);
  let peak = 0;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 5);
  globalThis.gc?.();
  const rssBefore = process.memoryUsage().rss;
  const times = n === 1000 ? runs(2) : runs(5);
  const netspec = async () => {
    const lab = await createLab();
    await bridgeNetwork(lab, { names, prefix: '10.0.0.0/16', gateway: false });
    await lab.dispose();
  };
  // the plain script at 1,000 takes over half a minute a run: once
  const [ns] = await sideBySide(times, netspec);
  const [, sc] = n === 1000 ? [[], [await time(() => sh([...privateNs, 'sh', `${here}scale.sh`, String(n)]))]] : await sideBySide(times, async () => undefined, () => sh([...privateNs, 'sh', `${here}scale.sh`, String(n)]));
  clearInterval(sampler);
  const growth = (Math.max(peak, process.memoryUsage().rss) - rssBefore) / 2 ** 20;
  const s = stat(ns);
  perNs.set(n, s.median / n);
  const linear = n === 1000 && perNs.has(100) ? (s.median / n) / perNs.get(100)! : undefined;
  const target = n === 100 ? '≤ 1.5 s, RSS growth < 50 MB' : n === 1000 ? '≤ 6 s, RSS growth < 100 MB, per-namespace cost ≤ 1.5× that at 100' : undefined;
  const met = n === 100 ? s.median <= 1500 && growth < 50 : n === 1000 ? s.median <= 6000 && growth < 100 && (linear ?? Infinity) <= 1.5 : undefined;
  rows.push({
    case: `scale N=${n}`,
    subject: `${n} namespaces on a bridge, built + disposed`,
    stat: s,
    baseline: `bench/scale.sh ${n}`,
    ratio: s.median / stat(sc).median,
    target,
    met,
    note: `${(s.median / n).toFixed(1)} ms per namespace; RSS growth ${growth.toFixed(1)} MB (peak ${(peak / 2 ** 20).toFixed(0)} MB)${linear !== undefined ? `; ${linear.toFixed(2)}× the per-namespace cost at 100` : ''}`,
  });
  rows.push({ case: `scale N=${n}`, subject: `(baseline) bench/scale.sh ${n}`, stat: stat(sc) });
}

// 5b. concurrency: K labs at once (the tutorial topology each, built and disposed) against K one after another
if (want('concurrent')) {
  const one = async () => {
    const lab = await createLab();
    await tutorialNetwork(lab);
    await lab.dispose();
  };
  for (const k of [1, 8, 32]) {
    const [together, apart] = await sideBySide(
      runs(k === 32 ? 3 : 5),
      () => Promise.all(Array.from({ length: k }, one)),
      async () => {
        for (let i = 0; i < k; i++) await one();
      },
    );
    const s = stat(together);
    const speedup = stat(apart).median / s.median;
    rows.push({
      case: `labs K=${k}`,
      subject: `${k} tutorial labs at once, built + disposed`,
      stat: s,
      baseline: `${k} one after another`,
      ratio: s.median / stat(apart).median,
      target: k === 32 ? '≥ 1.8× faster than one after another (2 cores)' : undefined,
      met: k === 32 ? speedup >= 1.8 : undefined,
      note: `${(s.median / k).toFixed(0)} ms per lab; ${speedup.toFixed(2)}× faster than one after another`,
    });
  }
}

// 6. execa vs spawn, per process: netspec's run() (execa: process group, timeout, output cap, settle on exit) against
// a bare child_process.spawn that collects the output, as run() was before execa; `true` on the machine, alternately
if (want('execa')) {
  const bare = () =>
    new Promise<void>((resolve, reject) => {
      const p = spawn('true', [], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C' } });
      let out = '';
      p.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
      p.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
      p.once('error', reject);
      p.once('close', (code) => (code === 0 ? resolve() : reject(new Error(`true exited ${code}: ${out}`))));
    });
  globalThis.gc?.();
  const rssBefore = process.memoryUsage().rss;
  const [viaExeca, viaSpawn] = await sideBySide(runs(200), () => viaNode(() => run(['true'], { intent: 'bench', timeoutMs: 10_000 })), bare);
  const growth = (process.memoryUsage().rss - rssBefore) / 2 ** 20;
  const s = stat(viaExeca);
  rows.push({ case: 'execa', subject: 'run([true]): execa, per process', stat: s, baseline: 'child_process.spawn', ratio: s.median / stat(viaSpawn).median, note: `+${(s.median - stat(viaSpawn).median).toFixed(2)} ms per process; RSS +${growth.toFixed(1)} MB over both` });
  rows.push({ case: 'execa', subject: '(baseline) bare child_process.spawn, per process', stat: stat(viaSpawn) });
}

// 6b. the spawner (src/spawner.ts): a command in a lab namespace started by the small spawner process against the
// same command through execa (a fork of this process), with this process holding a Vitest worker's memory (~250 MB,
// what a worker of the suite holds after a few files); wall time and CPU per command (this process, its children and
// the spawner's)
if (want('spawner')) {
  const lab: Lab = await createLab();
  const red = await lab.netns('red');
  const ballast = Array.from({ length: 250 }, () => Buffer.alloc(2 ** 20, 1));
  const spawnerCpu = () => {
    const pid = spawnerPid();
    return pid ? cpuTicksOf(`/proc/${pid}/stat`) : 0;
  };
  const meter = () => cpuTicksOf('/proc/self/stat') + spawnerCpu();
  const cmd = () => red.exec('ip', ['-j', 'link']);
  const [viaSpawner, viaExeca] = await sideBySide(runs(100), cmd, () => viaNode(cmd));
  const cpuSpawner = await cpuPerCommand(meter, cmd, runs(100));
  const cpuExeca = await cpuPerCommand(meter, () => viaNode(cmd), runs(100));
  const s = stat(viaSpawner);
  const ratio = s.median / stat(viaExeca).median;
  rows.push({
    case: 'spawner',
    subject: 'ip -j link in a lab namespace, through the spawner (Node holding 250 MB)',
    stat: s,
    baseline: 'the same through execa (a fork of Node)',
    ratio,
    target: '≤ 0.5× execa',
    met: ratio <= 0.5,
    note: `CPU per command: ${cpuSpawner.toFixed(1)} ms vs ${cpuExeca.toFixed(1)} ms through execa`,
  });
  rows.push({ case: 'spawner', subject: '(baseline) the same through execa', stat: stat(viaExeca) });
  ballast.length = 0;
  await lab.dispose();
}

// 6c. the lab runner (src/spawner.ts, startLabRunner): a command in a lab namespace started by the lab's runner (one
// fork + exec, the namespaces entered once) against the same command entered by `prlimit nsenter nsenter` each time
// (NETSPEC_LAB_RUNNER=off, what every command did before), two labs side by side; wall time, and the whole machine's
// CPU per command (/proc/stat: every process each path runs)
if (want('runner')) {
  // a lab's first command decides how it enters: this one's is made with NETSPEC_LAB_RUNNER=off
  process.env.NETSPEC_LAB_RUNNER = 'off';
  const without: Lab = await createLab();
  const b = await without.netns('red');
  delete process.env.NETSPEC_LAB_RUNNER;
  const withRunner: Lab = await createLab();
  const a = await withRunner.netns('red');
  const busy = () => {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    return (f.reduce((x, y) => x + y, 0) - f[3]! - f[4]!) * (1000 / 100);
  };
  const cmdA = () => a.exec('ip', ['-j', 'link']);
  const cmdB = () => b.exec('ip', ['-j', 'link']);
  const [viaRunner, viaNsenter] = await sideBySide(runs(200), cmdA, cmdB);
  const cpuRunner = await cpuPerCommand(busy, cmdA, runs(200));
  const cpuNsenter = await cpuPerCommand(busy, cmdB, runs(200));
  const s = stat(viaRunner);
  const ratio = s.median / stat(viaNsenter).median;
  rows.push({
    case: 'runner',
    subject: 'ip -j link in a lab namespace, through the lab runner',
    stat: s,
    baseline: 'the same entered by prlimit + nsenter + nsenter',
    ratio,
    target: '≤ 0.5× nsenter',
    met: ratio <= 0.5,
    note: `machine CPU per command: ${cpuRunner.toFixed(1)} ms vs ${cpuNsenter.toFixed(1)} ms by nsenter`,
  });
  rows.push({ case: 'runner', subject: '(baseline) the same entered by nsenter', stat: stat(viaNsenter) });
  await Promise.all([withRunner.dispose(), without.dispose()]);
}

// 7. the failure path: a failing toReach (FILTERED by a FORWARD DROP), explained with the kernel trace against the same
// diagnosis from rule counters only (NETSPEC_TRACE=0), alternately; passing probes are never traced
if (want('trace')) {
  const lab: Lab = await createLab();
  const net = await tutorialNetwork(lab);
  const { red } = net;
  await lab.host.policy('FORWARD', 'DROP');
  const failing = async () => must(await toReach.call({ isNot: false }, red, '203.0.113.8', { timeout: 300 }), true);
  const [traced, counters] = await sideBySide(runs(10), failing, async () => {
    process.env.NETSPEC_TRACE = '0';
    try {
      await failing();
    } finally {
      delete process.env.NETSPEC_TRACE;
    }
  });
  await lab.dispose();
  const s = stat(traced);
  rows.push({ case: 'trace', subject: 'failing toReach (FILTERED), explained with a kernel trace', stat: s, baseline: 'rule counters only', ratio: s.median / stat(counters).median, note: `tracing costs +${(s.median - stat(counters).median).toFixed(0)} ms on the failure path` });
  rows.push({ case: 'trace', subject: '(baseline) the same diagnosis, rule counters only', stat: stat(counters) });
}

// the landing watch (issue 22): what observing where a TCP probe lands costs on the success and failure paths
if (want('landing')) {
  const lab: Lab = await createLab();
  const net = await tutorialNetwork(lab);
  const { red, blue } = net;
  const { serve } = await import('../src/index.js');
  const server = await serve(lab.enter(blue.name), { port: 7000 });
  const cases: [string, () => Promise<unknown>][] = [
    ['toReach TCP, a responder started where the probe lands', async () => must(await toReach.call({ isNot: false }, red, { address: '192.168.15.2', port: 80 }))],
    ["toReach TCP, the spec's own serve() server answers", async () => must(await toReach.call({ isNot: false }, red, { address: '192.168.15.2', port: 7000 }))],
    ['.not.toReach TCP, a closed port (responder: false)', async () => must(await toReach.call({ isNot: true }, red, { address: '192.168.15.2', port: 81 }, { responder: false }), true)],
    ['toReach TCP failing: a closed port (responder: false), explained', async () => must(await toReach.call({ isNot: false }, red, { address: '192.168.15.2', port: 81 }, { responder: false, timeout: 400 }), true)],
  ];
  for (const [subject, fn] of cases) {
    const [xs, raw] = await sideBySide(runs(12), fn, () => red.exec('socat', ['-T', '1', '-', 'TCP4:192.168.15.2:7000'], { input: 'x\n', reject: false }));
    const s = stat(xs);
    rows.push({ case: 'landing', subject, stat: s, baseline: 'one socat connect to serve()', ratio: s.median / stat(raw).median });
  }
  // the observation itself, alone, in the same lab: the watch's table added in every namespace, read as a probe reads
  // it (twice: once after the first try, once to judge the answer), and removed; every TCP/UDP probe pays this once
  const { watchLanding } = await import('../src/landing.js');
  const observe = (reads: number) => async () => {
    const w = await watchLanding(lab, { family: 4, protocol: 'tcp', port: 80 });
    if (!('read' in w)) throw new Error(w.unavailable);
    for (let i = 0; i < reads; i++) await w.read();
    await w.stop();
  };
  const connect = () => red.exec('socat', ['-T', '1', '-', 'TCP4:192.168.15.2:7000'], { input: 'x\n', reject: false });
  const [added, connect1] = await sideBySide(runs(12), observe(0), connect);
  rows.push({ case: 'landing', subject: `the landing watch added in ${lab.namespaces().length + 1} namespaces and removed: all a marked answer's probe pays`, stat: stat(added), baseline: 'one socat connect to serve()', ratio: stat(added).median / stat(connect1).median });
  const [read2, connect2] = await sideBySide(runs(12), observe(2), connect);
  rows.push({ case: 'landing', subject: 'the same, read twice (after the first try, and to judge the answer): an unmarked or failed probe', stat: stat(read2), baseline: 'one socat connect to serve()', ratio: stat(read2).median / stat(connect2).median });
  await server.stop();
  await lab.dispose();
}

// exposure sweeps (issue 30): every TCP port of a namespace on the same bridge, netspec's matcher against nmap alone
// sweeping the same ports from the same namespace (a SYN scan at nmap's fastest; nmap decides nothing about DNAT
// landings or rules, and a dropped port costs it a timeout)
if (want('exposure')) {
  const lab: Lab = await createLab();
  const [a, b, c] = await Promise.all([lab.netns('a'), lab.netns('b'), lab.netns('c')]);
  const bridge = await lab.bridge('v-pair');
  await Promise.all([bridge.attach(a, { address: '10.7.0.1/24' }), bridge.attach(b, { address: '10.7.0.2/24' }), bridge.attach(c, { address: '10.7.0.3/24' })]);
  const fw = (open: string) => `table inet fw {\n chain input { type filter hook input priority 0; policy drop; ct state established,related accept; ${open} }\n}\n`;
  await Promise.all([b.exec('nft', ['-f', '-'], { input: fw('tcp dport { 22, 443 } accept;') }), c.exec('nft', ['-f', '-'], { input: fw('') })]);
  const nmap = (address: string) => () => a.exec('nmap', ['-n', '-Pn', '-sS', '-p-', '-T5', '--min-rate', '100000', '--max-retries', '1', address], { reject: true, timeoutMs: 120_000 });
  const cases: [string, () => Promise<unknown>, string][] = [
    ['toReachOnly(b, [22, 443]): all 65,535 TCP ports, 2 open', async () => must(await toReachOnly.call({ isNot: false }, a, '10.7.0.2', [22, 443])), '10.7.0.2'],
    ['.not.toReachAny(c): all 65,535 TCP ports, all dropped', async () => must(await toReachAny.call({ isNot: true }, a, '10.7.0.3'), true), '10.7.0.3'],
  ];
  for (const [subject, fn, address] of cases) {
    const [xs, base] = await sideBySide(runs(4), fn, which('nmap') ? nmap(address) : undefined);
    const s = stat(xs);
    rows.push({ case: 'exposure', subject: `netspec: ${subject}`, stat: s, baseline: base.length ? 'nmap -sS -p- -T5 --min-rate 100000 --max-retries 1' : undefined, ratio: base.length ? s.median / stat(base).median : undefined, target: '≤ 3 s', met: s.median <= 3000 });
    if (base.length) rows.push({ case: 'exposure', subject: '(baseline) nmap -sS -p- -T5, the same lab', stat: stat(base) });
    else rows.push({ case: 'exposure', subject: '(baseline) nmap', note: 'skipped: nmap not installed (Debian package nmap)' });
  }
  await lab.dispose();
}

// 8. the suite's own wall time: `npm run specs` (the tutorial specs) is run here; `npm test` takes minutes, so it is
// run only with --only=suite, and otherwise read from the last CI run's Vitest JSON report (.ci-out/results.json)
if (want('suite')) {
  const vitest = (files: string[], env: Record<string, string> = {}) => sh([process.execPath, 'node_modules/vitest/vitest.mjs', 'run', ...files], { env: { ...process.env, ...env } });
  const specs = await time(() => vitest(['specs/tutorial'], { NETSPEC_TYPECHECK: '0' }));
  rows.push({ case: 'suite', subject: 'npm run specs (specs/tutorial), wall time, once', stat: stat([specs]), target: '≤ 10 s', met: specs <= 10_000 });
  if (only === 'suite') {
    const all = await time(() => vitest([]));
    rows.push({ case: 'suite', subject: 'npm test (the whole suite), wall time, once', stat: stat([all]), baseline: 'the same suite at a869b59: ~1,020 s (one file at a time)', ratio: all / 1_020_000, target: '≤ 360 s', met: all <= 360_000 });
  } else {
    try {
      const r = JSON.parse(readFileSync(`${here}../.ci-out/results.json`, 'utf8')) as { startTime: number; numTotalTests: number; testResults: { endTime: number }[] };
      const wall = Math.max(...r.testResults.map((t) => t.endTime)) - r.startTime;
      rows.push({ case: 'suite', subject: `npm test, wall time of the last CI run (${r.numTotalTests} tests)`, stat: stat([wall]), target: '≤ 360 s', met: wall <= 360_000, note: 'from .ci-out/results.json; measure here with --only=suite' });
    } catch {
      rows.push({ case: 'suite', subject: 'npm test, wall time', note: 'not measured: no .ci-out/results.json; run npm run bench -- --only=suite' });
    }
  }
}

// report
const line = (r: Row) =>
  [
    r.case.padEnd(11),
    r.subject.slice(0, 58).padEnd(58),
    r.stat ? ms(r.stat.median).padStart(8) : ''.padStart(8),
    r.stat ? `${ms(r.stat.p25)}–${ms(r.stat.p75)}`.padEnd(18) : ''.padEnd(18),
    r.ratio !== undefined ? `${r.ratio.toFixed(2)}×`.padStart(7) : ''.padStart(7),
    r.target ? `${r.met ? 'MET ' : 'MISS'} ${r.target}` : '',
    r.note ?? '',
  ].join('  ');
console.log(`netspec bench — ${new Date().toISOString()} — node ${process.version}, ${quick ? 'quick' : 'full'} run`);
console.log(['case'.padEnd(11), 'subject'.padEnd(58), 'median'.padStart(8), 'p25–p75'.padEnd(18), 'ratio'.padStart(7), 'target'].join('  '));
for (const r of rows) console.log(line(r));
mkdirSync(`${here}results`, { recursive: true });
const json = JSON.stringify({ date: new Date().toISOString(), node: process.version, quick, rows }, null, 2);
// a run of one case (--only=…) does not replace the full run's latest.json
if (!only) writeFileSync(`${here}results/latest.json`, json);
const file = `${new Date().toISOString().replaceAll(':', '-')}${only ? `-only-${only}` : ''}.json`;
writeFileSync(`${here}results/${file}`, json);
console.log(`results: bench/results/${only ? file : 'latest.json'}`);
