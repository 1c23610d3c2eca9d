/**
 * A lab: a private network world for one test (ARCHITECTURE.md, "A lab"). `Lab` is a facade: the lifeline process
 * (src/lab/lifeline.ts), keeping a lab (src/lab/keep.ts), the names it handed out (src/lab/inventory.ts) and the
 * builders (src/lab/namespace.ts, src/lab/veth.ts, src/bridge.ts, src/wan.ts), which change the lab only through
 * src/lab/transaction.ts and see it only through a BuildContext (src/lab/context.ts).
 */
import { $ as zx$ } from 'zx';
import { Batcher, type Step } from './batch.js';
import { Bridge, createBridge, type BridgeOptions } from './bridge.js';
import { NotFoundError } from './errors.js';
import { prefixedSpawn, type RunOptions, type RunResult } from './exec.js';
import { labContext, type BuildContext } from './lab/context.js';
import { Inventory, type HostNames } from './lab/inventory.js';
import { keepLifeline, type KeptLab } from './lab/keep.js';
import { Lifeline } from './lab/lifeline.js';
import { createNetns, getNetns } from './lab/namespace.js';
import { checkLabOptions, type LabOptions } from './lab/options.js';
import { scriptArgv } from './lab/script.js';
import { labIdRangeMapped } from './lab/lifeline-argv.js';
import { createVeth, type VethEnd, type VethPair } from './lab/veth.js';
import { createKindLink, createMacvlan, createVxlan, type KindSpec, type Link, type MacvlanSpec, type VxlanSpec } from './lab/links.js';
import { Netns } from './netns.js';
import { reachability, type ReachabilityMatrix, type ReachabilityOptions } from './reachability.js';
import type { LabShell } from './shell.js';
import { Wan, type WanOptions } from './wan.js';
import type { EveryResult, Scope } from './scope.js';
import { eachNamespace, everyLabNamespace } from './scope.js';

export type { LabOptions } from './lab/options.js';
export type { VethEnd, VethPair } from './lab/veth.js';
export type { KindSpec, Link, LinkSpec, MacvlanSpec, VxlanSpec } from './lab/links.js';
export { keptDir, keptEnter, keptLabs, type KeptLab } from './lab/keep.js';

let nextLabId = 1;
/** Each lab's inventory, for hostNames(): not a member of Lab, so not part of its public surface. */
const labNames = new WeakMap<Lab, HostNames>();

