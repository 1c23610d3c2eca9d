/**
 * The lab's lifeline (ARCHITECTURE.md, "A lab"): the process that owns the lab's namespaces, how it is started
 * (what it runs: lifeline-argv.ts; why it could not start: start-error.ts), entered, and how it ends.
 *
 * A lifeline process (`unshare --net --mount --pid --fork`) owns the lab's network, mount and PID namespaces; its
 * network namespace is the lab's host, a private tmpfs on /run gives it its own /run/netns, and its stdin is a pipe from
 * this process. When this process dies, by any means, the pipe closes, the lifeline's PID 1 exits, the kernel kills
 * every process of the lab and frees every namespace, link, route and rule in it. Nothing to sweep.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { setMaxListeners } from 'node:events';
import { CommandError, LabGoneError, LabLimitError, NetspecError, NotFoundError, PrerequisiteError } from '../errors.js';
import { checkTimeoutMs, run, runThrough, spawnLongLived, type RunOptions, type RunResult } from '../exec.js';
import { startLabRunner, type Spawner } from '../spawner.js';
import { LAB_ID_COUNT, lifelineArgv, type LabBounds } from './lifeline-argv.js';
import { startError } from './start-error.js';

/** A staged lab's PID 1: the one child of its `unshare` (lifeline-argv.ts, pidFromChildren). */
function stagedPid(unsharePid: number): number | undefined {
  try {
    const pid = Number(readFileSync(`/proc/${unsharePid}/task/${unsharePid}/children`, 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

export interface LifelineOptions {
  /** In a user namespace (else a full-privilege lab, root only). */
  userns: boolean;
  /** This process runs as root. */
  root: boolean;
  cgroups: boolean;
  /** `bridge-nf-call-*` in the lab host. */
  bridgeNetfilter: boolean;
  startTimeoutMs: number;
  bounds: LabBounds;
}

/** A running lifeline: its process, its state (alive, being disposed, disposed, dead), how to enter it. */
export class Lifeline {
  #state: 'alive' | 'disposing' | 'disposed' | 'dead' = 'alive';
  #deathReason = '';
  #disposing?: Promise<void>;
  /** Aborted by dispose(): kills the process group of every command still running in the lab (e.g. a stopped one). */
  readonly #stop = new AbortController();
  readonly #prefix: (target: string) => string[];
  /** The lab runner (src/spawner.ts, startLabRunner), started with the first command; undefined: by nsenter. */
  #runner?: Promise<Spawner | undefined>;
  readonly #runnerConfig: { pid: number; userns: boolean; mapped: boolean; nproc?: number; cwd: string };

  private constructor(
    readonly child: ChildProcess,
    /** The lab's PID 1, as this machine sees it. */
    readonly pid: number,
    readonly userns: boolean,
    readonly exited: Promise<void>,
    readonly bounds: LabBounds,
    /** The lab's ids are mapped to LAB_ID_BASE… (a root lab on a machine whose user namespace has them). */
    mapped: boolean,
  ) {
    setMaxListeners(Infinity, this.#stop.signal); // one listener per command in flight
    // what the nsenter prefix below enters, and the prlimit in front of it, for the runner to do once
    this.#runnerConfig = { pid, userns, mapped, ...(userns ? { nproc: bounds.maxProcesses } : {}), cwd: process.cwd() };
    const base = [
      // every command of a user-namespace lab counts against the lab's process bound (RLIMIT_NPROC binds the lab's
      // root, a uid of the lab's own user namespace; inherited from here through nsenter)
      ...(userns ? ['prlimit', `--nproc=${bounds.maxProcesses}`, '--'] : []),
      'nsenter',
      // a root lab with mapped ids: nsenter becomes the lab's root, the machine's LAB_ID_BASE (setgroups allowed: the maps were
      // written by the machine's root); a non-root user's lab: our uid is already root there (--map-root-user), and
      // setgroups is denied
      ...(userns ? [`--user=/proc/${pid}/ns/user`, ...(mapped ? [] : ['--preserve-credentials'])] : []),
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
    const { argv, staged, mapped } = lifelineArgv(options);
    // its stdin pipe is this process's own: a kept lab hands it to a keeper (keep.ts)
    const child = spawnLongLived(argv, {}, { ownPipes: true });
    let stderr = '';
    child.stderr?.setEncoding('utf8').on('data', (d: string) => {
      if (stderr.length < 4096) stderr += d;
    });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.once('error', () => undefined);
    let labPid = staged ? 0 : child.pid!;
    const ready = await new Promise<boolean | Error>((resolve) => {
      let out = '';
      const timer = setTimeout(() => resolve(false), options.startTimeoutMs);
      child.stdout?.setEncoding('utf8').on('data', (d: string) => {
        out += d;
        if (out.includes('ready\n')) {
          // a staged lab's PID 1 is the child of `unshare`, and says its pid first
          const reported = /^pid (\d+)$/m.exec(out)?.[1];
          // never unshare's own pid: its namespaces are the machine's
          if (staged) labPid = reported ? Number(reported) : (stagedPid(child.pid!) ?? 0);
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
    if (ready === true && labPid === 0) {
      child.kill('SIGKILL');
      await exited;
      throw new NetspecError(`the lab's PID 1 could not be found (no child of its unshare, pid ${child.pid}, in /proc/${child.pid}/task/${child.pid}/children); no lab was made`);
    }
    if (ready !== true) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
      throw startError(ready, stderr, userns, root, options.startTimeoutMs);
    }
    const lifeline = new Lifeline(child, labPid, userns, exited, options.bounds, mapped);
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

  /**
   * Run an argv in the lab's host or one of its namespaces, `where` naming it in errors (see Lab.run). A failure after
   * the lab went away is a LabGoneError naming `label`; in a namespace that is gone, a NotFoundError.
   */
  async run(target: string, argv: readonly string[], options: RunOptions, context: { label: string; where: string; timeoutMs: number }): Promise<RunResult> {
    this.assertAlive(context.label);
    const timeoutMs = options.timeoutMs === undefined ? context.timeoutMs : checkTimeoutMs(options.timeoutMs, 'timeoutMs');
    const runner = await this.#labRunner();
    try {
      const how = { where: context.where, innerTool: argv[0], displayArgv: argv, ...options, timeoutMs, signal: this.signal };
      // in this process's working directory, opened as nsenter's --wd opens it (as this process's user, in the machine's
      // mount namespace): the runner's own, opened so before it became the lab's root; a folder changed to since (a
      // mkdtemp one is closed to the lab's root, and the lab's /run is not the machine's) is entered by nsenter
      if (!runner || process.cwd() !== this.#runnerConfig.cwd) return await run([...this.enter(target), ...argv], how);
      return await runThrough(runner, argv, target === 'host' ? undefined : target, { ...how, equivalent: [...this.enter(target), ...argv] });
    } catch (error) {
      // the runner went away with the command: if the lab did, its PID 1's exit is being reported
      if (runner?.dead) await Promise.race([this.exited, new Promise((r) => setTimeout(r, 500))]);
      this.checkExited();
      if (!this.alive) this.assertAlive(context.label);
      if (target !== 'host' && !this.hasNetns(target)) {
        throw new NotFoundError('network namespace', target, `it was deleted, or never created (namespaces now: ${this.listNetns().join(', ') || 'none'})`);
      }
      throw this.limitError(error, context.label) ?? this.privilegedOnly(error) ?? error;
    } finally {
      this.checkExited();
    }
  }

  /** The lab runner, started on first use and again after it went away while the lab lives; undefined: by nsenter. */
  async #labRunner(): Promise<Spawner | undefined> {
    for (let starts = 0; ; ) {
      const pending = this.#runner;
      const current = pending && (await pending);
      // another call started a new runner while this one waited: that one (one runner a lab; dispose ends only it)
      if (pending !== this.#runner) continue;
      if (current && !current.dead) return current;
      if (pending && !current) return undefined; // it could not start for this lab
      // a runner that went away again as soon as it started: by nsenter for this call (the next one tries again)
      if (this.#state !== 'alive' || starts++ > 0) return undefined;
      this.#runner = startLabRunner(this.#runnerConfig);
    }
  }

  /** Do this lab's commands go through a lab runner (started here if not yet)? */
  async hasRunner(): Promise<boolean> {
    return this.#state === 'alive' && (await this.#labRunner()) !== undefined;
  }

  /** No more commands through the runner: it ends (it would also end with the lab's PID 1). */
  #endRunner(): void {
    void this.#runner?.then((r) => r?.end());
  }

  /**
   * A command's failure that is the lab hitting one of its bounds (what the kernel said: a fork refused, a tmpfs full)
   * as a LabLimitError naming the option; undefined for any other failure.
   */
  limitError(error: unknown, label: string): LabLimitError | undefined {
    if (!(error instanceof CommandError)) return undefined;
    const said = `${error.stderr}\n${error.stdout}`;
    if (this.userns && /\bfork: (?:retry: )?Resource temporarily unavailable|\b(?:can't|Cannot|cannot) fork|failed to execute .*: Resource temporarily unavailable/.test(said)) {
      return new LabLimitError(
        'maxProcesses',
        `${error.intent} in ${error.where} hit ${label}'s bound of ${this.bounds.maxProcesses} processes (a fork was refused: "Resource temporarily unavailable"); the lab's processes live on until it is disposed. Raise it with createLab({ maxProcesses: N }) (or test.scoped({ labOptions: { maxProcesses: N } })) if the test needs more\n${error.message}`,
        { cause: error },
      );
    }
    const run = /(?:^|[\s'"`:])\/(?:var\/)?run(?:\/|\b)/m.test(said);
    // a full-privilege lab shares the machine's /tmp: its "No space left" is the lab's only when it names /run
    if (/No space left on device/.test(said) && (this.userns || run)) {
      const tmp = this.userns && /(?:^|[\s'"`:])\/(?:tmp|var\/tmp|dev\/shm)(?:\/|\b)/m.test(said) && !run;
      const bound = tmp ? 'tmpSizeMb' : 'runSizeMb';
      const where = tmp ? `/tmp (or /dev/shm), ${this.bounds.tmpSizeMb} MiB` : `/run, ${this.bounds.runSizeMb} MiB${this.userns ? ` (or /tmp, ${this.bounds.tmpSizeMb} MiB)` : ''}`;
      return new LabLimitError(
        bound,
        `${error.intent} in ${error.where} filled ${label}'s own ${where}: "No space left on device". The machine's disks are not touched; remove the files, or raise the bound with createLab({ ${bound}: N })\n${error.message}`,
        { cause: error },
      );
    }
    return undefined;
  }

  /**
   * A kernel feature a user-namespace lab does not get (README, "What needs privileged: true"): nft payload rewriting
   * (`tcp dport set 80`) and the `net.ipv6.route.*` sysctls. A PrerequisiteError naming `privileged: true`.
   */
  privilegedOnly(error: unknown): PrerequisiteError | undefined {
    if (!this.userns || !(error instanceof CommandError)) return undefined;
    const said = error.stderr;
    const fix = (what: string) =>
      `${what}; a full-privilege lab has it: createLab({ privileged: true }) (root only; the lab's root is then the machine's, so for code you trust), or test.scoped({ labOptions: { privileged: true } })\n${error.message}`;
    if (/Could not process rule: Operation not permitted/.test(said) && /\sset\s/.test(said)) {
      return new PrerequisiteError('nft payload rewriting (`… set …` on a packet header, e.g. `tcp dport set 80`) in a user-namespace lab', fix('the kernel allows it only to the machine\'s root'), { cause: error });
    }
    const key = /cannot stat \/proc\/sys\/net\/ipv6\/route\/(\S+?):? No such file/.exec(said)?.[1];
    if (key !== undefined) {
      return new PrerequisiteError(`the sysctl net.ipv6.route.${key} in a user-namespace lab`, fix('the kernel shows net.ipv6.route.* only in network namespaces of the machine\'s own user namespace'), { cause: error });
    }
    if (/Invalid uid range/.test(said)) {
      return new PrerequisiteError(
        'a uidrange beyond the ids this lab maps',
        `the kernel accepts a uidrange rule only for user ids the lab's user namespace maps: a lab made by an ordinary user maps one (its root), one made by root maps ${LAB_ID_COUNT} (0-${LAB_ID_COUNT - 1}). Run the tests as root, or keep the range within the ids the lab has (uidrange 0-0 here)\n${error.message}`,
        { cause: error },
      );
    }
    return undefined;
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
    this.#endRunner();
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
      this.#endRunner();
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
