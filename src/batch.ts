/**
 * Batching: the steps of a build are queued and run with as few processes as possible (ARCHITECTURE.md, "Batching").
 *
 * Steps queued in the same tick form one flush. A flush runs the lab host's steps first (they create the namespaces
 * and links the others use), then every other namespace's steps, in parallel, one `ip -batch` (or one `tc -batch`, one
 * `sysctl -w`, one `iptables-restore`) per run of same-kind steps. Within a namespace the order is kept. A step marked `barrier` waits
 * for everything queued before it (a host step that needs a namespace's configuration, say).
 *
 * About 420 lines on purpose: the queue, the flush order, the shared process for many namespaces, how a failure settles
 * the rest of its batch and how the kernel's answers become typed errors are one mechanism; steps themselves are built in
 * src/steps/.
 */
import { CommandError, ConflictError, DuplicateNameError, InvalidInputError, NetspecError, NotFoundError, missingKernelFeature } from './errors.js';
import { which, type RunOptions, type RunResult } from './exec.js';
import { lifelineTools } from './lab/lifeline-argv.js';
import { ROUTE_TYPES } from './steps/route.js';
import type { Step, StepKind } from './steps/step.js';
import { missingLinkKind, missingVlanFiltering } from './link-options.js';

export type { Step, StepKind } from './steps/step.js';

interface Queued extends Step {
  /** Settle the step's promise (settling twice is a no-op). */
  resolve(): void;
  reject(error: unknown): void;
  /** The step's promise has settled. */
  settled: boolean;
}

/** Runs an argv in a namespace of the lab (the lab's nsenter wrapper). */
export type Runner = (target: string, argv: readonly string[], options: RunOptions) => Promise<RunResult>;

export class SkippedStepError extends NetspecError {
  override name = 'SkippedStepError';
}

export class Batcher {
  #queue: Queued[] = [];
  #scheduled = false;
  #tail: Promise<void> = Promise.resolve();
  /** Number of processes started by flushes, for tests and the benchmark. */
  spawns = 0;

  constructor(
    private readonly runner: Runner,
    private readonly describe: (target: string) => string,
  ) {}

  /** Queue steps; resolves when all of them have run, rejects with the first failure (every step settles either way). */
  add(steps: readonly Step[]): Promise<void> {
    const promises = this.addEach(steps);
    // every step settles, so waiting for all of them never hangs; the caller gets the first failure in step order
    return Promise.allSettled(promises).then((results) => {
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw primaryFailure(results, failed.reason);
    });
  }

