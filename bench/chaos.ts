/**
 * `npm run chaos [-- --rounds N]` (default 50): each round starts a child that builds labs, probes and disposes them —
 * either a Vitest run of a small spec (specs/children/load-a.child.ts, one test) or a node script (this file with
 * `--child`, looping build → probe → dispose and announcing each phase) — and SIGKILLs, by PID, at a random moment
 * during build, probe or dispose, one of: the child's main process, its Vitest worker (a fork), or the lab's lifeline
 * (the `unshare` process whose stdin is the pipe from the test process). Afterwards it checks that nothing leaked:
 * no process left in any lab's PID namespace, none of the killed tree alive, no namespace, link or mount added, and the
 * machine's network state (`.ci/machine-state.sh`) identical before and after. Exits non-zero on any leak.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { pidAlive, processes, type Proc } from '../specs/helpers/machine.js';

const root = new URL('..', import.meta.url).pathname;

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};

// ───────────────────────────── the node child: build → probe → dispose, forever, saying which phase it is in ─────────

if (process.argv[2] === '--child') {
  const { createLab } = await import('../src/index.js');
  const { bridgeNetwork } = await import('../fixtures/index.js');
  const { toReach, toHaveReachability } = await import('../src/matchers/index.js');
  const marker = process.argv[3] ?? '4545.1';
  const say = (phase: string) => process.stdout.write(`phase ${phase}\n`);
  const must = async (result: Promise<{ pass: boolean; message: () => string }>, expected = true) => {
    const r = await result;
    if (r.pass !== expected) throw new Error(r.message());
  };
  // three labs, one after the other: the parent kills something during the first or second
  for (let i = 0; i < 3; i++) {
    say('build');
    const lab = await createLab();
    const net = await bridgeNetwork(lab, { names: ['red', 'blue', 'green'], nat: true });
    await net.red.exec('sh', ['-c', `sleep ${marker} >/dev/null 2>&1 &`]);
    say('probe');
    await must(toReach.call({ isNot: false }, net.red, '203.0.113.8', { seenAs: net.wan!.hostAddress }));
    await must(toReach.call({ isNot: true }, net.blue, '192.168.15.40', { window: 200 }), false);
    await must(toHaveReachability.call({ isNot: false }, lab, { red: { blue: true, green: true, wan: true } }));
    say('dispose');
    await lab.dispose();
  }
  process.exit(0);
}

// ───────────────────────────── the parent ─────────────────────────────

const rounds = arg('--rounds', 50);
/** Rounds run side by side (each kills only PIDs of its own child). */
const width = arg('--parallel', 2);
const seed = arg('--seed', Date.now() % 100_000);
let state = seed;
/** A small deterministic PRNG (mulberry32), so a failing run can be replayed with --seed. */
function random(): number {
  state = (state + 0x6d2b79f5) | 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `pid` and all its descendants. */
function tree(pid: number, all = processes()): Proc[] {
  const found = all.filter((p) => p.pid === pid);
  for (let i = 0; i < found.length; i++) for (const p of all) if (p.ppid === found[i]!.pid) found.push(p);
  return found;
}


function pidnsOf(pid: number, kind = 'pid'): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/ns/${kind}`);
  } catch {
    return undefined;
  }
}

function processesIn(pidns: string): Proc[] {
  return processes().filter((p) => pidnsOf(p.pid) === pidns);
}

function machineCounts() {
  const netns = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout;
  const links = spawnSync('ip', ['-j', 'link', 'show'], { encoding: 'utf8' }).stdout;
  return {
    namespaces: netns.split('\n').filter(Boolean).length,
    links: (JSON.parse(links) as unknown[]).length,
    mounts: readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter(Boolean).length,
  };
}

const machineState = () => {
  const r = spawnSync('bash', [join(root, '.ci/machine-state.sh')], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`.ci/machine-state.sh exited ${r.status}: ${r.stderr}`);
  return r.stdout;
};

type Kind = 'node' | 'vitest';
type Target = 'main' | 'worker' | 'lifeline';
type Phase = 'build' | 'probe' | 'dispose';
const PLAN: [Kind, Target][] = [
  ['node', 'main'],
  ['node', 'lifeline'],
  ['vitest', 'main'],
  ['vitest', 'worker'],
  ['vitest', 'lifeline'],
];
/** How long each phase of the node child lasts (ms; a first guess, then the last one seen): the kill lands uniformly within it. */
const PHASE_MS: Record<Phase, number> = { build: 300, probe: 800, dispose: 20 };

interface Round {
  n: number;
  kind: Kind;
  target: Target;
  phase: string;
  killed?: number;
  /** How the child ended (exit code or signal). */
  exit?: number | string;
  /** ms: child start → kill → child ended → all clean. */
  times: number[];
  /** Processes still there after the round's grace period (pid → command line). */
  left: [number, string][];
  /** The PID namespaces of every lab the child started, and every PID of its tree we saw. */
  labs: Set<string>;
  /** pid → command line, for every process of the child's tree (a PID reused by another program is not ours). */
  seen: Map<number, string>;
  problems: string[];
  /** The child ended before the kill moment came: nothing was tested, and the round is run again. */
  missed?: boolean;
}

/** Watch the child's tree: record its labs' PID namespaces (from each lifeline) and every PID in it. */
function watch(child: ChildProcess, round: Round): () => Proc[] {
  return () => {
    const t = tree(child.pid!);
    for (const p of t) {
      round.seen.set(p.pid, p.cmdline);
      if (p.comm === 'unshare') {
        const ns = pidnsOf(p.pid, 'pid_for_children');
        if (ns && ns !== pidnsOf(process.pid)) round.labs.add(ns);
      }
    }
    return t;
  };
}

/**
 * The lifeline: an `unshare` started directly by a node process (the test process: the worker, or the node child), or
 * by that process's spawner (src/spawner.ts, a python3 child of it).
 */
function lifelineIn(t: Proc[]): Proc | undefined {
  return t.find((p) => p.comm === 'unshare' && t.some((q) => q.pid === p.ppid && (q.comm.startsWith('node') || q.comm.startsWith('python3'))));
}

function workerIn(t: Proc[], main: number): Proc | undefined {
  return t.find((p) => p.pid !== main && p.comm.startsWith('node') && p.ppid === main);
}

/** What the lab was doing at the kill, from the programs running in it (the Vitest child does not announce its phases). */
function labActivity(t: Proc[]): string {
  const comms = new Set(t.map((p) => p.comm));
  if (['ping', 'fping', 'socat', 'awk', 'timeout'].some((c) => comms.has(c))) return 'probe';
  if (['ip', 'nsenter', 'iptables', 'iptables-nft', 'xtables-nft-mul', 'iptables-restor', 'sysctl', 'nft', 'bash'].some((c) => comms.has(c))) return 'build';
  return 'between steps';
}

async function oneRound(n: number): Promise<Round> {
  const [kind, target] = PLAN[n % PLAN.length]!;
  const round: Round = { n, kind, target, phase: '?', labs: new Set(), seen: new Map(), problems: [], times: [], left: [] };
  const t0 = performance.now();
  const marker = `4545.${process.pid}${n}`;
  const env = { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0', NETSPEC_REPORT: '/dev/null', NETSPEC_CHILD_TIMEOUT: '30000' };
  const argv =
    kind === 'node'
      ? [process.execPath, '--import', 'tsx', 'bench/chaos.ts', '--child', marker]
      : [process.execPath, 'node_modules/vitest/vitest.mjs', 'run', '--config', 'specs/children/vitest.config.ts', '-t', 'load-a lab 0$', 'load-a.child.ts'];
  const child = spawn(argv[0]!, argv.slice(1), { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const phases: Phase[] = [];
  let phaseStarted = 0;
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
    for (const m of d.toString().matchAll(/^phase (\w+)$/gm)) {
      const now = performance.now();
      if (phases.length) PHASE_MS[phases.at(-1)!] = now - phaseStarted;
      phases.push(m[1] as Phase);
      phaseStarted = now;
    }
  });
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let done = false;
  void exited.then(() => (done = true));
  const look = watch(child, round);
  const poller = setInterval(look, 10);

  const deadline = Date.now() + 30_000;
  let victim: number | undefined;
  if (kind === 'node') {
    // a phase of the first or second lab, and a moment within it
    const phase = pick<Phase>(['build', 'probe', 'dispose']);
    const occurrence = random() < 0.75 ? 1 : 2;
    while (!done && Date.now() < deadline && phases.filter((p) => p === phase).length < occurrence) await sleep(2);
    await sleep(random() * PHASE_MS[phase]);
    const t = look();
    round.phase = `${phase} (${phases.at(-1) === phase ? 'in it' : `moved on to ${phases.at(-1)}`})`;
    victim = target === 'main' ? child.pid : lifelineIn(t)?.pid;
    if (victim === undefined && !done) {
      // no lifeline at this moment: the lab has not started one yet (the first milliseconds of build), or dispose has
      // ended it and the next lab has not started its own: the next lifeline to appear is killed, within 5 s
      const until = Date.now() + 5000;
      while (victim === undefined && !done && Date.now() < until) {
        await sleep(2);
        victim = lifelineIn(look())?.pid;
      }
      if (victim !== undefined) round.phase += ': the next lifeline, at its start';
    }
  } else {
    // Vitest announces nothing: wait for its lab's lifeline, then a random moment over the test's life (about 0.5 s now)
    while (!done && Date.now() < deadline && !lifelineIn(look())) await sleep(5);
    await sleep(random() * 500);
    const t = look();
    const lifeline = lifelineIn(t);
    // the lab's commands are children of the test process (nsenter …), not of the lifeline
    const lifelineTree = new Set(lifeline ? tree(lifeline.pid, t).map((p) => p.pid) : []);
    round.phase = lifeline ? labActivity(t.filter((p) => !lifelineTree.has(p.pid))) : 'no lab (before or after)';
    victim = target === 'main' ? child.pid : target === 'worker' ? workerIn(t, child.pid!)?.pid : lifeline?.pid;
    if (!lifeline && target !== 'main') {
      // the test ended before the moment came (a faster run): its worker or lifeline may be gone, and killing a worker
      // in Vitest's teardown tests Vitest, not netspec; the main process is killed instead
      round.phase = `no lab (its test had ended): main killed instead of the ${target}`;
      victim = child.pid;
    }
  }
  if (!done && victim === undefined) round.problems.push(`no ${target} to kill in the child's tree (phase ${round.phase})`);
  while (!done && victim !== undefined && round.killed === undefined) {
    try {
      process.kill(victim, 'SIGKILL');
      round.killed = victim;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ESRCH' || victim === child.pid) throw e;
      // the chosen process ended between the look and the kill (a lifeline or worker at the end of its test): the
      // child's main process, still running, is killed instead
      round.phase += `; the ${target} had just ended: main killed instead`;
      victim = child.pid;
    }
  }
  if (round.killed === undefined && done) {
    // the child ended before the kill moment came (a faster run than the draw assumed): the round tested nothing, so
    // it is run again (leaks are still checked below); only a round missed three times is a problem
    round.missed = true;
    round.phase = `missed: the child ended first (exit ${child.exitCode ?? child.signalCode})`;
    if (child.exitCode !== 0) round.problems.push(`the child failed before the kill (exit ${child.exitCode ?? child.signalCode}):\n${out.slice(-2000)}`);
  }
  round.times.push(performance.now() - t0);
  // the child must end by itself once its worker or lab is gone; give it 20 s, then end it (and count a leak)
  const ended = await Promise.race([exited.then(() => true), sleep(20_000).then(() => false)]);
  round.exit = child.exitCode ?? child.signalCode ?? undefined;
  clearInterval(poller);
  round.times.push(performance.now() - t0);
  if (!ended) {
    round.problems.push(`the child (pid ${child.pid}) did not end within 20 s of the kill of its ${target}`);
    child.kill('SIGKILL');
    await exited;
  }
  // everything of the round is gone within 10 s: its tree and every process of its labs
  const ours = () => [...round.seen].filter(([pid, cmd]) => pidAlive(pid) && readCmd(pid)?.replaceAll('\0', ' ') === cmd);
  const until = Date.now() + 10_000;
  while ((ours().length || [...round.labs].some((ns) => processesIn(ns).length)) && Date.now() < until) await sleep(50);
  round.times.push(performance.now() - t0);
  const still = ours();
  const inLabs = [...round.labs].flatMap(processesIn);
  round.left = [...still, ...inLabs.map((p): [number, string] => [p.pid, p.cmdline])];
  if (still.length) round.problems.push(`processes of the killed tree still alive: ${still.map(([pid, cmd]) => `${pid} ${cmd}`).join('; ')}`);
  if (inLabs.length) round.problems.push(`processes left in a lab: ${inLabs.map((p) => `${p.pid} ${p.cmdline}`).join('; ')}`);
  const strays = processes().filter((p) => p.cmdline.includes(marker));
  if (strays.length) round.problems.push(`the round's marker process is still running: ${strays.map((p) => `${p.pid} ${p.cmdline}`).join('; ')}`);
  if (round.labs.size === 0) round.problems.push('no lab was seen in the child: nothing was tested');
  return round;
}

