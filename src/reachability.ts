/**
 * Reachability of whole meshes: one `fping` per source namespace probes every target at once, and all sources run in
 * parallel. The addresses of every namespace come from one `ip -all netns exec ip -j addr` in the lab host.
 */
import { InvalidInputError, ProbeError } from './errors.js';
import { addressFacing, canonical, parseProbeAddress } from './address.js';
import { diagnose } from './diagnose.js';
import { probe as probeOnce, resolveTarget } from './probe.js';
import { labAddresses } from './state.js';
import type { Scope } from './scope.js';
import { Netns } from './netns.js';
import type { Disposition } from './diagnose.js';

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
  w: { label: string; address?: string };
  reached: boolean;
  disposition?: Disposition;
  why?: string;
  hops?: string[];
}

/** Sources whose fping runs at once in a mesh. */
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
  const addrs = await labAddresses(lab);
  const targets = (options.targets ?? nodes).map((t) => {
    if (t instanceof Netns) {
      if (t.lab !== lab) throw new InvalidInputError('reachability target', String(t), `expected namespaces of ${lab}`);
      return { label: t.name, ns: t.name };
    }
    const address = parseProbeAddress(t, 'reachability target').address;
    return { label: address, address };
  });
  // a few sources at once: a hundred fpings together (each ARPing every other host on a shared bridge) lose requests
  // in the neighbor queues, and every lost one costs a re-probe of its own below
  const rows: Pending[][] = new Array(nodes.length);
  await eachLimited([...nodes.keys()], MESH_SOURCES_AT_ONCE, async (i) => {
    rows[i] = await (async (src: Netns) => {
      const mine = addrs.get(src.name) ?? [];
      const wanted = targets
        .filter((t) => t.ns !== src.name)
        .map((t) => ({ ...t, address: t.address ?? addressFacing(mine, addrs.get(t.ns!) ?? []) }));
      const probe = wanted.filter((w) => w.address);
      for (const p of probe) await lab.checkTarget(p.address!);
      const reached = new Set<string>();
      if (probe.length) {
        // one echo request per target, each waiting the whole timeout for its reply (late replies count)
        const argv = ['fping', '-c', '1', '-i', '1', '-t', String(Math.round(timeout)), ...new Set(probe.map((p) => p.address!))];
        const r = await lab.run(src.name, argv, { intent: `ping ${probe.length} targets`, reject: false, timeoutMs: timeout + 30_000 });
        if (/^nsenter: /m.test(r.stderr) || r.exitCode > 2) throw new ProbeError(`the mesh probe from ${src} could not run (fping exited ${r.exitCode}: ${r.stderr.trim().split('\n')[0]}); no verdict`);
        for (const line of r.stderr.split('\n')) {
          const m = /^(\S+)\s+: xmt\/rcv\/%loss = (\d+)\/(\d+)/.exec(line);
          if (m && Number(m[3]) > 0) reached.add(canonical(m[1]!));
        }
      }
      return wanted.map((w): Pending => ({ src, w, reached: w.address !== undefined && reached.has(canonical(w.address)) }));
    })(nodes[i]!);
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
  const results = pending.map(({ src, w, reached, disposition, why, hops }): PairResult => {
    const d: Disposition = reached ? 'REACHED' : w.address ? (disposition ?? 'NO_REPLY') : 'NO_ROUTE';
    return { from: src.name, to: w.label, address: w.address ?? '(no address)', reached, disposition: d, ...(hops ? { hops } : {}), ...(why ? { why } : w.address ? {} : { why: `${w.label} has no address to probe` }) };
  });
  return new ReachabilityMatrix(results, targets.map((t) => t.label));
}