  /**
   * Queue steps; one promise per step, each of which settles: resolved when the step ran, rejected with its own error,
   * or with a SkippedStepError (whose `cause` is the failure that stopped it) when it did not run. For callers that undo
   * exactly what ran.
   */
  addEach(steps: readonly Step[]): Promise<void>[] {
    const promises = steps.map(
      (step) =>
        new Promise<void>((resolve, reject) => {
          const queued: Queued = {
            ...step,
            settled: false,
            resolve: () => {
              queued.settled = true;
              resolve();
            },
            reject: (error: unknown) => {
              queued.settled = true;
              reject(error);
            },
          };
          this.#queue.push(queued);
        }),
    );
    // the caller may look at only some of them: a rejection nobody awaits must not become an unhandled rejection
    for (const p of promises) p.catch(() => undefined);
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => {
        this.#scheduled = false;
        const batch = this.#queue;
        this.#queue = [];
        // flushes run one after another, so a later flush sees what an earlier one built
        this.#tail = this.#tail
          .then(() => this.#flush(batch))
          .catch((error: unknown) => skip(batch, error)) // never let one flush stop the ones after it
          .finally(() => {
            // whatever happened above, no step of this flush may stay pending: a caller would wait forever
            const left = batch.filter((s) => !s.settled);
            if (left.length) skip(left, new NetspecError('the batch ended without running this step (an internal error: please report it)'));
          });
      });
    }
    return promises;
  }

  /** Resolves once everything queued so far has run. */
  async settled(): Promise<void> {
    while (this.#scheduled || this.#queue.length) await new Promise((r) => setImmediate(r));
    await this.#tail;
  }

  async #flush(batch: Queued[]): Promise<void> {
    const segments: { host: Queued[]; others: Map<string, Queued[]> }[] = [];
    let current: { host: Queued[]; others: Map<string, Queued[]> } | undefined;
    for (const step of batch) {
      if (!current || (step.barrier && (current.host.length > 0 || current.others.size > 0))) {
        current = { host: [], others: new Map() };
        segments.push(current);
      }
      if (step.target === 'host') current.host.push(step);
      else {
        const list = current.others.get(step.target) ?? [];
        list.push(step);
        current.others.set(step.target, list);
      }
    }
    let failed: unknown;
    for (const segment of segments) {
      const all = [...segment.host, ...[...segment.others.values()].flat()];
      if (failed) {
        skip(all, failed);
        continue;
      }
      try {
        await this.#runTarget('host', segment.host);
        // namespaces with nothing but `ip` steps share processes (#runIpMany); the others run one process per run of steps
        const ipOnly = [...segment.others].filter(([, steps]) => steps.every((st) => st.kind === 'ip'));
        const shared = ipOnly.length >= MANY;
        const tasks = [...segment.others].filter(([, steps]) => !shared || !ipOnly.some(([, s]) => s === steps)).map(([t, steps]) => () => this.#runTarget(t, steps));
        if (shared) {
          const perChunk = Math.ceil(ipOnly.length / Math.ceil(ipOnly.length / CHUNK));
          for (let i = 0; i < ipOnly.length; i += perChunk) {
            const chunk = ipOnly.slice(i, i + perChunk);
            tasks.push(() => this.#runIpMany(chunk));
          }
        }
        const results = await limit(tasks, PARALLEL);
        const bad = results.find((r) => r.status === 'rejected');
        if (bad) throw (bad as PromiseRejectedResult).reason;
      } catch (error) {
        failed = error;
        // a host step failed before the namespaces' steps ran (they need what the host builds), or a namespace
        // failed: every step of the segment that has not settled did not run, and says why
        skip(all.filter((s) => !s.settled), error);
      }
    }
  }

  /** Run one namespace's steps in order: one process per run of same-kind steps. */
  async #runTarget(target: string, steps: Queued[]): Promise<void> {
    let i = 0;
    while (i < steps.length) {
      let j = i + 1;
      while (j < steps.length && steps[j]!.kind === steps[i]!.kind) j++;
      const run = steps.slice(i, j);
      try {
        await this.#runKind(target, run);
      } catch (error) {
        // the process may have failed to start at all (a missing tool, the lab gone): settle every step of the run
        // (settling a step twice is a no-op), so no caller waits forever
        for (const step of run) step.reject(error);
        skip(steps.slice(j), error);
        throw error;
      }
      i = j;
    }
  }

  /**
   * The `ip` steps of many namespaces in one process in the lab host: a shell that runs `ip -batch -` in each
   * namespace in turn, its steps passed as an argument (data, never code: the script is a constant). Each namespace's
   * result is marked on stderr, so every step settles as if its namespace had had a process of its own.
   */
  async #runIpMany(targets: [string, Queued[]][]): Promise<void> {
    this.spawns++;
    const args = targets.flatMap(([t, steps]) => [t, steps.map((st) => st.words.join(' ')).join('\n') + '\n']);
    let result: RunResult;
    try {
      result = await this.runner('host', [...lifelineTools().shell, '-c', IP_MANY, 'netspec-batch', which('ip') ?? 'ip', ...args], {
        intent: 'ip batch',
        where: this.describe('host'),
        reject: false,
        displayArgv: ['sh', '-c', '(ip -batch - in each of the namespaces)', ...targets.map(([t]) => t)],
      });
    } catch (error) {
      for (const [, steps] of targets) for (const st of steps) st.reject(error);
      throw error;
    }
    // stderr: "netspec-batch NAME", what ip said, "netspec-batch-exit NAME CODE", for each namespace in order
    const outcome = new Map<string, { code: number; stderr: string }>();
    let current: string | undefined;
    let text = '';
    for (const line of result.stderr.split('\n')) {
      const start = /^netspec-batch (\S+)$/.exec(line);
      const end = /^netspec-batch-exit (\S+) (\d+)$/.exec(line);
      if (start) [current, text] = [start[1]!, ''];
      else if (end && current !== undefined && end[1] === current) outcome.set(current, { code: Number(end[2]), stderr: text });
      else if (current) text += `${line}\n`;
    }
    let first: unknown;
    for (const [target, steps] of targets) {
      const o = outcome.get(target);
      try {
        if (!o) throw new CommandError('ip batch', ['nsenter', `--net=/run/netns/${target}`, 'ip', '-batch', '-'], this.describe(target), result.exitCode, result.stderr, result.stdout);
        this.#settleIp(target, steps, o.code, o.stderr, '');
      } catch (error) {
        for (const st of steps) st.reject(error); // settling twice is a no-op
        first ??= error;
      }
    }
    if (first) throw first;
  }

  /** Settle a run of `ip` (or `tc`, `bridge`) steps from `-batch`'s exit code and stderr; throws the failing step's error. */
  #settleIp(target: string, steps: Queued[], exitCode: number, rawStderr: string, stdout: string): void {
    if (exitCode === 0) return steps.forEach((s) => s.resolve());
    const where = this.describe(target);
    const m = /Command failed \S*:(\d+)/.exec(rawStderr);
    const failedAt = m ? Math.min(Number(m[1]) - 1, steps.length - 1) : 0;
    steps.slice(0, failedAt).forEach((s) => s.resolve());
    const failing = steps[failedAt]!;
    const stderr = rawStderr.replace(/Command failed \S*:\d+\s*$/, '').trim();
    if (/Cannot open network namespace|(?:nsenter|netspec): (?:cannot|can't) (?:open|enter) '?\/run\/netns\//.test(stderr)) {
      const error = new NotFoundError('network namespace', target, `it was deleted, or never created (${stderr})`);
      for (const s of steps.slice(failedAt)) s.reject(error);
      throw error;
    }
    const error = translate(failing, stderr, where) ?? new CommandError(failing.intent, [...toolOf(failing.kind), ...failing.words], where, exitCode, stderr, stdout);
    failing.reject(error);
    skip(steps.slice(failedAt + 1), error);
    throw error;
  }

  async #runKind(target: string, steps: Queued[]): Promise<void> {
    const where = this.describe(target);
    const kind = steps[0]!.kind;
    this.spawns++;
    if (kind === 'ip' || kind === 'ip6' || kind === 'tc' || kind === 'bridge') {
      // `tc -batch` and `bridge -batch` read the same format and report a failure the same way ("Command failed -:N")
      const input = steps.map((s) => s.words.join(' ')).join('\n') + '\n';
      const result = await this.runner(target, [...toolOf(kind), '-batch', '-'], { intent: `${kind} batch`, where, input, reject: false });
      return this.#settleIp(target, steps, result.exitCode, result.stderr, result.stdout);
    }
    if (kind === 'sysctl') {
      const argv = ['sysctl', '-q', '-w', ...steps.map((s) => s.words.join(''))];
      const result = await this.runner(target, argv, { intent: steps.map((s) => s.intent).join(', '), where, reject: false });
      if (result.exitCode === 0 && !result.stderr.trim()) return steps.forEach((s) => s.resolve());
      const error = new CommandError(steps.map((s) => s.intent).join(', '), argv, where, result.exitCode, result.stderr, result.stdout);
      steps.forEach((s) => s.reject(error));
      throw error;
    }
    // iptables / ip6tables: one iptables-restore --noflush for the run
    const tool = kind === 'iptables' ? 'iptables-restore' : 'ip6tables-restore';
    const input = toRestore(steps.map((s) => s.words));
    const result = await this.runner(target, [tool, '--noflush'], { intent: 'iptables batch', where, input, reject: false, innerTool: tool });
    if (result.exitCode === 0) return steps.forEach((s) => s.resolve());
    const m = /line:? (\d+)/i.exec(result.stderr);
    const line = m ? Number(m[1]) : undefined;
    const failing = (line !== undefined && stepAtRestoreLine(steps, line)) || steps[0]!;
    const error = new CommandError(failing.intent, [kind, ...failing.words], where, result.exitCode, result.stderr, result.stdout);
    for (const s of steps) s.reject(s === failing ? error : new SkippedStepError(`${s.intent}: not applied, because "${failing.intent}" failed in the same iptables-restore transaction`, { cause: error }));
    throw error;
  }
}

