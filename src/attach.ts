/**
 * Attach mode: the matchers, against network namespaces that already exist outside any lab — by name in /run/netns,
 * by path (e.g. a Docker sandbox, /var/run/docker/netns/<id>), or by PID (`docker inspect -f '{{.State.Pid}}'`).
 * Read-only by construction: every command goes through ExistingNamespaces.run, which runs only argv shapes that read
 * (`ip -j … show/list/get`, `iptables-save`, `nft list`, `sysctl -n KEY`, `ss`, …) and netspec's probes (ping, fping,
 * socat as a client), unless the attachment was made with { allowChanges: true }. A probe is sent only where the route
 * it would take (`ip -j route get` in the source, then hop by hop) stays inside the attached namespaces, unless
 * { allowAnyTarget: true }. The machine's own network namespace is attached only when asked for (host: 'machine').
 *
 * Over 300 lines on purpose: the read-only allow-list, the route guard and the scope's methods are one security boundary, reviewed together.
 */
import { existsSync, statSync } from 'node:fs';
import { InvalidInputError, LabGoneError, NotFoundError } from './errors.js';
import { run, type RunOptions, type RunResult } from './exec.js';
import { canonical, parseAddress } from './address.js';
import { checkNetnsName } from './names.js';
import { Netns } from './netns.js';
import type { EveryResult, Scope } from './scope.js';
import { eachNamespace } from './scope.js';
import type { Step } from './batch.js';
import { probeDestinations, readOnlyArgv } from './readonly.js';

export type ExistingTarget = { name: string } | { path: string } | { pid: number };

export interface ExistingNamespacesOptions {
  /**
   * The namespace that routes between them (the Docker host, say): `{ pid }`, `{ path }` or `{ name }`. This machine's
   * own network namespace only when named explicitly: `host: 'machine'`. Required.
   */
  host?: ExistingTarget | 'machine';
  /** Probe any address, wherever the route to it goes, not only along routes that stay inside the attached namespaces. */
  allowAnyTarget?: boolean;
  /** Let TCP/UDP probes start short-lived responders in the attached namespaces (a process, not a configuration change). */
  allowResponder?: boolean;
  /**
   * Let commands change the attached namespaces: `exec`/`iptables` with any argv, and addAddress, sysctl, policy,
   * masquerade, up, addRoute… Without it only reading commands and netspec's probes run (InvalidInputError otherwise).
   */
  allowChanges?: boolean;
  /** Allow an attached namespace (not only the host) to be this machine's own network namespace. */
  allowMachine?: boolean;
}

let nextAttachment = 1;

function resolve(target: ExistingTarget, label: string): string {
  if (target === null || typeof target !== 'object') throw new InvalidInputError(`attach target ${label}`, target, 'expected { name }, { path } or { pid }');
  if ('name' in target) {
    checkNetnsName(target.name, `attach target ${label} name`);
    const path = `/run/netns/${target.name}`;
    if (!existsSync(path)) throw new NotFoundError('network namespace', target.name, `there is no ${path} (namespaces made by Docker live in /var/run/docker/netns: attach by path or pid)`);
    return path;
  }
  if ('path' in target) {
    if (typeof target.path !== 'string' || !target.path.startsWith('/')) throw new InvalidInputError(`attach target ${label} path`, target.path, 'expected an absolute path to a network namespace file');
    if (!existsSync(target.path)) throw new NotFoundError('namespace file', target.path, 'it does not exist (is the container running?)');
    return target.path;
  }
  if ('pid' in target) {
    if (!Number.isInteger(target.pid) || target.pid <= 0) throw new InvalidInputError(`attach target ${label} pid`, target.pid, 'expected a process id, e.g. from `docker inspect -f {{.State.Pid}} NAME`');
    const path = `/proc/${target.pid}/ns/net`;
    if (!existsSync(path)) throw new NotFoundError('process', String(target.pid), 'no such process (is the container running?)');
    return path;
  }
  throw new InvalidInputError(`attach target ${label}`, target, 'expected { name }, { path } or { pid }');
}

/** The network namespaces that are this machine's own: this process's, and init's where readable. */
function machineNamespaces(): Set<string> {
  const ids = new Set<string>();
  for (const p of ['/proc/self/ns/net', '/proc/1/ns/net']) {
    try {
      const st = statSync(p);
      ids.add(`${st.dev}:${st.ino}`);
    } catch {
      /* not ours to read */
    }
  }
  return ids;
}

function nsId(path: string): string | undefined {
  try {
    const st = statSync(path);
    return `${st.dev}:${st.ino}`;
  } catch {
    return undefined;
  }
}

