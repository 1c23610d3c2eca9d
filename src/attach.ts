/**
 * Attach mode: the matchers, against network namespaces that already exist outside any lab — by name in /run/netns,
 * by path (e.g. a Docker sandbox, /var/run/docker/netns/<id>), or by PID (`docker inspect -f '{{.State.Pid}}'`).
 * Read-only: it never changes the namespaces it attaches to, starts no responders unless allowed, and refuses to
 * probe an address that belongs to none of them (or their host's bridges) unless told so.
 */
import { existsSync } from 'node:fs';
import { InvalidInputError, LabGoneError, NotFoundError } from './errors.js';
import { run, type RunOptions, type RunResult } from './exec.js';
import { canonical, parseAddress } from './ip.js';
import { checkNetnsName } from './names.js';
import { Netns } from './netns.js';
import type { World } from './world.js';
import type { Step } from './batch.js';

export type AttachTarget = { name: string } | { path: string } | { pid: number };

export interface AttachModeOptions {
  /** The namespace that routes between them (the Docker host, say); default: this process's own network namespace. */
  host?: AttachTarget;
  /** Probe any address, not only those of the attached namespaces and their host's bridges. */
  allowAnyTarget?: boolean;
  /** Let TCP/UDP probes start short-lived responders in the attached namespaces (a process, not a configuration change). */
  allowResponder?: boolean;
}

let nextAttachment = 1;

function resolve(target: AttachTarget, label: string): string {
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

export class AttachedWorld implements World {
  readonly id = `attach-${nextAttachment++}`;
  readonly readOnly = true;
  readonly host: Netns;
  reported = false;
  test?: World['test'];
  readonly #paths = new Map<string, string>();
  readonly #handles = new Map<string, Netns>();
  readonly #options: AttachModeOptions;

  constructor(targets: Record<string, AttachTarget>, options: AttachModeOptions) {
    this.#options = options;
    for (const [name, target] of Object.entries(targets)) {
      checkNetnsName(name, 'attached namespace handle name');
      this.#paths.set(name, resolve(target, name));
      this.#handles.set(name, new Netns(this, name));
    }
    this.#paths.set('host', options.host ? resolve(options.host, 'host') : `/proc/${process.pid}/ns/net`);
    this.host = new Netns(this, 'host');
  }

  get alive(): boolean {
    return [...this.#paths.values()].every((p) => existsSync(p));
  }

  get responders(): boolean {
    return this.#options.allowResponder === true;
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

  run(target: string, argv: readonly string[], options: RunOptions): Promise<RunResult> {
    this.assertAlive();
    return run([...this.enter(target), ...argv], { timeoutMs: 30_000, where: `attached namespace ${target}`, innerTool: argv[0], displayArgv: argv, ...options });
  }

  apply(_steps: readonly Step[]): Promise<void> {
    return Promise.reject(new InvalidInputError('change to an attached namespace', _steps[0]?.intent ?? 'a change', 'attach mode is read-only: it never changes the namespaces it attaches to; build what you need in a lab instead'));
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
    const own = (await Promise.all(this.namespaces().map((n) => this.get(n).addresses())))
      .flat()
      .flatMap((l) => (l.addr_info ?? []).filter((a) => a.scope === 'global').map((a) => canonical(a.local)));
    const hostLinks = await this.host.links();
    const bridges = new Set(hostLinks.filter((l) => l.linkinfo?.info_kind === 'bridge').map((l) => l.ifname));
    const bridgeAddrs = (await this.host.addresses()).filter((l) => bridges.has(l.ifname)).flatMap((l) => (l.addr_info ?? []).map((a) => canonical(a.local)));
    if (![...own, ...bridgeAddrs].includes(target)) {
      throw new InvalidInputError(
        'target in attach mode',
        address,
        `it belongs to none of the attached namespaces (${this.namespaces().join(', ')}) or their host's bridges, so netspec will not send packets to it; attach with { allowAnyTarget: true } if you mean it`,
      );
    }
  }
}

/** Attach to existing network namespaces, by name, path or PID, and get handles the matchers accept. */
export async function attach(targets: Record<string, AttachTarget>, options: AttachModeOptions = {}): Promise<AttachedWorld> {
  if (targets === null || typeof targets !== 'object' || Array.isArray(targets)) {
    throw new InvalidInputError('attach targets', targets, 'expected { handleName: { name } | { path } | { pid }, … }');
  }
  const world = new AttachedWorld(targets, options);
  // a cheap check that every path is a network namespace we may enter
  await Promise.all(
    [...world.namespaces(), 'host'].map(async (n) => {
      const r = await world.run(n, ['ip', '-j', 'link', 'show', 'dev', 'lo'], { intent: `enter ${n}`, reject: false });
      if (r.exitCode !== 0) throw new InvalidInputError(`attach target ${n}`, world.enter(n)[1]!.slice('--net='.length), `cannot enter it as a network namespace: ${r.stderr.trim()}`);
    }),
  );
  return world;
}