/** The command of a batched kind: `ip6` is `ip -6`, the others their own tool. */
function toolOf(kind: StepKind): string[] {
  return kind === 'ip6' ? ['ip', '-6'] : [kind];
}

/** Namespaces configured at once: enough to keep two cores busy, few enough not to thrash. */
const PARALLEL = 12;

/** From this many namespaces with only `ip` steps in a flush on, they share processes (#runIpMany)... */
const MANY = 4;
/** ...at most this many a process (a few processes run at once: two cores are kept busy). */
const CHUNK = 32;

/**
 * The shell script of #runIpMany, a constant: $1 is the path of iproute2's `ip`, then pairs of a namespace name and
 * its `ip -batch` input. Names and steps are data (arguments), never part of the script. Each namespace is entered
 * with nsenter (`ip -n` would copy the lab's mount namespace, one mount per namespace, for every namespace: quadratic).
 */
const IP_MANY =
  'ip=$1; shift; while [ $# -ge 2 ]; do echo "netspec-batch $1" >&2; ' +
  'printf %s "$2" | nsenter --net="/run/netns/$1" -- "$ip" -batch -; echo "netspec-batch-exit $1 $?" >&2; shift 2; done';

async function limit<T>(tasks: (() => Promise<T>)[], width: number): Promise<PromiseSettledResult<T>[]> {
  const results: PromiseSettledResult<T>[] = new Array(tasks.length);
  let next = 0;
  const worker = async () => {
    while (next < tasks.length) {
      const i = next++;
      try {
        results[i] = { status: 'fulfilled', value: await tasks[i]!() };
      } catch (reason) {
        results[i] = { status: 'rejected', reason };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, tasks.length) }, worker));
  return results;
}