function readCmd(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return undefined;
  }
}

const started = performance.now();
const stateBefore = machineState();
const countsBefore = machineCounts();
const results: Round[] = [];
let next = 0;
await Promise.all(
  Array.from({ length: width }, async () => {
    while (next < rounds) {
      const n = next++;
      let r = await oneRound(n);
      for (let again = 0; r.missed && again < 3; again++) {
        results.push(r);
        report(r);
        r = await oneRound(n);
      }
      if (r.missed) r.problems.push('the child ended before the kill moment in four tries: the draw never lands');
      results.push(r);
      report(r);
    }
  }),
);
function report(r: Round): void {
  const n = r.n;
  const line = `  round ${String(n + 1).padStart(3)}: ${r.kind.padEnd(6)} kill ${r.target.padEnd(8)} during ${r.phase.padEnd(26)} ${r.times.map((t) => (t / 1000).toFixed(1)).join(' / ')} s, child ${typeof r.exit === 'string' ? r.exit : `exit ${r.exit}`}${r.problems.length ? ` — ${r.problems.length} problem(s)` : ''}`;
  console.log(line);
  for (const p of r.problems) console.log(`      ${p}`);
}
await sleep(500); // let the kernel finish freeing the last labs
const countsAfter = machineCounts();
const stateAfter = machineState();
const elapsed = (performance.now() - started) / 1000;

