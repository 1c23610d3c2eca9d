/**
 * A lab: a private network world for one test (ARCHITECTURE.md, "A lab").
 *
 * A lifeline process (`unshare --net --mount --pid --fork`) owns the lab's network, mount and PID namespaces; its
 * network namespace is the lab's host, a private tmpfs on /run gives it its own /run/netns, and its stdin is a pipe from
 * this process. When this process dies, by any means, the pipe closes, the lifeline's PID 1 exits, the kernel kills
 * every process of the lab and frees every namespace, link, route and rule in it. Nothing to sweep.
 */
import type { ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { setMaxListeners } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { $ as zx$ } from 'zx';
import type { LabShell } from './shell.js';
import { Batcher, type Step } from './batch.js';
import { Bridge, type BridgeOptions } from './bridge.js';
import {
  DuplicateNameError,
  InvalidInputError,
  LabGoneError,
  NotFoundError,
  NetspecError,
  PrerequisiteError,
} from './errors.js';
import { checkTimeoutMs, prefixedSpawn, requireTools, run, spawnLongLived, type RunOptions, type RunResult } from './exec.js';
import { parseCidr } from './ip.js';
import { checkIfname, checkNetnsName } from './names.js';
import { Netns } from './netns.js';
import { addressStep } from './steps/address.js';
import { Wan, type WanOptions } from './wan.js';
import { reachability, type ReachabilityMatrix, type ReachabilityOptions } from './reachability.js';
import type { World } from './world.js';

export interface LabOptions {
  /**
   * Build the lab inside a user namespace: the default, as root too. As root, the lab's root is mapped to root (files
   * keep working), but the lab cannot leave its namespaces (no entering the machine's network through /proc/1/ns/net),
   * cannot write sysctls outside `net.*` (`vm.swappiness`, `kernel.*`: /proc/sys is read-only in the lab, its own
   * `net` excepted) and cannot remount /proc or /run. As a non-root user this is the only way, and it needs
   * unprivileged user namespaces (`sysctl kernel.unprivileged_userns_clone=1` on Debian/Ubuntu kernels).
   * `userns: false` (root only) is the same as `privileged: true`.
   */
  userns?: boolean;
  /**
   * A full-privilege lab (root only): no user namespace, so the lab's root is the machine's root. Needed to run a
   * container engine (dockerd) inside a lab. The lab still has its own network, mount, PID, UTS and IPC namespaces,
   * but a script in it can reach the machine (`umount /proc; nsenter --net=/proc/1/ns/net`) and change non-network
   * sysctls: use it only for code you trust to stay inside. Default false.
   */
  privileged?: boolean;
  /** Deadline for one command inside the lab, in ms (default 30 000). */
  commandTimeoutMs?: number;
  /** Deadline for the lab to come up, in ms (default 30 000: a kernel busy freeing many namespaces can be slow). */
  startTimeoutMs?: number;
  /**
   * Make the machine's cgroup hierarchy visible in the lab's /sys, for running a container engine (dockerd) inside it.
   * Requires `privileged: true` (an engine needs the machine's root, and a user-namespace lab cannot have it):
   * `createLab({ privileged: true, cgroups: true })`.
   */
  cgroups?: boolean;
  /**
   * `net.bridge.bridge-nf-call-{iptables,ip6tables,arptables}` in the lab host, set explicitly so that the same spec
   * gives the same verdict on every machine (a new network namespace otherwise gets whatever br_netfilter's state on
   * the machine gives it). true (the default, as on a machine running Docker): bridged traffic goes through iptables,
   * so a FORWARD DROP also stops traffic between two ports of one bridge. false: bridged traffic bypasses iptables.
   * Where the kernel has no br_netfilter, true given explicitly is a PrerequisiteError, and the default is false.
   * The lab host's `net.ipv4.ip_forward` likewise starts at 0, and so do the namespaces made by `lab.netns()`.
   */
  bridgeNetfilter?: boolean;
}

const BRIDGE_NF = '/proc/sys/net/bridge/bridge-nf-call-iptables';

let forwards: boolean | undefined;
/** Does the machine forward IPv4 (new namespaces inherit it)? Read once. */
function machineForwards(): boolean {
  if (forwards === undefined) {
    try {
      forwards = readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim() === '1';
    } catch {
      forwards = false;
    }
  }
  return forwards;
}

/** The lab host's explicit defaults (no caller input: `on` is netspec's own 0 or 1). */
const defaults = (on: boolean) =>
  `for f in ${BRIDGE_NF} /proc/sys/net/bridge/bridge-nf-call-ip6tables /proc/sys/net/bridge/bridge-nf-call-arptables; do [ ! -e "$f" ] || echo ${on ? 1 : 0} > "$f" || exit; done && ` +
  'echo 0 > /proc/sys/net/ipv4/ip_forward && ';

export interface VethEnd {
  /** The namespace this end lives in (`lab.host` or a namespace handle). */
  ns: Netns;
  /** Interface name, at most 15 characters. */
  name: string;
  /** Optional address with prefix, e.g. `192.168.15.1/24`. */
  address?: string;
}

export interface VethPair {
  readonly a: Required<Pick<VethEnd, 'ns' | 'name'>> & { address?: string };
  readonly b: Required<Pick<VethEnd, 'ns' | 'name'>> & { address?: string };
}

// Runs once, as the lab's PID 1, with no input from the caller: private /run (so /run/netns and iptables' lock
// are the lab's own), a sysfs of the lab's network namespace (for `brctl show`), lo up; then wait for stdin to close.
// Used for full-privilege labs and for labs of a non-root user (one `unshare`, user namespace included).
const lifelineScript = (cgroups: boolean, prelude: string) =>
  'mount -t tmpfs -o mode=0755 netspec /run && mkdir /run/netns && ' +
  '{ [ -L /var/run ] || mount --bind /run /var/run; } && ' +
  // with { cgroups: true } the machine's cgroup mounts are carried over the new sysfs, for a container engine in the lab
  (cgroups ? '{ ! [ -d /sys/fs/cgroup ] || { mkdir /run/.cgroup && mount --rbind /sys/fs/cgroup /run/.cgroup; }; } && ' : '') +
  'mount -t sysfs sysfs /sys && ' +
  (cgroups ? '{ ! [ -d /run/.cgroup ] || { mount --rbind /run/.cgroup /sys/fs/cgroup && umount -l /run/.cgroup && rmdir /run/.cgroup; }; } && ' : '') +
  `${prelude}ip link set dev lo up && echo ready && exec cat >/dev/null`;


// A root lab in a user namespace, in two stages, so that the lab's root cannot undo its confinement.
// Stage 1 runs as the machine's root, as PID 1 of the lab's new PID namespace, in a mount namespace of the machine's
// user namespace: it reports its pid (as the machine sees it), mounts the lab's /proc and /run, makes /proc/sys (but
// /proc/sys/net) and the other kernel knobs under /proc read-only, then becomes stage 2 (same process) in a new user
// namespace (root mapped to root) with new network, UTS, IPC and mount namespaces. Copying the mounts into a mount
// namespace of a less privileged user namespace locks them (the kernel's MNT_LOCKED): the lab cannot unmount /proc to
// reach the machine's, remount /proc/sys writable, nor mount a proc of its own (its PID namespace belongs to the
// machine's user namespace). The network namespace belongs to the lab's user namespace, so the lab configures it fully.
const lifelineStage2 = (prelude: string) => `mount -t sysfs sysfs /sys && ${prelude}ip link set dev lo up && echo ready && exec cat >/dev/null`;
const LIFELINE_STAGE1 =
  'read -r pid _ </proc/self/stat && echo "pid $pid" && ' +
  'mount -t proc proc /proc && ' +
  'mount -t tmpfs -o mode=0755 netspec /run && mkdir /run/netns && ' +
  '{ [ -L /var/run ] || mount --bind /run /var/run; } && ' +
  // /proc/sys read-only but its net (bound first, carried along by rbind); the kernel's other writable knobs too
  'mount --bind /proc/sys/net /proc/sys/net && mount -o rbind,ro /proc/sys /proc/sys && ' +
  'for d in sysrq-trigger irq; do [ ! -e /proc/$d ] || mount -o bind,ro /proc/$d /proc/$d || exit; done && ' +
  'exec unshare --user --map-root-user --net --uts --ipc --mount --propagation private -- sh -c "$0"';

let nextLabId = 1;

export class Lab implements AsyncDisposable, World {
  readonly readOnly = false;
  readonly responders = true;
  readonly id = nextLabId++;
  /** The lab's host: the network namespace of the lifeline, where bridges, NAT and the uplink to the wan live. */
  readonly host: Netns;
  /** zx `$` running inside the lab's host (bash): the user's own commands and scripts, unchanged. */
  readonly sh: LabShell;
  readonly batcher: Batcher;
  /** Namespaces created through this handle (scripts may create more: see `get`). */
  readonly #namespaces = new Map<string, Netns>();
  /** Interface names this lab created in its host, so generated names never collide. */
  readonly hostLinks = new Set<string>();
  /** Interface names this lab created in each namespace, for precise duplicate errors before anything runs. */
  readonly #nsLinks = new Map<string, Set<string>>();
  readonly #bridges = new Map<string, Bridge>();
  /** The test this lab belongs to (set by the Vitest fixture): failure reports are attached to it. */
  test?: { name: string; annotate?: (message: string, type: string, attachment?: { path?: string; body?: string; contentType?: string }) => Promise<unknown> };
  /** A failure report was written for this lab already. */
  reported = false;
  #state: 'alive' | 'disposing' | 'disposed' | 'dead' = 'alive';
  #deathReason = '';
  #exited: Promise<void>;
  #disposing?: Promise<void>;
  /** Aborted by dispose(): kills the process group of every command still running in the lab (e.g. a stopped one). */
  readonly #stop = new AbortController();
  readonly #commandTimeoutMs: number;
  readonly #prefix: (target: string) => string[];

  /** @internal use createLab() */
  constructor(
    private readonly lifeline: ChildProcess,
    readonly pid: number,
    readonly userns: boolean,
    options: LabOptions,
    exited: Promise<void>,
  ) {
    this.#commandTimeoutMs = options.commandTimeoutMs ?? 30_000;
    this.#exited = exited;
    const base = [
      'nsenter',
      // our uid is root inside the lab's user namespace (--map-root-user), and setgroups is denied there
      ...(userns ? [`--user=/proc/${pid}/ns/user`, '--preserve-credentials'] : []),
      `--mount=/proc/${pid}/ns/mnt`,
      `--pid=/proc/${pid}/ns/pid_for_children`,
      `--uts=/proc/${pid}/ns/uts`,
      `--ipc=/proc/${pid}/ns/ipc`,
    ];
    this.#prefix = (target) =>
      target === 'host'
        ? [...base, `--net=/proc/${pid}/ns/net`, `--wd=${process.cwd()}`, '--']
        : userns
          ? // nsenter enters the user namespace last; a namespace file the lab's own root controls (/run/netns/NAME, which a
            // script could point at any namespace it can open) is entered only from inside the lab's user namespace, so
            // it can never be one the lab has no rights over (the machine's)
            [...base, `--net=/proc/${pid}/ns/net`, `--wd=${process.cwd()}`, '--', 'nsenter', `--net=/run/netns/${target}`, '--']
          : [...base, `--net=/proc/${pid}/root/run/netns/${target}`, `--wd=${process.cwd()}`, '--'];
    this.host = new Netns(this, 'host');
    this.batcher = new Batcher(
      (target, argv, opts) => this.run(target, argv, opts),
      (target) => this.#describe(target),
    );
    setMaxListeners(Infinity, this.#stop.signal); // one listener per command in flight
    this.sh = zx$({ spawn: prefixedSpawn(this.#prefix('host'), { signal: this.#stop.signal }), shell: '/bin/bash', quiet: true, verbose: false });
  }

  get alive(): boolean {
    return this.#state === 'alive';
  }

  toString(): string {
    return `lab ${this.id}`;
  }

  #describe(target: string): string {
    return target === 'host' ? `lab ${this.id} host` : `lab ${this.id} namespace ${target}`;
  }

  /** @internal called when the lifeline exits */
  markDead(reason: string): void {
    if (this.#state === 'alive') {
      this.#state = 'dead';
      this.#deathReason = reason;
    }
  }

  assertAlive(): void {
    if (this.#state === 'alive') return;
    if (this.#state === 'dead') {
      throw new LabGoneError(`${this} is gone: its lifeline process (pid ${this.pid}) ${this.#deathReason}; create a new lab`);
    }
    throw new LabGoneError(`${this} has been disposed; its handles cannot be used any more (create a new lab, or use the test's own \`lab\`)`);
  }

  /** The argv prefix that enters `target` ("host" or a namespace name) of this lab. */
  enter(target: string): string[] {
    return this.#prefix(target);
  }

  /**
   * Run an argv in the lab's host or one of its namespaces. It settles when the command exits, whatever it left
   * running (that lives on in the lab, and dies with it). On its deadline (`timeoutMs`, default the lab's
   * commandTimeoutMs) the command inside the lab is stopped too, with everything in its process group, and the call
   * returns once they are gone (about timeoutMs + 1 s at most). dispose() kills whatever is still running.
   */
  async run(target: string, argv: readonly string[], options: RunOptions): Promise<RunResult> {
    this.assertAlive();
    const timeoutMs = options.timeoutMs === undefined ? this.#commandTimeoutMs : checkTimeoutMs(options.timeoutMs, 'timeoutMs');
    try {
      return await run([...this.#prefix(target), ...argv], {
        where: this.#describe(target),
        innerTool: argv[0],
        displayArgv: argv,
        ...options,
        timeoutMs,
        signal: this.#stop.signal,
      });
    } catch (error) {
      if (this.#state !== 'alive') this.assertAlive();
      if (target !== 'host' && !this.#hasNetns(target)) {
        throw new NotFoundError('network namespace', target, `it was deleted, or never created (namespaces now: ${this.#list().join(', ') || 'none'})`);
      }
      throw error;
    } finally {
      // an nsenter that could not enter means the lab went away while it ran
      if (this.#state === 'alive' && this.lifeline.exitCode !== null) this.markDead(`exited with code ${this.lifeline.exitCode}`);
    }
  }

  /** Queue configuration steps (batched: steps queued in the same tick share processes). */
  apply(steps: readonly Step[]): Promise<void> {
    this.assertAlive();
    return this.batcher.add(steps);
  }

  #hasNetns(name: string): boolean {
    return existsSync(`/proc/${this.pid}/root/run/netns/${name}`);
  }

  #list(): string[] {
    try {
      return readdirSync(`/proc/${this.pid}/root/run/netns`).sort();
    } catch {
      return [];
    }
  }

  #checkOwn(ns: unknown, input: string): Netns {
    if (!(ns instanceof Netns)) throw new InvalidInputError(input, ns, 'expected a namespace handle from lab.netns(), lab.get() or lab.host');
    if (ns.lab !== this) throw new InvalidInputError(input, String(ns), `it belongs to ${ns.lab}, not ${this}; use a namespace of this lab`);
    this.assertAlive();
    return ns;
  }

  /** The names of the lab's network namespaces (`ip netns list` inside the lab), however they were made. */
  namespaces(): string[] {
    this.assertAlive();
    return this.#list();
  }

  /** Create a network namespace in the lab (`ip netns add NAME`, then `lo` up). */
  async netns(name: string): Promise<Netns> {
    this.assertAlive();
    const ns = this.#register(name);
    try {
      await this.apply([
        { target: 'host', kind: 'ip', words: ['netns', 'add', name], intent: `create namespace ${name}` },
        { target: name, kind: 'ip', words: ['link', 'set', 'dev', 'lo', 'up'], intent: `set lo up in ${name}` },
        // a new namespace copies net.ipv4.ip_forward from the machine's (Docker sets it to 1): start from the kernel's 0
        ...(machineForwards() ? [{ target: name, kind: 'sysctl' as const, words: ['net.ipv4.ip_forward=0'], intent: `start ${name} with forwarding off` }] : []),
      ]);
    } catch (error) {
      this.#namespaces.delete(name);
      throw error;
    }
    ns.identity = this.identityOf(name);
    return ns;
  }

  /**
   * The identity of a namespace of the lab (the inode of its namespace file), or undefined when there is none: a
   * handle remembers it, so a probe from a namespace that was deleted and made again under the same name is an error.
   */
  identityOf(name: string): number | undefined {
    try {
      return name === 'host' ? undefined : statSync(`/proc/${this.pid}/root/run/netns/${name}`).ino;
    } catch {
      return undefined;
    }
  }

  /** A handle to a namespace that already exists in the lab (e.g. one a script made with `ip netns add`). */
  get(name: string): Netns {
    this.assertAlive();
    if (name === 'host') return this.host;
    checkNetnsName(name);
    const known = this.#namespaces.get(name);
    const now = this.identityOf(name);
    // a known handle, unless its namespace was deleted and made again since (then a fresh handle for the new one)
    if (known && (known.identity === undefined || now === undefined || known.identity === now)) return known;
    if (!this.#hasNetns(name)) {
      throw new NotFoundError('network namespace', name, `create it first (lab.netns or \`ip netns add\`); namespaces now: ${this.#list().join(', ') || 'none'}`);
    }
    const ns = new Netns(this, name);
    ns.identity = now;
    this.#namespaces.set(name, ns);
    return ns;
  }

  /** A veth pair ("virtual cable") between two namespaces (either may be `lab.host`), both ends up. */
  async veth(a: VethEnd, b: VethEnd): Promise<VethPair> {
    const ends = [a, b].map((end, i) => {
      const label = i === 0 ? 'first veth end' : 'second veth end';
      if (end === null || typeof end !== 'object') throw new InvalidInputError(label, end, 'expected { ns, name, address? }');
      const ns = this.#checkOwn(end.ns, `${label} ns`);
      const name = checkIfname(end.name, `${label} name`);
      const address = end.address === undefined ? undefined : parseCidr(end.address, `${label} address`);
      return { ns, name, address };
    });
    const [x, y] = ends as [(typeof ends)[0], (typeof ends)[0]];
    if (x.ns === y.ns && x.name === y.name) throw new DuplicateNameError('veth end name', y.name, 'both ends have the same name in the same namespace');
    const words = ['link', 'add', 'name', x.name];
    if (!x.ns.isHost) words.push('netns', x.ns.name);
    words.push('type', 'veth', 'peer', 'name', y.name);
    if (!y.ns.isHost) words.push('netns', y.ns.name);
    const steps: Step[] = [{ target: 'host', kind: 'ip', words, intent: `create veth pair ${x.name} <-> ${y.name}` }];
    for (const end of ends) {
      if (end.address) steps.push({ ...addressStep(end.address, end.name), target: end.ns.name });
      steps.push({ target: end.ns.name, kind: 'ip', words: ['link', 'set', 'dev', end.name, 'up'], intent: `set ${end.name} up` });
    }
    this.claimLink(x.ns, x.name, 'first veth end name');
    try {
      this.claimLink(y.ns, y.name, 'second veth end name');
    } catch (error) {
      this.releaseLink(x.ns, x.name);
      throw error;
    }
    try {
      await this.apply(steps);
    } catch (error) {
      this.releaseLink(x.ns, x.name);
      this.releaseLink(y.ns, y.name);
      await this.#undo(x.ns, x.name);
      throw error;
    }
    return {
      a: { ns: x.ns, name: x.name, address: x.address?.text },
      b: { ns: y.ns, name: y.name, address: y.address?.text },
    };
  }

  /** Delete a link after a failed build, so nothing is left half-built (best effort). */
  async #undo(ns: Netns, dev: string): Promise<void> {
    if (!this.alive) return;
    await this.run(ns.name, ['ip', 'link', 'del', 'dev', dev], { intent: `undo ${dev}`, reject: false }).catch(() => undefined);
  }

  /** A Linux bridge in the lab's host (the tutorial's `v-net-0`), up, with an optional gateway address. */
  async bridge(name: string, options: BridgeOptions = {}): Promise<Bridge> {
    this.assertAlive();
    checkIfname(name, 'bridge name');
    if (options === null || typeof options !== 'object') throw new InvalidInputError('bridge options', options, 'expected an object such as { address: "192.168.15.3/24" }');
    const address = options.address === undefined ? undefined : parseCidr(options.address, 'bridge address');
    if (this.hostLinks.has(name)) throw new DuplicateNameError('bridge name', name, `${this} already has an interface called ${JSON.stringify(name)} in its host`);
    this.hostLinks.add(name);
    const handle = new Bridge(this, name, address);
    this.#bridges.set(name, handle);
    const steps: Step[] = [
      { target: 'host', kind: 'ip', words: ['link', 'add', 'name', name, 'type', 'bridge'], intent: `create bridge ${name}` },
      { target: 'host', kind: 'ip', words: ['link', 'set', 'dev', name, 'up'], intent: `set ${name} up` },
    ];
    if (address) steps.push({ ...addressStep(address, name), target: 'host' });
    try {
      await this.apply(steps);
    } catch (error) {
      this.hostLinks.delete(name);
      this.#bridges.delete(name);
      await this.#undo(this.host, name);
      throw error;
    }
    return handle;
  }

  /** The handle of a bridge made with lab.bridge() (available as soon as lab.bridge() is called). */
  getBridge(name: string): Bridge {
    const b = this.#bridges.get(name);
    if (!b) throw new NotFoundError('bridge', name, `create it with lab.bridge(); bridges now: ${[...this.#bridges.keys()].join(', ') || 'none'}`);
    return b;
  }

  /** @internal claim an interface name in a namespace; throws DuplicateNameError if this lab made one there already */
  claimLink(ns: Netns, name: string, input = 'interface name'): void {
    const set = ns.isHost ? this.hostLinks : (this.#nsLinks.get(ns.name) ?? new Set<string>());
    if (set.has(name)) throw new DuplicateNameError(input, name, `${ns} already has an interface called ${JSON.stringify(name)}; choose another name`);
    set.add(name);
    if (!ns.isHost) this.#nsLinks.set(ns.name, set);
  }

  /** @internal give a claimed name back after a failed build */
  releaseLink(ns: Netns, name: string): void {
    (ns.isHost ? this.hostLinks : this.#nsLinks.get(ns.name))?.delete(name);
  }

  /** @internal generate a host interface name not used yet */
  freeHostName(candidates: string[]): string {
    for (const c of candidates) if (c.length <= 15 && !this.hostLinks.has(c)) return c;
    for (let i = 0; ; i++) {
      const c = `nsv${this.id % 1000}x${i}`;
      if (!this.hostLinks.has(c)) return c;
    }
  }

  /** The stand-in for the Internet: a namespace on documentation addresses, the lab host's uplink and default route. */
  async wan(options: WanOptions = {}): Promise<Wan> {
    return Wan.create(this, options, (name) => this.#register(name));
  }

  #register(name: string): Netns {
    checkNetnsName(name);
    if (this.#namespaces.has(name) || this.#hasNetns(name)) {
      throw new DuplicateNameError('namespace name', name, `${this} already has a namespace called ${JSON.stringify(name)}; use lab.get(${JSON.stringify(name)}) for it, or choose another name`);
    }
    const ns = new Netns(this, name);
    this.#namespaces.set(name, ns);
    return ns;
  }

  /** @internal forget a namespace whose creation failed */
  forget(name: string): void {
    this.#namespaces.delete(name);
  }

  /**
   * Run a shell script file inside the lab's host, unchanged (`bash -- PATH ARGS…`). Throws on a non-zero exit. Resolves
   * when the script exits: what it left running (a server started with `&`) lives on in the lab and dies with it.
   */
  async script(path: string, args: readonly string[] = []): Promise<RunResult> {
    if (typeof path !== 'string' || !path || path.includes('\0')) throw new InvalidInputError('script path', path, 'expected the path of a shell script');
    if (!Array.isArray(args) || !args.every((a) => typeof a === 'string' && !a.includes('\0'))) {
      throw new InvalidInputError('script arguments', args, 'expected an array of strings (without NUL characters)');
    }
    let file;
    try {
      file = statSync(path);
    } catch {
      throw new InvalidInputError('script path', path, 'no such file (paths are relative to the current directory)');
    }
    if (!file.isFile()) throw new InvalidInputError('script path', path, 'not a regular file: give the path of a shell script');
    // `--`: the path is the script, never an option of bash, even when it starts with "-" (a file named `-c`)
    return this.run('host', ['bash', '--', path, ...args], { intent: `run script ${path}` });
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
    const stdin = this.lifeline.stdin;
    if (!stdin) throw new NetspecError(`${this} cannot be kept: its lifeline pipe is gone`);
    const dir = ensureKeptDir(); // a folder we cannot use means no keeper is started at all
    const keeper = spawnLongLived(['sleep', 'infinity'], { detached: true, stdio: ['ignore', 'ignore', 'ignore', stdin] });
    keeper.once('error', () => undefined); // reported below, as a missing pid
    try {
      if (keeper.pid === undefined) throw new Error('the keeper process (`sleep infinity`) did not start');
      const enter = [...this.enter('host').map((a) => (a.startsWith('--wd=') ? '--wd=/' : a)), 'bash'].join(' ');
      const kept: KeptLab = { id: `${process.pid}-${this.id}`, pid: this.pid, keeper: keeper.pid, enter, end: `kill ${keeper.pid}`, reason, created: new Date().toISOString() };
      // 'wx': a fresh file of ours, never one (or a link) someone put there
      writeFileSync(join(dir, `${kept.id}.json`), JSON.stringify(kept, null, 2), { mode: 0o600, flag: 'wx' });
      keeper.unref();
      this.#state = 'disposed'; // this process is done with it; the keeper holds it now
      return kept;
    } catch (error) {
      // a kept lab that nobody can find must not live on: end the keeper (by its pid); the caller disposes the lab
      if (keeper.pid !== undefined) {
        try {
          process.kill(keeper.pid, 'SIGKILL');
        } catch {
          /* gone already */
        }
      }
      throw new NetspecError(`${this} could not be kept: ${error instanceof Error ? error.message : String(error)} (record folder ${dir}); no keeper is left running, and the lab ends as usual`, { cause: error });
    }
  }

  /** End the lab: its namespaces, links, rules and processes are freed by the kernel. Safe to call twice. */
  dispose(): Promise<void> {
    if (this.#disposing) return this.#disposing;
    const wasDead = this.#state === 'dead';
    this.#state = 'disposing';
    this.#disposing = (async () => {
      // commands still running: kill their process groups first (a stopped nsenter would otherwise hold the lab's
      // PID namespace open, as a parent that never reaps its dead child, until the 5 s SIGKILL below)
      this.#stop.abort(new LabGoneError(`${this} was disposed while the command ran`));
      this.lifeline.stdin?.end();
      const timer = setTimeout(() => {
        if (this.lifeline.exitCode === null && this.lifeline.signalCode === null) this.lifeline.kill('SIGKILL');
      }, 5_000);
      try {
        await this.#exited;
      } finally {
        clearTimeout(timer);
        this.#state = wasDead ? 'dead' : 'disposed';
      }
    })();
    return this.#disposing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.dispose();
  }
}

export interface KeptLab {
  id: string;
  /** The lifeline's pid. */
  pid: number;
  /** The keeper's pid: kill it to end the lab. */
  keeper: number;
  /** The command that opens a shell inside the lab. */
  enter: string;
  /** The command that ends the lab. */
  end: string;
  reason: string;
  created: string;
}

/**
 * Where this user's kept labs are registered: a folder per user (`/tmp/netspec-kept-<uid>`, mode 0700), so two users
 * never share (or block) one; gone with the machine's reboot, like the labs.
 */
export function keptDir(): string {
  return join(tmpdir(), `netspec-kept-${process.getuid?.() ?? 'user'}`);
}

/** Create the kept-labs folder if needed and check that it is ours alone; throws a NetspecError saying what to do. */
function ensureKeptDir(): string {
  const dir = keptDir();
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw new NetspecError(`cannot keep a lab: creating ${dir} failed (${(error as Error).message}); set TMPDIR to a folder you can write`, { cause: error });
  }
  const st = lstatSync(dir);
  const uid = process.getuid?.();
  if (!st.isDirectory() || (uid !== undefined && st.uid !== uid)) {
    throw new NetspecError(`cannot keep a lab: ${dir} is ${st.isDirectory() ? `a folder of uid ${st.uid}` : 'not a folder'}, not yours; remove it, or set TMPDIR to a folder of your own`);
  }
  if ((st.mode & 0o077) !== 0) chmodSync(dir, 0o700);
  return dir;
}

/** Kept labs whose keeper is still alive (stale entries are removed). */
export function keptLabs(): KeptLab[] {
  let files: string[] = [];
  try {
    files = readdirSync(keptDir()).filter((f) => f.endsWith('.json'));
  } catch {
    return [];
  }
  const alive: KeptLab[] = [];
  for (const f of files) {
    try {
      const k = JSON.parse(readFileSync(join(keptDir(), f), 'utf8')) as KeptLab;
      if (processAlive(k.keeper) && processAlive(k.pid)) alive.push(k);
      else rmSync(join(keptDir(), f), { force: true });
    } catch {
      /* unreadable: skip */
    }
  }
  return alive;
}

/** Running (not a zombie waiting to be reaped). */
function processAlive(pid: number): boolean {
  try {
    return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

const live = new Set<Lab>();

/** Labs of this process that are not disposed yet (for reports and `netspec doctor`). */
export function liveLabs(): readonly Lab[] {
  return [...live];
}

/** Create a fresh, private lab. Dispose it with `await lab.dispose()` or `await using lab = await createLab()`. */
export async function createLab(options: LabOptions = {}): Promise<Lab> {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) throw new InvalidInputError('lab options', options, 'expected an object such as { userns: true }');
  for (const [key, value] of Object.entries(options)) {
    if (key === 'userns' || key === 'cgroups' || key === 'privileged' || key === 'bridgeNetfilter') {
      if (value !== undefined && typeof value !== 'boolean') throw new InvalidInputError(`lab option ${key}`, value, 'expected true or false');
    } else if (key === 'commandTimeoutMs' || key === 'startTimeoutMs') {
      // finite, > 0 and at most 2^31-1 (a longer Node timer silently becomes 1 ms)
      if (value !== undefined) checkTimeoutMs(value, `lab option ${key}`);
    } else {
      throw new InvalidInputError('lab option', key, 'unknown; createLab takes userns, privileged, cgroups, bridgeNetfilter, commandTimeoutMs, startTimeoutMs');
    }
  }
  const root = process.getuid?.() === 0;
  if (options.privileged === true && options.userns === true) {
    throw new InvalidInputError('lab options', options, 'privileged: true means no user namespace, so it cannot go with userns: true; choose one');
  }
  const privileged = options.privileged === true || options.userns === false;
  if (privileged && !root) {
    throw new InvalidInputError(`lab option ${options.privileged === true ? 'privileged' : 'userns'}`, options.privileged === true ? true : false, 'a full-privilege lab (no user namespace) needs root; as this user a lab always runs in a user namespace');
  }
  if (options.cgroups === true && !privileged) {
    throw new InvalidInputError('lab option cgroups', true, "the machine's cgroups are given only to a full-privilege lab, for a container engine: createLab({ privileged: true, cgroups: true })");
  }
  if (process.platform !== 'linux') throw new PrerequisiteError('Linux network namespaces', 'netspec needs a Linux kernel; run it on Linux (or in a Linux VM/container)');
  requireTools(['unshare', 'nsenter', 'ip']);
  const userns = !privileged;
  const hasBridgeNf = existsSync(BRIDGE_NF);
  if (options.bridgeNetfilter === true && !hasBridgeNf) {
    throw new PrerequisiteError('br_netfilter (bridged traffic through iptables)', 'this kernel has no br_netfilter loaded: `modprobe br_netfilter` as root, or create the lab with { bridgeNetfilter: false }');
  }
  const prelude = defaults(options.bridgeNetfilter ?? hasBridgeNf);
  // as root, a user-namespace lab is built in two stages (LIFELINE_STAGE1): its confinement is locked by the kernel
  const staged = userns && root;
  const argv = staged
    ? ['unshare', '--kill-child', '--pid', '--mount', '--fork', '--propagation', 'private', '--', 'sh', '-c', LIFELINE_STAGE1, lifelineStage2(prelude)]
    : [
        'unshare',
        ...(userns ? ['--user', '--map-root-user'] : []),
        '--kill-child',
        '--net',
        '--mount',
        '--pid',
        '--uts',
        '--ipc',
        '--fork',
        '--mount-proc',
        '--propagation',
        'private',
        '--',
        'sh',
        '-c',
        lifelineScript(options.cgroups === true, prelude),
      ];
  const child = spawnLongLived(argv);
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    if (stderr.length < 4096) stderr += d;
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.once('error', () => undefined);
  const startTimeoutMs = options.startTimeoutMs ?? 30_000;
  let labPid = child.pid!;
  const ready = await new Promise<boolean | Error>((resolve) => {
    let out = '';
    const timer = setTimeout(() => resolve(false), startTimeoutMs);
    child.stdout?.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      if (out.includes('ready\n')) {
        // a staged lab's PID 1 is the child of `unshare`, and says its pid first
        const reported = /^pid (\d+)$/m.exec(out)?.[1];
        if (staged && reported) labPid = Number(reported);
        clearTimeout(timer);
        resolve(true);
      }
    });
    child.once('error', (e) => {
      clearTimeout(timer);
      resolve(e);
    });
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(false);
    });
  });
  if (ready !== true) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
    throw labStartError(ready, stderr, userns, root, startTimeoutMs);
  }
  const lab = new Lab(child, labPid, userns, options, exited);
  live.add(lab);
  child.once('exit', (code, signal) => {
    live.delete(lab);
    // a staged lab's PID 1 (lab.pid) runs under `unshare --fork`, which passes on how it ended by raising the same
    // signal; util-linux 2.38 fails to for SIGKILL (the one signal the machine can send a PID namespace's init)
    const mark = () => {
      const killed = signal ?? (staged && code === 1 && /sigprocmask unblock failed/.test(stderr) ? 'SIGKILL' : null);
      lab.markDead(killed ? `was killed by ${killed}` : `exited with code ${code}`);
    };
    // 'exit' can come before the last of stderr: read it to its end first (briefly)
    const err = child.stderr;
    if (staged && code === 1 && err && !err.readableEnded) {
      const timer = setTimeout(mark, 200);
      err.once('end', () => (clearTimeout(timer), mark()));
    } else {
      mark();
    }
  });
  // the lab must not keep the test process alive; when the process exits, the pipe closes and the lab ends
  child.unref();
  for (const stream of [child.stdin, child.stdout, child.stderr]) (stream as unknown as { unref?: () => void } | null)?.unref?.();
  return lab;
}