/**
 * Kernel answers that mean the caller's input was wrong, as the typed errors a caller can branch on (the kernel's words
 * stay in the message).
 */
function translate(step: Step, stderr: string, where: string): Error | undefined {
  const w = step.words;
  const after = (key: string) => w[w.indexOf(key) + 1];
  if (step.kind === 'tc' && /Specified qdisc kind is unknown/.test(stderr) && w[0] === 'qdisc') {
    const kind = after('root') ?? '?';
    return missingKernelFeature(kind, `the ${kind} qdisc`, stderr, where);
  }
  if (step.kind === 'bridge') return undefined;
  const said = stderr.trim().split('\n')[0] ?? '';
  // a link kind (or bridge VLAN filtering) this kernel lacks: a prerequisite, named with its module
  if (w[0] === 'link' && /Unknown device type|Operation not supported/.test(stderr) && w.includes('type')) {
    if (w.includes('vlan_filtering')) return missingVlanFiltering(said);
    if (w[1] === 'add') return missingLinkKind(after('type')!, said, where);
  }
  // the device's MTU bounds are the kernel's (veth 68…65535, a vxlan less its headers): the input was wrong
  if (w[0] === 'link' && /mtu (greater|less) than device (maximum|minimum)/.test(stderr)) {
    return new InvalidInputError('mtu', Number(after('mtu')), `${where} refused it (${said}); \`ip -d link show\` gives a link's min_mtu and max_mtu`);
  }
  // creating a link with an MTU out of its bounds is a bare EINVAL (no extended ack): the MTU is the word to blame
  if (w[0] === 'link' && w[1] === 'add' && w.includes('mtu') && /Invalid argument/.test(stderr)) {
    return new InvalidInputError('mtu', Number(after('mtu')), `${where} refused to create ${after('name')} with it (${said}): an MTU outside the device's bounds (veth and bridge: 68…65535; a macvlan at most its parent's)`);
  }
  if (/Nexthop has invalid gateway|Network is unreachable/.test(stderr) && (w[0] === 'route' || w[0] === 'nexthop') && w.includes('via')) {
    return new InvalidInputError('gateway (via)', after('via'), `${where} has no link in the gateway's subnet, or the gateway is a broadcast address there, so it cannot be a next hop (${stderr.trim()}); give a link an address in that subnet first (or pass { onlink: true }), and the address of a router on it`);
  }
  // a kernel with extended acks says "Address already assigned" for an IPv4 address, where older ones say "File exists"
  if (/Address already assigned/.test(stderr) && w[0] === 'addr') return new ConflictError('address', w[2], `it is already on ${after('dev')} in ${where}`);
  if (/File exists/.test(stderr)) {
    if (w[0] === 'link' && w[1] === 'add') {
      const peer = w.includes('peer') ? w[w.indexOf('peer') + 2] : undefined;
      const peerNs = w.lastIndexOf('netns') > w.indexOf('peer') ? w[w.lastIndexOf('netns') + 1] : undefined;
      return new DuplicateNameError(
        peer ? 'interface names' : 'interface name',
        peer ? `${after('name')} / ${peer}` : after('name'),
        `one of them already exists (${stderr.trim()}): ${after('name')} in ${where}${peer ? ` or ${peer} in ${peerNs ? `namespace ${peerNs}` : 'the host'}` : ''}; choose another name`,
      );
    }
    if (w[0] === 'addr') return new ConflictError('address', w[2], `it is already on ${after('dev')} in ${where}`);
    if (w[0] === 'route') return routeExists(w, where, stderr);
    if (w[0] === 'nexthop') return new ConflictError('nexthop id', Number(after('id')), `${where} already has a nexthop object with id ${after('id')} (${stderr.trim()}); delete it first (deleteNexthop), or choose another id`);
    if (w[0] === 'rule') return new ConflictError('rule', w.slice(2).join(' '), `${where} already has this very rule, at the same priority (${stderr.trim()}); delete it first (deleteRule), or give another priority`);
  }
  if (/Nexthop id does not exist|Invalid nexthop id/.test(stderr)) {
    const id = w[0] === 'route' ? after('nhid') : w[0] === 'nexthop' ? after('group') : undefined;
    return new NotFoundError('nexthop object', id ?? '?', `${where} has no such nexthop (${stderr.trim()}); add it first with addNexthop({ id, via, dev }), or list them with ns.nexthops()`);
  }
  if (/No such file or directory/.test(stderr) && w[0] === 'rule' && w[1] === 'del') {
    return new NotFoundError('rule', w.slice(2).join(' '), `${where} has no rule matching all of that (${stderr.trim()}); list them with ns.rules()`);
  }
  if (/No such file or directory/.test(stderr) && w[0] === 'nexthop' && w[1] === 'del') {
    return new NotFoundError('nexthop object', after('id') ?? '?', `${where} has no nexthop with that id (${stderr.trim()}); list them with ns.nexthops()`);
  }
  if (/No such process/.test(stderr) && w[0] === 'route' && w[1] === 'del') {
    return new NotFoundError('route', w.slice(2).join(' '), `${where} has no such route (${stderr.trim()}); list them with ns.routes({ table })`);
  }
  if (/Exchange full/.test(stderr) && w[0] === 'link' && w.includes('master')) {
    return new InvalidInputError('bridge port', after('dev'), `the bridge ${after('master')} in ${where} already has the most ports Linux allows (1023, BR_MAX_PORTS; ${stderr.trim()}); use another bridge for the rest`);
  }
  if (/Cannot find device/.test(stderr)) {
    const dev = w.includes('dev') ? after('dev') : w[0] === 'link' && w[1] === 'add' && w[2] === 'link' ? w[3] : w[0] === 'link' && w[1] === 'set' ? w[2] : undefined;
    return new NotFoundError('interface', dev ?? '?', `${where} has no such interface (${stderr.trim()}); list them with ns.links()`);
  }
  return undefined;
}