/** Route lookups per source and address, reused for a short while (a probe loop asks many times). */
const ROUTE_CHECK_TTL_MS = 2_000;

export class ExistingNamespaces implements Scope {
  readonly id = `attach-${nextAttachment++}`;
  readonly host: Netns;
  readonly #paths = new Map<string, string>();
  readonly #handles = new Map<string, Netns>();
  readonly #options: ExistingNamespacesOptions;

  readonly #routeChecks = new Map<string, { at: number; result: Promise<void> }>();

  constructor(targets: Record<string, ExistingTarget>, options: ExistingNamespacesOptions) {
    this.#options = options;
    const machine = machineNamespaces();
    for (const [name, target] of Object.entries(targets)) {
      checkNetnsName(name, 'attached namespace handle name');
      if (name === 'host') throw new InvalidInputError('attached namespace handle name', name, '"host" is the attachment\'s host: give it as { host: … }');
      const path = resolve(target, name);
      if (!options.allowMachine && machine.has(nsId(path) ?? '')) {
        throw new InvalidInputError(`attach target ${name}`, target, "it is this machine's own network namespace; attach to it only on purpose, with { allowMachine: true } (or as the host: host: 'machine')");
      }
      this.#paths.set(name, path);
      this.#handles.set(name, new Netns(this, name));
    }
    if (options.host === undefined) {
      throw new InvalidInputError(
        'attach option host',
        undefined,
        "say which namespace routes between the attached ones (the Docker host): { host: { pid } | { path } | { name } }, or host: 'machine' for this machine's own network namespace",
      );
    }
    if (options.host === 'machine') {
      this.#paths.set('host', `/proc/${process.pid}/ns/net`);
    } else {
      const path = resolve(options.host, 'host');
      if (!options.allowMachine && machine.has(nsId(path) ?? '')) {
        throw new InvalidInputError('attach option host', options.host, "it is this machine's own network namespace; say so explicitly with host: 'machine'");
      }
      this.#paths.set('host', path);
    }
    this.host = new Netns(this, 'host');
  }

  /** Changes are allowed (attached with { allowChanges: true }). */
  get allowsChanges(): boolean {
    return this.#options.allowChanges === true;
  }

