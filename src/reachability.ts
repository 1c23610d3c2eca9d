/**
 * Reachability of whole meshes: one `fping` per source namespace probes every target at once, and all sources run in
 * parallel. The addresses of every namespace come from one `ip -j addr` in each (Scope.inEveryNamespace).
 */
import { InvalidInputError, NotFoundError, PrerequisiteError, ProbeError } from './errors.js';
import { addressFacing, canonical, contains, parseCidr, parseProbeAddress } from './address.js';
import { neighborLimitFix, neighborTable } from './neighbor-table.js';
import { diagnose } from './diagnose/index.js';
import { probe as probeOnce, resolveTarget } from './probe.js';
import { labAddresses } from './state.js';
import type { Scope } from './scope.js';
import { Netns } from './netns.js';
import type { Disposition } from './diagnose/index.js';

export interface PairResult {
  readonly from: string;
  /** The target as given: a namespace name or an address. */
  readonly to: string;
  readonly address: string;
  readonly reached: boolean;
  readonly disposition: Disposition;
  /** Why it was not reached: the last hop of its diagnosis. */
  readonly why?: string;
  /** The whole diagnosis, hop by hop (for the first unreached pairs). */
  readonly hops?: readonly string[];
}

interface Pending {
  src: Netns;
  w: { label: string; address?: string; ns?: string; shared?: boolean };
  reached: boolean;
  disposition?: Disposition;
  why?: string;
  hops?: string[];
}

/** Sources whose fping runs at once in a mesh (fewer in large meshes: 400 / N, at least 2). */
const MESH_SOURCES_AT_ONCE = 8;

/** Unreached pairs diagnosed hop by hop (a diagnosis reads the lab's state and traces a probe). */
const MAX_DIAGNOSED = 24;

async function eachLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

/**
 * Every pair whose target is on a link of its source needs a neighbor entry of its own, in one table the whole machine
 * shares (src/neighbor-table.ts): a mesh that needs more than the table holds would lose its packets to the table, not
 * to the lab's network. Say so before sending anything.
 */
function checkNeighborRoom(plans: { mine: { address: string; prefixLength: number }[]; wanted: { address?: string }[] }[]): void {
  const onLink = { 4: 0, 6: 0 };
  for (const { mine, wanted } of plans) {
    const prefixes = mine.map((m) => parseCidr(`${m.address}/${m.prefixLength}`));
    for (const w of wanted) if (w.address && prefixes.some((c) => contains(c, w.address!))) onLink[w.address.includes(':') ? 6 : 4]++;
  }
  for (const family of [4, 6] as const) {
    const table = onLink[family] > 0 ? neighborTable(family) : undefined;
    if (!table || onLink[family] <= table.limit) continue;
    throw new PrerequisiteError(
      `room for ${onLink[family]} ${family === 4 ? 'ARP' : 'IPv6 neighbor'} entries (this mesh's pairs on a shared link; the kernel's table holds ${table.limit})`,
      `the kernel would drop the packets of the pairs past its limit ("neighbor table overflow"), and no verdict could be given for them. ${neighborLimitFix(family, onLink[family])}`,
    );
  }
}

/** One fping from `src` to every address, each waiting the whole timeout for its reply (late replies count): who answered. */
async function fpingPass(lab: Scope, src: Netns, addresses: string[], timeout: number): Promise<Set<string>> {
  const reached = new Set<string>();
  if (!addresses.length) return reached;
  const argv = ['fping', '-c', '1', '-i', '1', '-t', String(Math.round(timeout)), ...new Set(addresses)];
  const r = await lab.run(src.name, argv, { intent: `ping ${addresses.length} targets`, reject: false, timeoutMs: timeout + 30_000 });
  if (/^(?:nsenter|netspec): /m.test(r.stderr) || r.exitCode > 2) throw new ProbeError(`the mesh probe from ${src} could not run (fping exited ${r.exitCode}: ${r.stderr.trim().split('\n')[0]}); no verdict`);
  for (const line of r.stderr.split('\n')) {
    const m = /^(\S+)\s+: xmt\/rcv\/%loss = (\d+)\/(\d+)/.exec(line);
    if (m && Number(m[3]) > 0) reached.add(canonical(m[1]!));
  }
  return reached;
}

