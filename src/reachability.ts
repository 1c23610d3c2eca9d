/**
 * Reachability of whole meshes: one `fping` per source namespace probes every target at once, and all sources run in
 * parallel. The addresses of every namespace come from one `ip -all netns exec ip -j addr` in the lab host.
 */
import { InvalidInputError } from './errors.js';
import { addressFacing, parseAddress } from './ip.js';
import { everyNetns, splitJsonArrays } from './state.js';
import type { World } from './world.js';
import { Netns, type AddrInfo } from './netns.js';
import type { Disposition } from './diagnose.js';

export interface PairResult {
  readonly from: string;
  /** The target as given: a namespace name or an address. */
  readonly to: string;
  readonly address: string;
  readonly reached: boolean;
  readonly disposition: Disposition;
}

export interface ReachabilityOptions {
  /** Targets (namespaces or addresses); default: the same namespaces as the sources. */
  targets?: (Netns | string)[];
  /** How long each unreachable pair is tried, in ms (default 1000). */
  timeout?: number;
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

/** Global addresses of every namespace of the lab (one process), by namespace name. */
export async function labAddresses(lab: World): Promise<Map<string, { address: string; prefixLength: number }[]>> {
  if (lab.readOnly) {
    // an attachment: no private /run/netns to list, so read each namespace
    const out = new Map<string, { address: string; prefixLength: number }[]>();
    for (const name of ['host', ...lab.namespaces()]) out.set(name, (await lab.get(name).globalAddresses()).map(({ address, prefixLength }) => ({ address, prefixLength })));
    return out;
  }
  const [all, host] = await Promise.all([everyNetns(lab, ['ip', '-j', 'addr', 'show']), lab.host.addresses()]);
  const out = new Map<string, { address: string; prefixLength: number }[]>();
  const globals = (links: AddrInfo[]) =>
    links.flatMap((l) => (l.addr_info ?? []).filter((a) => a.scope === 'global').map((a) => ({ address: a.local, prefixLength: a.prefixlen, lo: l.ifname === 'lo' })))
      // addresses on lo last: the link address is the one a neighbour reaches first
      .sort((a, b) => Number(a.lo) - Number(b.lo))
      .map(({ address, prefixLength }) => ({ address, prefixLength }));
  out.set('host', globals(host));
  for (const [name, text] of all) out.set(name, globals((splitJsonArrays(text)[0] ?? []) as AddrInfo[]));
  return out;
}

/** Every source → every target (but itself), with real packets. */
export async function reachability(lab: World, sources?: Netns[], options: ReachabilityOptions = {}): Promise<ReachabilityMatrix> {
  lab.assertAlive();
  const nodes = sources ?? lab.namespaces().map((n) => lab.get(n));
  for (const n of nodes) if (!(n instanceof Netns) || n.lab !== lab) throw new InvalidInputError('reachability source', String(n), `expected namespaces of ${lab}`);
  const timeout = options.timeout ?? 1000;
  if (!Number.isFinite(timeout) || timeout <= 0) throw new InvalidInputError('timeout', timeout, 'expected a number of ms > 0');
  const addrs = await labAddresses(lab);
  const targets = (options.targets ?? nodes).map((t) => {
    if (t instanceof Netns) {
      if (t.lab !== lab) throw new InvalidInputError('reachability target', String(t), `expected namespaces of ${lab}`);
      return { label: t.name, ns: t.name };
    }
    return { label: parseAddress(t, 'reachability target').address, address: t };
  });
  const interval = 100;
  const retries = Math.max(0, Math.ceil(timeout / interval) - 1);
  const rows = await Promise.all(
    nodes.map(async (src) => {
      const mine = addrs.get(src.name) ?? [];
      const wanted = targets
        .filter((t) => t.ns !== src.name)
        .map((t) => ({ ...t, address: t.address ?? addressFacing(mine, addrs.get(t.ns!) ?? []) }));
      const probe = wanted.filter((w) => w.address);
      for (const p of probe) await lab.checkTarget?.(p.address!);
      const results = new Map<string, Disposition>();
      if (probe.length) {
        const argv = ['fping', '-e', '-B1', '-t', String(interval), '-r', String(retries), ...new Set(probe.map((p) => p.address!))];
        const r = await lab.run(src.name, argv, { intent: `ping ${probe.length} targets`, reject: false });
        for (const line of (r.stdout + '\n' + r.stderr).split('\n')) {
          const alive = /^(\S+) is alive/.exec(line);
          if (alive) results.set(alive[1]!, 'REACHED');
          const noRoute = /^(\S+): error while sending ping: (Network is unreachable|No route to host)/.exec(line);
          if (noRoute && !results.has(noRoute[1]!)) results.set(noRoute[1]!, 'NO_ROUTE');
        }
      }
      return wanted.map((w): PairResult => {
        const disposition = w.address ? (results.get(w.address) ?? 'NO_REPLY') : 'NO_ROUTE';
        return { from: src.name, to: w.label, address: w.address ?? '(no address)', reached: disposition === 'REACHED', disposition };
      });
    }),
  );
  return new ReachabilityMatrix(rows.flat(), targets.map((t) => t.label));
}

