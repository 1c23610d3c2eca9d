/**
 * The lab's lifeline (ARCHITECTURE.md, "A lab"): the process that owns the lab's namespaces, how it is started and
 * entered, how its start fails, how it ends.
 *
 * A lifeline process (`unshare --net --mount --pid --fork`) owns the lab's network, mount and PID namespaces; its
 * network namespace is the lab's host, a private tmpfs on /run gives it its own /run/netns, and its stdin is a pipe from
 * this process. When this process dies, by any means, the pipe closes, the lifeline's PID 1 exits, the kernel kills
 * every process of the lab and frees every namespace, link, route and rule in it. Nothing to sweep.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { setMaxListeners } from 'node:events';
import { LabGoneError, NetspecError, PrerequisiteError } from '../errors.js';
import { spawnLongLived } from '../exec.js';

export const BRIDGE_NF = '/proc/sys/net/bridge/bridge-nf-call-iptables';

/** The lab host's explicit defaults (no caller input: `on` is netspec's own 0 or 1). */
const defaults = (on: boolean) =>
  `for f in ${BRIDGE_NF} /proc/sys/net/bridge/bridge-nf-call-ip6tables /proc/sys/net/bridge/bridge-nf-call-arptables; do [ ! -e "$f" ] || echo ${on ? 1 : 0} > "$f" || exit; done && ` +
  'echo 0 > /proc/sys/net/ipv4/ip_forward && ';

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

export interface LifelineOptions {
  /** In a user namespace (else a full-privilege lab, root only). */
  userns: boolean;
  /** This process runs as root. */
  root: boolean;
  cgroups: boolean;
  /** `bridge-nf-call-*` in the lab host. */
  bridgeNetfilter: boolean;
  startTimeoutMs: number;
}

/** A running lifeline: its process, its state (alive, being disposed, disposed, dead), how to enter it. */
export class Lifeline {
  #state: 'alive' | 'disposing' | 'disposed' | 'dead' = 'alive';
  #deathReason = '';
  #disposing?: Promise<void>;
  /** Aborted by dispose(): kills the process group of every command still running in the lab (e.g. a stopped one). */
  readonly #stop = new AbortController();
  readonly #prefix: (target: string) => string[];

  private constructor(
    readonly child: ChildProcess,
    /** The lab's PID 1, as this machine sees it. */
    readonly pid: number,
    readonly userns: boolean,
    readonly exited: Promise<void>,
  ) {
    setMaxListeners(Infinity, this.#stop.signal); // one listener per command in flight
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
  }

  /**
   * Start a lifeline and wait until it is ready; throws a PrerequisiteError (or NetspecError) saying what to do when it
   * cannot start. `onExit` runs as soon as the lifeline's process has exited.
   */
  static async start(options: LifelineOptions, onExit: () => void): Promise<Lifeline> {
    const { userns, root } = options;
    const prelude = defaults(options.bridgeNetfilter);
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
          lifelineScript(options.cgroups, prelude),
        ];
    const child = spawnLongLived(argv);
    let stderr = '';
    child.stderr?.setEncoding('utf8').on('data', (d: string) => {
      if (stderr.length < 4096) stderr += d;
    });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.once('error', () => undefined);
    let labPid = child.pid!;
    const ready = await new Promise<boolean | Error>((resolve) => {
      let out = '';
      const timer = setTimeout(() => resolve(false), options.startTimeoutMs);
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
      throw startError(ready, stderr, userns, root, options.startTimeoutMs);
    }
    const lifeline = new Lifeline(child, labPid, userns, exited);
    child.once('exit', (code, signal) => {
      onExit();
      // a staged lab's PID 1 (lab.pid) runs under `unshare --fork`, which passes on how it ended by raising the same
      // signal; util-linux 2.38 fails to for SIGKILL (the one signal the machine can send a PID namespace's init)
      const mark = () => {
        const killed = signal ?? (staged && code === 1 && /sigprocmask unblock failed/.test(stderr) ? 'SIGKILL' : null);
        lifeline.markDead(killed ? `was killed by ${killed}` : `exited with code ${code}`);
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
    return lifeline;
  }

  get alive(): boolean {
    return this.#state === 'alive';
  }

  /** Aborted when the lab is disposed: commands still running in it are stopped. */
  get signal(): AbortSignal {
    return this.#stop.signal;
  }

  markDead(reason: string): void {
    if (this.#state === 'alive') {
      this.#state = 'dead';
      this.#deathReason = reason;
    }
  }

  /** Throws a LabGoneError naming `label` (the lab) unless the lifeline is alive. */
  assertAlive(label: string): void {
    if (this.#state === 'alive') return;
    if (this.#state === 'dead') {
      throw new LabGoneError(`${label} is gone: its lifeline process (pid ${this.pid}) ${this.#deathReason}; create a new lab`);
    }
    throw new LabGoneError(`${label} has been disposed; its handles cannot be used any more (create a new lab, or use the test's own \`lab\`)`);
  }

  /** An nsenter that could not enter means the lab went away while it ran: mark it dead if its process has exited. */
  checkExited(): void {
    if (this.#state === 'alive' && this.child.exitCode !== null) this.markDead(`exited with code ${this.child.exitCode}`);
  }

  /** The argv prefix that enters `target` ("host" or a namespace name). */
  enter(target: string): string[] {
    return this.#prefix(target);
  }

  hasNetns(name: string): boolean {
    return existsSync(`/proc/${this.pid}/root/run/netns/${name}`);
  }

  /** The names under the lab's /run/netns, sorted. */
  listNetns(): string[] {
    try {
      return readdirSync(`/proc/${this.pid}/root/run/netns`).sort();
    } catch {
      return [];
    }
  }

  /** The inode of a namespace file of the lab, or undefined when there is none (or for the host). */
  identityOf(name: string): number | undefined {
    try {
      return name === 'host' ? undefined : statSync(`/proc/${this.pid}/root/run/netns/${name}`).ino;
    } catch {
      return undefined;
    }
  }

  /** This process is done with the lifeline: another (a keeper) holds its pipe now. */
  handOver(): void {
    this.#state = 'disposed';
  }

  /** End the lab: close the pipe (SIGKILL after 5 s). Safe to call twice. */
  dispose(label: string): Promise<void> {
    if (this.#disposing) return this.#disposing;
    const wasDead = this.#state === 'dead';
    this.#state = 'disposing';
    this.#disposing = (async () => {
      // commands still running: kill their process groups first (a stopped nsenter would otherwise hold the lab's
      // PID namespace open, as a parent that never reaps its dead child, until the 5 s SIGKILL below)
      this.#stop.abort(new LabGoneError(`${label} was disposed while the command ran`));
      this.child.stdin?.end();
      const timer = setTimeout(() => {
        if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
      }, 5_000);
      try {
        await this.exited;
      } finally {
        clearTimeout(timer);
        this.#state = wasDead ? 'dead' : 'disposed';
      }
    })();
    return this.#disposing;
  }
}

/** Does this kernel have br_netfilter (bridged traffic through iptables)? */
export function hasBridgeNetfilter(): boolean {
  return existsSync(BRIDGE_NF);
}

function startError(ready: boolean | Error, stderr: string, userns: boolean, root: boolean, timeoutMs: number): NetspecError {
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