function labStartError(ready: boolean | Error, stderr: string, userns: boolean, root: boolean, timeoutMs: number): NetspecError {
  const err = stderr.trim();
  if (ready instanceof Error) return new PrerequisiteError('the `unshare` command', 'install util-linux (`apt-get install util-linux`)', { cause: ready });
  if (/No space left on device/.test(err) && userns) {
    return new PrerequisiteError(
      'user namespaces',
      `the limit on user namespaces is reached or set to 0 (user.max_user_namespaces). Raise it with \`sudo sysctl -w user.max_user_namespaces=15000\`, ${root ? 'or (trusted code only) create a full-privilege lab with { privileged: true }: labs run in a user namespace, as root too, to keep them off the machine' : 'or run the tests as root'}. unshare said: ${err}`,
    );
  }
  if (/Operation not permitted|Permission denied/.test(err)) {
    if (userns && root) {
      return new PrerequisiteError(
        'user namespaces',
        `the kernel refused to create one even to root (a restricted container, or an AppArmor/SELinux policy?); labs run in a user namespace, as root too, to keep them off the machine. Allow them (\`sudo sysctl -w user.max_user_namespaces=15000\`, on Ubuntu 24.04+ \`sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0\`), or (trusted code only) create a full-privilege lab with { privileged: true }. unshare said: ${err}`,
      );
    }
    if (userns) {
      return new PrerequisiteError(
        'unprivileged user namespaces',
        `creating a lab as a non-root user needs them. Enable with \`sudo sysctl -w kernel.unprivileged_userns_clone=1\` (Debian/Ubuntu), \`sudo sysctl -w user.max_user_namespaces=15000\`, or on Ubuntu 24.04+ \`sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0\`; or run the tests as root. unshare said: ${err}`,
      );
    }
    return new PrerequisiteError('network namespaces', `the kernel refused to create them${root ? ' even as root (is this a restricted container? run it with --privileged or CAP_SYS_ADMIN)' : ''}. unshare said: ${err}`);
  }
  if (/not found|No such file/.test(err)) {
    const tool = /(\w+): (?:command )?not found/.exec(err)?.[1] ?? 'a system tool';
    return new PrerequisiteError(`the \`${tool}\` command`, `install iproute2 and util-linux (\`apt-get install iproute2 util-linux\`). unshare said: ${err}`);
  }
  return new NetspecError(
    ready === false && !err
      ? `the lab did not come up within ${timeoutMs} ms: the kernel was too slow creating its namespaces (is it busy freeing many others?); retry, or raise { startTimeoutMs }`
      : `the lab could not be created: ${err || 'the lifeline exited early'}`,
  );
}