/** Which route a refused `ip route add` collided with (its destination, type, table, metric), and what to do instead. */
function routeExists(w: readonly string[], where: string, stderr: string): ConflictError {
  const typed = (ROUTE_TYPES as readonly string[]).includes(w[2]!);
  const dst = typed ? w[3]! : w[2]!;
  const value = (key: string) => (w.includes(key) ? w[w.indexOf(key) + 1] : undefined);
  const table = value('table') ?? 'main';
  const metric = value('metric');
  return new ConflictError(
    'route',
    dst,
    `${where} already has a route to ${dst} in table ${table}${metric ? ` with metric ${metric}` : ' with the same metric'} (the kernel: "${stderr.trim()}"): ` +
      `the kernel keeps one route per destination, table and metric (whatever its type or gateway); use replaceRoute(${JSON.stringify(dst)}, …) to change it, deleteRoute first, or give another metric`,
  );
}

function skip(steps: Queued[], cause: unknown): void {
  const why = cause instanceof Error ? `: ${cause.message.split('\n')[0]}` : '';
  for (const s of steps) if (!s.settled) s.reject(new SkippedStepError(`${s.intent}: not run, because an earlier step of the same batch failed${why}`, { cause }));
}

/**
 * The error a caller of add() gets: its own step's failure when one of its steps failed, else the failure that made its
 * steps be skipped (a SkippedStepError, with that failure as `cause`).
 */