export class Lab implements AsyncDisposable, Scope {
  // the lab's side of the namespace scope (src/scope.ts): it owns its namespaces, so traces, witnesses, responders
  // and any target are allowed, and every namespace is reached through its lab runner (or one `ip -all netns exec`)
  async inEveryNamespace(argv: readonly string[], options: RunOptions): Promise<EveryResult> {
    // through the lab runner, namespace by namespace (8 at once); by nsenter, one `ip -all netns exec`, unless the
    // command reads its stdin (an `ip -batch -`): the first namespace's process would read it all, the others nothing
    return (await this.#life.hasRunner()) || options.input !== undefined ? eachNamespace(this, argv, options, 8) : everyLabNamespace(this, argv, options);
  }
  refusesTables(): undefined {
    return undefined;
  }
  refusesResponders(): undefined {
    return undefined;
  }
  async checkTarget(): Promise<void> {}
  readonly id = nextLabId++;
  /** The lab's host: the network namespace of the lifeline, where bridges, NAT and the uplink to the wan live. */
  readonly host: Netns;
  /** zx `$` running inside the lab's host (bash): the user's own commands and scripts, unchanged. */
  readonly sh: LabShell;
  readonly #life: Lifeline;
  readonly #batcher: Batcher;
  readonly #inventory = new Inventory(this.id, String(this));
  readonly #bridges = new Map<string, Bridge>();
  readonly #commandTimeoutMs: number;
  /** What the builders see of this lab. */
  readonly #ctx: BuildContext;

  /** @internal use createLab() */
  constructor(lifeline: Lifeline, commandTimeoutMs: number) {
    this.#life = lifeline;
    this.#commandTimeoutMs = commandTimeoutMs;
    this.host = new Netns(this, 'host');
    this.#batcher = new Batcher((target, argv, opts) => this.run(target, argv, opts), (target) => this.#describe(target));
    this.sh = zx$({ spawn: prefixedSpawn(lifeline.enter('host'), { signal: lifeline.signal }), shell: '/bin/bash', quiet: true, verbose: false });
    labNames.set(this, this.#inventory);
    this.#ctx = labContext(this, this.#inventory, lifeline, this.#batcher);
  }

  /** The lab's PID 1, as this machine sees it. */
  get pid(): number {
    return this.#life.pid;
  }

  /** The lab runs in a user namespace (the default). */
  get userns(): boolean {
    return this.#life.userns;
  }

  get alive(): boolean {
    return this.#life.alive;
  }

  toString(): string {
    return `lab ${this.id}`;
  }

  #describe(target: string): string {
    return target === 'host' ? `lab ${this.id} host` : `lab ${this.id} namespace ${target}`;
  }

  assertAlive(): void {
    this.#life.assertAlive(String(this));
  }

  /** The argv prefix that enters `target` ("host" or a namespace name) of this lab. */
  enter(target: string): string[] {
    return this.#life.enter(target);
  }

  /**
   * Run an argv in the lab's host or one of its namespaces. It settles when the command exits, whatever it left
   * running (that lives on in the lab, and dies with it). On its deadline (`timeoutMs`, default the lab's
   * commandTimeoutMs) the command inside the lab is stopped too, with everything in its process group, and the call
   * returns once they are gone (about timeoutMs + 1 s at most). dispose() kills whatever is still running.
   */
  run(target: string, argv: readonly string[], options: RunOptions): Promise<RunResult> {
    return this.#life.run(target, argv, options, { label: String(this), where: this.#describe(target), timeoutMs: this.#commandTimeoutMs });
  }

  /** Queue configuration steps (batched: steps queued in the same tick share processes). */
  apply(steps: readonly Step[]): Promise<void> {
    this.assertAlive();
    return this.#batcher.add(steps);
  }

  /** The names of the lab's network namespaces (`ip netns list` inside the lab), however they were made. */
  namespaces(): string[] {
    this.assertAlive();
    return this.#life.listNetns();
  }

  /** Create a network namespace in the lab (`ip netns add NAME`, then `lo` up). */
  netns(name: string): Promise<Netns> {
    return createNetns(this.#ctx, name);
  }

  /**
   * The identity of a namespace of the lab (the inode of its namespace file), or undefined when there is none: a
   * handle remembers it, so a probe from a namespace that was deleted and made again under the same name is an error.
   */
  identityOf(name: string): number | undefined {
    return this.#life.identityOf(name);
  }

  /** A handle to a namespace that already exists in the lab (e.g. one a script made with `ip netns add`). */
  get(name: string): Netns {
    return getNetns(this.#ctx, name);
  }

  /** A veth pair ("virtual cable") between two namespaces (either may be `lab.host`), both ends up. */
  veth(a: VethEnd, b: VethEnd): Promise<VethPair> {
    return createVeth(this.#ctx, a, b);
  }

  /**
   * A macvlan link on `parent` (a link of `ns`), optionally placed in another namespace (`into`), up, with an optional
   * address. Mode `bridge` (default) lets children of one parent talk to each other; `private` does not.
   */
  macvlan(spec: MacvlanSpec): Promise<Link> {
    return createMacvlan(this.#ctx, spec);
  }

  /**
   * A vxlan link (`id`, `local`, `remote` or `group`, `dstport` (default 4789), `dev`) created in `ns`, whose UDP
   * socket stays there (the underlay), optionally placed in another namespace (`into`: the overlay), up.
   */
  vxlan(spec: VxlanSpec): Promise<Link> {
    return createVxlan(this.#ctx, spec);
  }

  /**
   * A link of another kind: `dummy`, `vlan` (802.1q: `parent`, `id`), `bond`, `vrf` (`table`). A kind the kernel lacks
   * is a PrerequisiteError naming its module.
   */
  link(spec: KindSpec): Promise<Link> {
    return createKindLink(this.#ctx, spec);
  }

  /**
   * A Linux bridge, up, with an optional address: in the lab's host (the tutorial's `v-net-0`), or in any namespace of
   * the lab with `{ in: ns }` (a namespace that is itself a switch, or a router with a bridge).
   */
  bridge(name: string, options: BridgeOptions = {}): Promise<Bridge> {
    const key = bridgeKey(name, options?.in);
    return createBridge(this.#ctx, name, options, (bridge) => {
      this.#bridges.set(key, bridge);
      return { release: () => void this.#bridges.delete(key) };
    });
  }

  /** The handle of a bridge made with lab.bridge() (available as soon as lab.bridge() is called); `ns` where it is in. */
  getBridge(name: string, ns?: Netns): Bridge {
    const b = this.#bridges.get(bridgeKey(name, ns));
    if (!b) throw new NotFoundError('bridge', ns && !ns.isHost ? `${name} in ${ns.name}` : name, `create it with lab.bridge(); bridges now: ${[...this.#bridges.keys()].join(', ') || 'none'}`);
    return b;
  }

  /** The stand-in for the Internet: a namespace on documentation addresses, the lab host's uplink and default route. */
  wan(options: WanOptions = {}): Promise<Wan> {
    return Wan.create(this.#ctx, options);
  }

  /**
   * Run a shell script file inside the lab's host, unchanged (`bash -- PATH ARGS…`). Throws on a non-zero exit. Resolves
   * when the script exits: what it left running (a server started with `&`) lives on in the lab and dies with it.
   */
  async script(path: string, args: readonly string[] = []): Promise<RunResult> {
    // a root lab's root is an ordinary user to the machine: a script it cannot read is an InvalidInputError up front
    return this.run('host', scriptArgv(path, args, this.userns && process.getuid?.() === 0 && labIdRangeMapped()), { intent: `run script ${path}` });
  }

  /** Every ordered pair of `nodes` (default: all the lab's namespaces), probed at once: one fping per source. */
  reachability(nodes?: Netns[], options?: ReachabilityOptions): Promise<ReachabilityMatrix> {
    return reachability(this, nodes, options);
  }

  /**
   * Keep the lab alive after this process ends (NETSPEC_KEEP=1 on a failed test): a detached keeper process takes over
   * the lifeline's pipe. The lab ends when the keeper is killed (the `end` command) or the machine reboots, and
   * `netspec doctor` lists kept labs that are still alive.
   */
  keep(reason = ''): KeptLab {
    this.assertAlive();
    return keepLifeline(this.#life, String(this), `${process.pid}-${this.id}`, reason);
  }

  /** End the lab: its namespaces, links, rules and processes are freed by the kernel. Safe to call twice. */
  dispose(): Promise<void> {
    return this.#life.dispose(String(this));
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.dispose();
  }
}

/** A bridge's key in its lab: its name in the host, `NS/NAME` in a namespace. */
function bridgeKey(name: string, ns: unknown): string {
  return ns instanceof Netns && !ns.isHost ? `${ns.name}/${name}` : name;
}

/** The host interface names `lab` handed out (for planning a build against it: buildTopology). */
export function hostNames(lab: Lab): HostNames {
  return labNames.get(lab)!;
}

const live = new Set<Lab>();

/** Labs of this process that are not disposed yet (for reports and `netspec doctor`). */
export function liveLabs(): readonly Lab[] {
  return [...live];
}

/** Create a fresh, private lab. Dispose it with `await lab.dispose()` or `await using lab = await createLab()`. */
export async function createLab(options: LabOptions = {}): Promise<Lab> {
  const checked = checkLabOptions(options);
  let lab: Lab | undefined;
  const lifeline = await Lifeline.start(checked, () => lab && live.delete(lab));
  lab = new Lab(lifeline, checked.commandTimeoutMs);
  live.add(lab);
  return lab;
}