export interface ReachabilityOptions {
  /** Targets (namespaces or addresses); default: the same namespaces as the sources. */
  targets?: (Netns | string)[];
  /** How long each unreachable pair is tried, in ms (default 1000). */
  timeout?: number;
  /** Diagnose unreached pairs hop by hop (default true; the first 24). */
  explain?: boolean;
}

export class ReachabilityMatrix {
  constructor(
    readonly pairs: readonly PairResult[],
    /** Column order for the grid: the targets as given. */
    private readonly columns: readonly string[] = [...new Set(pairs.map((p) => p.to))],
  ) {}

  get(from: string, to: string): PairResult | undefined {
    return this.pairs.find((p) => p.from === from && p.to === to);
  }

  get unreachable(): PairResult[] {
    return this.pairs.filter((p) => !p.reached);
  }

  get allReached(): boolean {
    return this.pairs.every((p) => p.reached);
  }

  /** A grid: rows are sources, columns targets; ✓ reached, ✗ not. */
  toString(): string {
    const froms = [...new Set(this.pairs.map((p) => p.from))];
    const tos = this.columns;
    const w = Math.max(4, ...froms.map((f) => f.length));
    const cw = tos.map((t) => Math.max(1, t.length));
    const head = `${' '.repeat(w)}  ${tos.map((t, i) => t.padEnd(cw[i]!)).join(' ')}`;
    const rows = froms.map(
      (f) =>
        `${f.padEnd(w)}  ${tos
          .map((t, i) => {
            const p = this.get(f, t);
            return (p ? (p.reached ? '✓' : '✗') : '·').padEnd(cw[i]!);
          })
          .join(' ')}`,
    );
    return [head, ...rows].join('\n');
  }
}