function primaryFailure(results: PromiseSettledResult<void>[], first: unknown): unknown {
  const own = results.find((r): r is PromiseRejectedResult => r.status === 'rejected' && !(r.reason instanceof SkippedStepError));
  return own ? own.reason : first;
}

/** iptables arguments (`-t nat -A POSTROUTING …`, `-P FORWARD ACCEPT`) as iptables-restore input, one table block each. */
function toRestore(rules: readonly (readonly string[])[]): string {
  const tables = new Map<string, string[]>();
  for (const words of rules) {
    const w = [...words];
    let table = 'filter';
    const t = w.indexOf('-t');
    if (t >= 0) {
      table = w[t + 1]!;
      w.splice(t, 2);
    }
    const lines = tables.get(table) ?? [];
    if (w[0] === '-P') lines.push(`:${w[1]} ${w[2]} [0:0]`);
    else lines.push(w.join(' '));
    tables.set(table, lines);
  }
  let out = '';
  for (const [table, lines] of tables) {
    // policies (":CHAIN POLICY") must come before the rules of the block
    const sorted = [...lines.filter((l) => l.startsWith(':')), ...lines.filter((l) => !l.startsWith(':'))];
    out += `*${table}\n${sorted.join('\n')}\nCOMMIT\n`;
  }
  return out;
}

function stepAtRestoreLine(steps: Queued[], line: number): Queued | undefined {
  const text = toRestore(steps.map((s) => s.words)).split('\n')[line - 1] ?? '';
  return steps.find((s) => {
    const w = s.words.filter((_, i, a) => a[i] !== '-t' && a[i - 1] !== '-t');
    return (w[0] === '-P' ? `:${w[1]} ${w[2]} [0:0]` : w.join(' ')) === text;
  });
}