  get alive(): boolean {
    return [...this.#paths.values()].every((p) => existsSync(p));
  }

  /** Attach mode reads; it never adds tables of its own (no kernel trace: rule counters only; no seenAs witness). */
  refusesTables(): string {
    return 'attach mode changes nothing in the namespaces it attaches to';
  }

  refusesResponders(): string | undefined {
    return this.#options.allowResponder ? undefined : 'attach mode starts no process in the attached namespaces unless attached with { allowResponder: true }';
  }

  /** No /run/netns of its own to list: each attached namespace in turn, through the read-only run. */
  inEveryNamespace(argv: readonly string[], options: RunOptions): Promise<EveryResult> {
    return eachNamespace(this, argv, options);
  }

  toString(): string {
    return `attachment ${this.id}`;
  }

  assertAlive(): void {
    for (const [name, path] of this.#paths) {
      if (!existsSync(path)) throw new LabGoneError(`the attached namespace ${name} (${path}) is gone (did the container stop?)`);
    }
  }

  enter(target: string): string[] {
    const path = this.#paths.get(target);
    if (!path) throw new NotFoundError('attached namespace', target, `attached: ${this.namespaces().join(', ')}`);
    return ['nsenter', `--net=${path}`, '--'];
  }

  async run(target: string, argv: readonly string[], options: RunOptions): Promise<RunResult> {
    this.assertAlive();
    // read-only by construction: an allow-list of argv shapes that only read, and netspec's probes
    // (each program by its absolute path from a fixed list of folders: readOnlyArgv)
    if (!this.allowsChanges) argv = readOnlyArgv(argv, options.input);
    // a probe only along a route that stays inside the attached namespaces
    if (!this.#options.allowAnyTarget) for (const address of probeDestinations(argv)) await this.checkRoute(target, address);
    return run([...this.enter(target), ...argv], { timeoutMs: 30_000, where: `attached namespace ${target}`, innerTool: argv[0], displayArgv: argv, ...options });
  }

  async apply(steps: readonly Step[]): Promise<void> {
    if (!this.allowsChanges) {
      throw new InvalidInputError('change to an attached namespace', steps[0]?.intent ?? 'a change', 'attach mode is read-only: it never changes the namespaces it attaches to; build what you need in a lab instead, or attach with { allowChanges: true }');
    }
    for (const step of steps) {
      const argv = step.kind === 'ip' ? ['ip', ...step.words] : step.kind === 'ip6' ? ['ip', '-6', ...step.words] : step.kind === 'sysctl' ? ['sysctl', '-w', ...step.words] : [step.kind, ...step.words];
      await this.run(step.target, argv, { intent: step.intent });
    }
  }

  namespaces(): string[] {
    return [...this.#handles.keys()];
  }

  get(name: string): Netns {
    if (name === 'host') return this.host;
    const ns = this.#handles.get(name);
    if (!ns) throw new NotFoundError('attached namespace', name, `attached: ${this.namespaces().join(', ')}`);
    return ns;
  }

  /** Attach mode probes only the attached namespaces' addresses and their host's bridge addresses, unless allowed. */
  async checkTarget(address: string): Promise<void> {
    if (this.#options.allowAnyTarget) return;
    const target = canonical(parseAddress(address, 'target').address);
    const owners = await this.#owners();
    const hostLinks = await this.host.links();
    const bridges = new Set(hostLinks.filter((l) => l.linkinfo?.info_kind === 'bridge').map((l) => l.ifname));
    const bridgeAddrs = (await this.host.addresses()).filter((l) => bridges.has(l.ifname)).flatMap((l) => (l.addr_info ?? []).map((a) => canonical(a.local)));
    const own = [...owners.entries()].filter(([, ns]) => ns !== 'host').map(([a]) => a);
    if (![...own, ...bridgeAddrs].includes(target)) {
      throw new InvalidInputError(
        'target in attach mode',
        address,
        `it belongs to none of the attached namespaces (${this.namespaces().join(', ')}) or their host's bridges, so netspec will not send packets to it; attach with { allowAnyTarget: true } if you mean it`,
      );
    }
  }

  /** Every address of every attached namespace and the host (loopback and link-local included), by owner. */
  async #owners(): Promise<Map<string, string>> {
    const owners = new Map<string, string>();
    for (const name of [...this.namespaces(), 'host']) {
      for (const link of await this.get(name).addresses()) for (const a of link.addr_info ?? []) if (!owners.has(canonical(a.local))) owners.set(canonical(a.local), name);
    }
    return owners;
  }

  /**
   * Throws unless the packets of a probe from `source` to `address` stay inside the attached namespaces: follow the
   * route hop by hop (`ip -j route get` in each namespace it reaches). Every next hop (the gateway, or the destination
   * on the link itself) must be an address of an attached namespace, and the route's interface must be a cable to that
   * namespace: a veth whose peer is its interface with that address (or a port of the bridge it is on, on either side).
   * A route through any other gateway or interface would leave them: refused, before any packet. No route at all (or a
   * local, unreachable, blackhole one) sends nothing out: allowed. Only reads routes, addresses and links.
   */
  checkRoute(source: string, address: string): Promise<void> {
    const key = `${source} ${address}`;
    const cached = this.#routeChecks.get(key);
    if (cached && performance.now() - cached.at < ROUTE_CHECK_TTL_MS) return cached.result;
    const result = this.#followRoute(source, address);
    this.#routeChecks.set(key, { at: performance.now(), result });
    result.catch(() => this.#routeChecks.delete(key));
    return result;
  }

  async #followRoute(source: string, address: string): Promise<void> {
    const target = canonical(parseAddress(address, 'target').address);
    const owners = await this.#owners();
    const path: string[] = [];
    const refuse = (why: string) =>
      new InvalidInputError(
        'target in attach mode',
        address,
        `${why} (route: ${path.join(' → ')}), so its packets would leave the attached namespaces (${[...this.namespaces(), 'host'].join(', ')}); netspec will not send them. Attach the namespace the route leads to, or attach with { allowAnyTarget: true } if you mean it`,
      );
    let at = source;
    for (let hop = 0; hop < 16; hop++) {
      if (owners.get(target) === at) return; // arrived
      const route = await this.get(at).routeGet(target);
      if (!route || route.type === 'local' || (route.type && ['unreachable', 'blackhole', 'prohibit', 'throw'].includes(route.type))) return;
      const next = route.gateway ? canonical(route.gateway) : target;
      path.push(`${at}: ${route.gateway ? `via ${route.gateway} ` : ''}dev ${route.dev ?? '?'}`);
      const owner = owners.get(next);
      if (owner === at) return;
      if (owner === undefined) {
        throw refuse(route.gateway ? `${at} routes it through the gateway ${route.gateway}, which belongs to none of them` : `${at} sends it out of ${route.dev ?? 'an interface'} to ${next}, which belongs to none of them`);
      }
      if (!route.dev || !(await this.#cable(at, route.dev, owner, next))) {
        throw refuse(`${at} sends it out of ${route.dev ?? 'an interface'}, which is not a cable to ${owner} (the namespace with ${next})`);
      }
      at = owner;
    }
    throw refuse('the route loops');
  }

  /**
   * `dev` in `from` and the interface of `to` that has `address` are on one link made of the attached namespaces'
   * veth pairs and bridges (a veth pair: two veths, each the other's peer by ifindex; a bridge: itself and its ports).
   */
  async #cable(from: string, dev: string, to: string, address: string): Promise<boolean> {
    const names = [...this.namespaces(), 'host'];
    const [links, toAddrs] = await Promise.all([Promise.all(names.map((n) => this.get(n).links())), this.get(to).addresses()]);
    const ifname = toAddrs.find((l) => (l.addr_info ?? []).some((a) => canonical(a.local) === address))?.ifname;
    if (ifname === undefined) return false;
    const key = (ns: string, ifindex: number) => `${ns}#${ifindex}`;
    const edges = new Map<string, string[]>();
    const connect = (x: string, y: string) => {
      edges.set(x, [...(edges.get(x) ?? []), y]);
      edges.set(y, [...(edges.get(y) ?? []), x]);
    };
    const all = names.flatMap((ns, i) => links[i]!.map((l) => ({ ns, l })));
    for (const { ns, l } of all) {
      const master = l.master === undefined ? undefined : all.find((m) => m.ns === ns && m.l.ifname === l.master);
      if (master) connect(key(ns, l.ifindex), key(ns, master.l.ifindex));
      if (l.linkinfo?.info_kind !== 'veth' || l.link_index === undefined) continue;
      for (const { ns: ns2, l: p } of all) {
        if (p.linkinfo?.info_kind === 'veth' && p.ifindex === l.link_index && p.link_index === l.ifindex && !(ns2 === ns && p.ifindex === l.ifindex)) connect(key(ns, l.ifindex), key(ns2, p.ifindex));
      }
    }
    const start = all.find((x) => x.ns === from && x.l.ifname === dev);
    const goal = all.find((x) => x.ns === to && x.l.ifname === ifname);
    if (!start || !goal) return false;
    const seen = new Set([key(from, start.l.ifindex)]);
    const queue = [...seen];
    while (queue.length) {
      const k = queue.shift()!;
      if (k === key(to, goal.l.ifindex)) return true;
      for (const n of edges.get(k) ?? []) if (!seen.has(n)) (seen.add(n), queue.push(n));
    }
    return false;
  }
}

/** Attach to existing network namespaces, by name, path or PID, and get handles the matchers accept. */
export async function existingNamespaces(targets: Record<string, ExistingTarget>, options: ExistingNamespacesOptions = {}): Promise<ExistingNamespaces> {
  if (targets === null || typeof targets !== 'object' || Array.isArray(targets)) {
    throw new InvalidInputError('attach targets', targets, 'expected { handleName: { name } | { path } | { pid }, … }');
  }
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new InvalidInputError('attach options', options, 'expected an object such as { host: { pid: 1 }, allowAnyTarget: false, allowResponder: false }');
  }
  for (const [key, value] of Object.entries(options)) {
    if (key === 'allowAnyTarget' || key === 'allowResponder' || key === 'allowChanges' || key === 'allowMachine') {
      if (value !== undefined && typeof value !== 'boolean') throw new InvalidInputError(`attach option ${key}`, value, 'expected true or false');
    } else if (key !== 'host') {
      throw new InvalidInputError('attach option', key, 'unknown; existingNamespaces() takes host, allowAnyTarget, allowResponder, allowChanges, allowMachine');
    }
  }
  const world = new ExistingNamespaces(targets, options);
  // a cheap check that every path is a network namespace we may enter
  await Promise.all(
    [...world.namespaces(), 'host'].map(async (n) => {
      const r = await world.run(n, ['ip', '-j', 'link', 'show', 'dev', 'lo'], { intent: `enter ${n}`, reject: false });
      if (r.exitCode !== 0) throw new InvalidInputError(`attach target ${n}`, world.enter(n)[1]!.slice('--net='.length), `cannot enter it as a network namespace: ${r.stderr.trim()}`);
    }),
  );
  return world;
}

/** @deprecated The old name of {@link existingNamespaces} (it read like `bridge.attach`, which cables a namespace). */
export const attach = existingNamespaces;
/** @deprecated The old name of {@link ExistingNamespaces}. */
export type AttachedWorld = ExistingNamespaces;
/** @deprecated The old name of {@link ExistingTarget}. */
export type AttachTarget = ExistingTarget;
/** @deprecated The old name of {@link ExistingNamespacesOptions}. */
export type AttachModeOptions = ExistingNamespacesOptions;