/** Every source → every target (but itself), with real packets. */
export async function reachability(lab: Scope, sources?: Netns[], options: ReachabilityOptions = {}): Promise<ReachabilityMatrix> {
  lab.assertAlive();
  const nodes = sources ?? lab.namespaces().map((n) => lab.get(n));
  for (const n of nodes) if (!(n instanceof Netns) || n.lab !== lab) throw new InvalidInputError('reachability source', String(n), `expected namespaces of ${lab}`);
  const timeout = options.timeout ?? 1000;
  if (typeof timeout !== 'number' || !Number.isFinite(timeout) || timeout <= 0 || timeout > 3_600_000) throw new InvalidInputError('timeout', timeout, 'expected a number of ms > 0');
  // each namespace's identity before the first read: a pair not reached is checked against it at the end
  const identities = new Map([...nodes, ...(options.targets ?? []).filter((t): t is Netns => t instanceof Netns)].map((n) => [n.name, n.identity ?? lab.identityOf?.(n.name)]));
  const addrs = await labAddresses(lab);
  const targets = (options.targets ?? nodes).map((t) => {
    if (t instanceof Netns) {
      if (t.lab !== lab) throw new InvalidInputError('reachability target', String(t), `expected namespaces of ${lab}`);
      return { label: t.name, ns: t.name };
    }
    const address = parseProbeAddress(t, 'reachability target').address;
    return { label: address, address };
  });
  // a few sources at once: every first contact on a shared bridge is an ARP broadcast to every port, and a hundred
  // fpings together flood the kernel's backlog; each request lost there costs a re-probe below
  const atOnce = Math.max(2, Math.min(MESH_SOURCES_AT_ONCE, Math.floor(400 / Math.max(1, nodes.length))));
  const plans = nodes.map((src) => {
    const mine = addrs.get(src.name) ?? [];
    // a target's address that the source has too is answered by the source itself: never the target's address here
    const own = new Set(mine.map((m) => canonical(m.address)));
    const wanted = targets
      .filter((t) => t.ns !== src.name)
      .map((t) => {
        const theirs = addrs.get(t.ns!) ?? [];
        const others = theirs.filter((a) => !own.has(canonical(a.address)));
        return { ...t, address: t.address ?? addressFacing(mine, others), shared: theirs.length > 0 && others.length === 0 };
      });
    return { src, mine, wanted };
  });
  checkNeighborRoom(plans);
  const rows: Pending[][] = new Array(nodes.length);
  await eachLimited([...nodes.keys()], atOnce, async (i) => {
    const { src, wanted } = plans[i]!;
    const probe = wanted.filter((w) => w.address);
    for (const p of probe) await lab.checkTarget(p.address!);
    const reached = await fpingPass(lab, src, probe.map((p) => p.address!), timeout);
    rows[i] = wanted.map((w): Pending => ({ src, w, reached: w.address !== undefined && reached.has(canonical(w.address)) }));
  });
  // a second fping pass over each source's missed targets (the neighbor caches are warm now, the flood is over): the
  // same evidence as the first, at a fraction of a probe per pair
  const again = rows.map((row) => row.filter((p) => !p.reached && p.w.address)).filter((row) => row.length > 0);
  await eachLimited(again, atOnce, async (row) => {
    const reached = await fpingPass(lab, row[0]!.src, row.map((p) => p.w.address!), timeout);
    for (const p of row) if (reached.has(canonical(p.w.address!))) p.reached = true;
  });
  // "not reached" needs evidence, and a reason: each pair fping did not hear from is probed again on its own (every
  // reply in the whole window counts, a starved probe is retried), then diagnosed like a failing toReach
  const pending = rows.flat();
  const missed = pending.filter((p) => !p.reached && p.w.address);
  let diagnosed = 0;
  await eachLimited(missed, 8, async (p) => {
    const target = await resolveTarget(p.src, p.w.address!, {});
    const outcome = await probeOnce(p.src, target, { durationMs: timeout, until: 'window' });
    if (outcome.reached) {
      p.reached = true;
      return;
    }
    if (options.explain === false || diagnosed >= MAX_DIAGNOSED) {
      p.disposition = outcome.noRoute ? 'NO_ROUTE' : 'NO_REPLY';
      p.why = diagnosed >= MAX_DIAGNOSED ? `not diagnosed (only the first ${MAX_DIAGNOSED} unreached pairs are)` : undefined;
      return;
    }
    diagnosed++;
    const d = await diagnose(p.src, target, outcome, {});
    p.disposition = d.disposition;
    p.why = d.hops[d.hops.length - 1];
    p.hops = d.hops;
  });
  // "not reached" about a namespace that was deleted (or made again under its name) while the mesh probed is about a
  // namespace that is gone: a reply on its way died with it. No verdict for those pairs.
  for (const name of new Set(pending.filter((p) => !p.reached).flatMap((p) => [p.src.name, ...(p.w.ns ? [p.w.ns] : [])]))) {
    if (lab.identityOf?.(name) !== identities.get(name)) {
      throw new NotFoundError('network namespace', name, `it was deleted or made again while the mesh probed it, so "not reached" for its pairs would be about a namespace that is gone; no verdict`);
    }
  }
  const results = pending.map(({ src, w, reached, disposition, why, hops }): PairResult => {
    const d: Disposition = reached ? 'REACHED' : w.address ? (disposition ?? 'NO_REPLY') : 'NO_ROUTE';
    return { from: src.name, to: w.label, address: w.address ?? '(no address)', reached, disposition: d, ...(hops ? { hops } : {}), ...(why ? { why } : w.address ? {} : { why: w.shared ? `every address of ${w.label} is also one of ${src.name}'s own (a probe would be answered by ${src.name} itself)` : `${w.label} has no address to probe` }) };
  });
  return new ReachabilityMatrix(results, targets.map((t) => t.label));
}