const leaked = {
  namespaces: countsAfter.namespaces - countsBefore.namespaces,
  links: countsAfter.links - countsBefore.links,
  mounts: countsAfter.mounts - countsBefore.mounts,
  // what was left at the end of its round and still runs the same program now (a lab's PID namespace that emptied is
  // gone for good: its inode number may be reused by a later lab, of this run or of anyone's, so it is not re-read)
  processes: results.flatMap((r) => r.left).filter(([pid, cmd]) => pidAlive(pid) && readCmd(pid)?.replaceAll('\0', ' ') === cmd).length,
};
const byTarget = new Map<string, number>();
for (const r of results) if (r.killed !== undefined) byTarget.set(`${r.kind} ${r.target}`, (byTarget.get(`${r.kind} ${r.target}`) ?? 0) + 1);
const byPhase = new Map<string, number>();
for (const r of results) byPhase.set(r.phase.split(' (')[0]!, (byPhase.get(r.phase.split(' (')[0]!) ?? 0) + 1);
const problems = results.filter((r) => r.problems.length > 0).length;
const labs = results.reduce((n, r) => n + r.labs.size, 0);
const stateSame = stateBefore === stateAfter;
if (!stateSame) {
  const a = stateBefore.split('\n');
  const b = stateAfter.split('\n');
  console.log('machine state differs:');
  for (const l of a) if (!b.includes(l)) console.log(`  - ${l}`);
  for (const l of b) if (!a.includes(l)) console.log(`  + ${l}`);
}
console.log(`  kills: ${[...byTarget].map(([k, v]) => `${k} ${v}`).join(', ')}`);
console.log(`  at: ${[...byPhase].map(([k, v]) => `${k} ${v}`).join(', ')}`);
console.log(`  leaked: namespaces ${leaked.namespaces}, links ${leaked.links}, mounts ${leaked.mounts}, processes ${leaked.processes}; machine state ${stateSame ? 'unchanged' : 'CHANGED'}`);
const bad = problems > 0 || Object.values(leaked).some((v) => v !== 0) || !stateSame;
console.log(
  `chaos: ${results.length} rounds (${width} at a time; ${results.filter((r) => r.missed).length} missed the kill and ran again), ${labs} labs, ${results.filter((r) => r.killed !== undefined).length} SIGKILLs in ${elapsed.toFixed(1)} s (seed ${seed}): ${bad ? `FAILED (${problems} round(s) with problems)` : 'ok, nothing leaked'}`,
);
process.exit(bad ? 1 : 0);
