/**
 * The one place where netspec starts processes. Every command is an argument array (never a shell string built from
 * input); a failure becomes a CommandError that says what we were doing, the argv, where it ran, the exit code and stderr.
 *
 * Longer than 300 lines on purpose: every way a process starts (run, the zx spawn, long-lived raw pipes, interactive)
 * shares the deadline, process-group, output-cap and settle-on-exit rules below, and they are kept next to each other so
 * that no path to the kernel can miss one.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { accessSync, constants, readdirSync, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { execa } from 'execa';
import { CommandError, InvalidInputError, PrerequisiteError } from './errors.js';
import toolPackages from './tool-packages.json' with { type: 'json' };
import { SpawnedChild, spawner, type SpawnedEvents, type Spawner } from './spawner.js';

/** Which Debian package provides each tool we run (src/tool-packages.json, which .ci/ensure-deps.mjs reads too). */
export const TOOL_PACKAGES: Readonly<Record<string, string>> = toolPackages.tools;

export function installHint(tool: string): string {
  const pkg = TOOL_PACKAGES[tool];
  return pkg ? `install it with \`apt-get install ${pkg}\` (Debian/Ubuntu package ${pkg})` : `install \`${tool}\` and make sure it is on PATH`;
}

const found = new Map<string, string | undefined>();

/** Where `tool` is on PATH (cached per process), or undefined. */
export function which(tool: string, path = process.env.PATH ?? ''): string | undefined {
  const key = `${tool}\0${path}`;
  if (found.has(key)) return found.get(key);
  let hit: string | undefined;
  for (const dir of path.split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, tool);
    try {
      accessSync(candidate, constants.X_OK);
      hit = candidate;
      break;
    } catch {
      /* not here */
    }
  }
  found.set(key, hit);
  return hit;
}

/** Throws a PrerequisiteError naming the Debian package for the first missing tool. */
export function requireTools(tools: readonly string[]): void {
  for (const tool of tools) {
    if (!which(tool)) throw new PrerequisiteError(`the \`${tool}\` command`, installHint(tool));
  }
}

/** Output cap per stream of one command: past it the command is stopped and a CommandError names the cap. */
export const MAX_OUTPUT_BYTES = 16 * 1024 * 1024;
/** After a timeout's SIGTERM, how long a command (and everything it started) gets before SIGKILL. */
export const KILL_GRACE_MS = 1_000;
/** The largest timer Node keeps (2^31-1 ms, about 24.8 days); longer ones silently become 1 ms. */
export const MAX_TIMEOUT_MS = 2 ** 31 - 1;
/** After the command exits, how long its output pipes may stay quiet before we stop reading them (see settleOnExit). */
const DRAIN_IDLE_MS = 50;
/** …and the most we read from them after the exit (a background process that keeps writing). */
const DRAIN_MAX_MS = 1_000;

/** A timeout in ms, or an InvalidInputError naming `input`: finite, > 0 and at most 2^31-1 (Node's timer limit). */
export function checkTimeoutMs(value: unknown, input: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || !(value > 0) || value > MAX_TIMEOUT_MS) {
    throw new InvalidInputError(
      input,
      typeof value === 'number' && !Number.isFinite(value) ? String(value) : value,
      `expected a finite number of milliseconds > 0 and at most ${MAX_TIMEOUT_MS} (about 24.8 days, Node's longest timer); a command cannot run without a deadline`,
    );
  }
  return value;
}

export interface RunOptions {
  /** What we were doing, for the error message: "add address 192.168.15.1/24 to veth-red". */
  intent: string;
  /** Where it ran, for the error message: "lab 3 namespace red". */
  where?: string;
  /** Written to stdin. */
  input?: string;
  /**
   * Deadline in ms (finite, at most 2^31-1). When it passes, the command is stopped with everything it started in its
   * process group (inside the lab too): SIGTERM (with SIGCONT, for stopped ones), SIGKILL KILL_GRACE_MS later; the call
   * returns once they are gone.
   */
  timeoutMs?: number;
  /** Resolve instead of throwing on a non-zero exit. */
  reject?: boolean;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /**
   * argv[0] of the command the user asked for when argv starts with a wrapper (nsenter): reported when missing. An
   * `nsenter --pid=…` waits for its command and exits with it, so on a timeout the command is signalled and the
   * nsenter only woken (SIGCONT): it then reaps the command. Killing the nsenter first would orphan the command to the
   * machine's init, outside the lab, which then holds the lab's PID namespace open until it reaps it.
   */
  innerTool?: string;
  /** The argv to show in errors (the command inside the lab, without the nsenter in front of it). */
  displayArgv?: readonly string[];
  /** When aborted (the lab is being disposed), the command's process group is killed and the call throws. */
  signal?: AbortSignal;
}

export interface RunResult {
  readonly argv: readonly string[];
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly signal?: string;
  readonly timedOut: boolean;
  readonly durationMs: number;
  /** The whole command line as run (execa's escaped form, the nsenter in front included). */
  readonly command?: string;
}

/**
 * Run `argv` (no shell) with execa and collect its output.
 *
 * - Each command leads a process group of its own (`detached`), which the command inside a lab inherits through the
 *   nsenter in front of it: a timeout, an output past MAX_OUTPUT_BYTES or an aborted `signal` stops the whole group,
 *   not just the nsenter (killing only the nsenter leaves the command inside the lab running, holding the pipes).
 * - The call settles when the command exits, even if something it left running in the background still holds its
 *   output pipes (a set-up script that starts a server): see settleOnExit.
 */
export async function run(argv: readonly string[], options: RunOptions): Promise<RunResult> {
  const [file, ...args] = argv;
  if (!file) throw new TypeError('run: empty argv');
  if (options.timeoutMs !== undefined) checkTimeoutMs(options.timeoutMs, 'timeoutMs');
  const where = options.where ?? 'the machine';
  const display = options.displayArgv ?? argv;
  if (options.signal?.aborted) throw aborted(options, display, where, '', '');
  const wrapped = waitsForItsCommand(argv);
  let group: ProcessGroup | undefined;
  let stopping: Promise<void> | undefined;
  const stop = (graceMs: number) => (stopping ??= group?.stop(graceMs));
  // a short command through the spawner (src/spawner.ts: no fork of this big process); execa where it cannot run
  const via = spawner();
  if (via) return runViaSpawner(via, argv, options, where, display, wrapped, {});
  // set before execa's own timer (same delay: it fires first), so that the command is signalled before execa wakes
  // the wrapper, which would otherwise let a stopped command go on
  const timer = options.timeoutMs === undefined ? undefined : setTimeout(() => stop(KILL_GRACE_MS), options.timeoutMs);
  const subprocess = execa(file, args, {
    cwd: options.cwd,
    env: { LC_ALL: 'C', ...options.env },
    ...(options.input === undefined ? { stdin: 'ignore' as const } : { input: options.input }),
    encoding: 'utf8',
    stripFinalNewline: false,
    reject: false,
    detached: true,
    maxBuffer: MAX_OUTPUT_BYTES,
    // execa's timeout marks the result timed out and signals the process it started; the ProcessGroup stops the command
    // and everything in its group. A wrapper (nsenter) gets SIGCONT (it stops itself when its command stops, and must
    // live to reap it), and SIGKILL if it is somehow still there a second after the command's SIGKILL.
    timeout: options.timeoutMs,
    killSignal: wrapped ? 'SIGCONT' : 'SIGTERM',
    forceKillAfterDelay: KILL_GRACE_MS + (wrapped ? 1_000 : 0),
  });
  if (subprocess.pid !== undefined) group = new ProcessGroup(subprocess.pid, wrapped);
  settleOnExit(subprocess);
  const onAbort = () => stop(0);
  options.signal?.addEventListener('abort', onAbort, { once: true });
  // execa destroys a stream whose output passed maxBuffer: stop the command then, not when it next writes (it may not)
  for (const stream of [subprocess.stdout, subprocess.stderr]) {
    stream?.once('close', () => {
      if (!stream.readableEnded && subprocess.exitCode === null && subprocess.signalCode === null) stop(KILL_GRACE_MS);
    });
  }
  const r = await subprocess;
  if (timer) clearTimeout(timer);
  options.signal?.removeEventListener('abort', onAbort);
  const timedOut = r.timedOut || (stopping !== undefined && !options.signal?.aborted);
  // an output past the cap: stop what is left of it too; either way return once the command and its group are gone
  if (r.isMaxBuffer) stop(KILL_GRACE_MS);
  await stopping;
  const stdout = typeof r.stdout === 'string' ? r.stdout : '';
  const stderr = typeof r.stderr === 'string' ? r.stderr : '';
  if (options.signal?.aborted) throw aborted(options, display, where, stdout, stderr);
  if (r.failed && r.exitCode === undefined && r.signal === undefined && !timedOut && !r.isMaxBuffer) {
    // it never started
    const cause = r.cause as NodeJS.ErrnoException | undefined;
    if (r.code === 'ENOENT' || cause?.code === 'ENOENT') throw new PrerequisiteError(`the \`${file}\` command`, installHint(file), { cause });
    throw new CommandError(options.intent, display, where, undefined, String(cause?.message ?? r.shortMessage), '', { cause, commandLine: r.escapedCommand });
  }
  return finish(argv, options, display, where, {
    exitCode: r.exitCode,
    stdout,
    stderr,
    signal: r.signal ?? undefined,
    timedOut,
    durationMs: r.durationMs,
    command: r.escapedCommand,
    isMaxBuffer: r.isMaxBuffer,
  });
}

interface Outcome {
  exitCode: number | undefined;
  stdout: string;
  stderr: string;
  signal: string | undefined;
  timedOut: boolean;
  durationMs: number;
  command: string;
  isMaxBuffer: boolean;
}

/** The result of a command that ran (either path), or the CommandError / PrerequisiteError it is. */
function finish(argv: readonly string[], options: RunOptions, display: readonly string[], where: string, r: Outcome): RunResult {
  const out: RunResult = {
    argv,
    exitCode: r.exitCode ?? -1,
    stdout: r.stdout,
    stderr: r.stderr,
    signal: r.signal,
    timedOut: r.timedOut,
    durationMs: r.durationMs,
    command: r.command,
  };
  const timedOut = r.timedOut;
  const inner = options.innerTool;
  // a lab's root is an ordinary user to the machine: where a folder on PATH is closed to it (/root/…), a program found
  // nowhere is "Permission denied", not "No such file"; it is missing all the same when the machine has none either
  const failed = inner && out.exitCode !== 0 ? /failed to execute .*: (No such file or directory|Permission denied)/.exec(out.stderr) : null;
  if (inner && failed && (failed[1] !== 'Permission denied' || (!inner.includes('/') && which(inner) === undefined))) {
    throw new PrerequisiteError(`the \`${inner}\` command`, installHint(inner));
  }
  // a capped output is never returned as if complete, even with { reject: false }
  if (r.isMaxBuffer || ((out.exitCode !== 0 || timedOut) && options.reject !== false)) {
    throw new CommandError(options.intent, display, where, r.exitCode, out.stderr, out.stdout, {
      signal: out.signal,
      timedOut,
      timeoutMs: options.timeoutMs,
      maxBuffer: r.isMaxBuffer ? MAX_OUTPUT_BYTES : undefined,
      commandLine: r.command,
    });
  }
  return out;
}

/**
 * The command line as text, for errors only (never run), written as execa writes its `escapedCommand` (so both paths
 * print the same): control characters and separators as \n, \t, \uXXXX; an argument quoted '…' unless it is only
 * word characters, dots, slashes and dashes.
 */
function commandLine(argv: readonly string[]): string {
  const common: Record<string, string> = { ' ': ' ', '\b': '\\b', '\f': '\\f', '\n': '\\n', '\r': '\\r', '\t': '\\t' };
  const escape = (c: string) => common[c] ?? (c.codePointAt(0)! <= 0xffff ? `\\u${c.codePointAt(0)!.toString(16).padStart(4, '0')}` : `\\U${c.codePointAt(0)!.toString(16)}`);
  return argv
    .map((a) => a.replaceAll(/\p{Separator}|\p{Other}/gu, escape))
    .map((a) => (/^[\w./-]+$/.test(a) ? a : `'${a.replaceAll("'", `'\\''`)}'`))
    .join(' ');
}

/**
 * run() through a lab runner (src/spawner.ts, startLabRunner): `argv` is the command itself (no nsenter in front), `ns`
 * the lab's network namespace it runs in (undefined: the lab host). The same deadline, abort, output-cap and
 * process-group rules as run(); the runner reports the machine's pid of each command, which leads its own group.
 */
export async function runThrough(via: Spawner, argv: readonly string[], ns: string | undefined, options: RunOptions & { equivalent?: readonly string[] }): Promise<RunResult> {
  if (!argv[0]) throw new TypeError('run: empty argv');
  if (options.timeoutMs !== undefined) checkTimeoutMs(options.timeoutMs, 'timeoutMs');
  const where = options.where ?? 'the machine';
  const display = options.displayArgv ?? argv;
  if (options.signal?.aborted) throw aborted(options, display, where, '', '');
  return runViaSpawner(via, argv, options, where, display, false, { ns, runner: true, shown: options.equivalent });
}

/**
 * run() through the spawner: the same deadline, abort, output-cap and process-group rules as the execa path (the
 * spawner only starts the command and relays its pipes; stopping it is done here, by pid).
 */
async function runViaSpawner(
  via: NonNullable<ReturnType<typeof spawner>>,
  argv: readonly string[],
  options: RunOptions,
  where: string,
  display: readonly string[],
  wrapped: boolean,
  lab: { ns?: string; runner?: boolean; shown?: readonly string[] },
): Promise<RunResult> {
  // the command line errors and results show: for a lab runner's command, the nsenter line that does the same
  const shown = commandLine(lab.shown ?? argv);
  const started = performance.now();
  const chunks: Record<1 | 2, Buffer[]> = { 1: [], 2: [] };
  const sizes: Record<1 | 2, number> = { 1: 0, 2: 0 };
  let group: ProcessGroup | undefined;
  let pendingStop: number | undefined;
  let stopping: Promise<void> | undefined;
  let isMaxBuffer = false;
  let exit: { code?: number; signal?: string } = {};
  const stop = (graceMs: number) => {
    if (group) stopping ??= group.stop(graceMs);
    else pendingStop = Math.min(pendingStop ?? graceMs, graceMs);
  };
  let timer: NodeJS.Timeout | undefined;
  const onAbort = () => stop(0);
  const settled = await new Promise<{ error?: { code: string; message: string } }>((resolve) => {
    via.start(
      {
        argv,
        // a lab runner works in the folder it was started in (this process's, entered before it became the lab's root)
        cwd: lab.runner ? options.cwd : (options.cwd ?? process.cwd()),
        env: { ...process.env, LC_ALL: 'C', ...options.env },
        input: options.input === undefined ? undefined : Buffer.from(options.input),
        ns: lab.ns,
      },
      {
        onPid(pid) {
          group = new ProcessGroup(pid, wrapped);
          if (pendingStop !== undefined) stop(pendingStop);
        },
        onOutput(fd, chunk) {
          if (isMaxBuffer) return;
          const room = MAX_OUTPUT_BYTES - sizes[fd];
          chunks[fd].push(chunk.length > room ? chunk.subarray(0, room) : chunk);
          sizes[fd] += chunk.length;
          if (sizes[fd] > MAX_OUTPUT_BYTES) {
            isMaxBuffer = true;
            stop(KILL_GRACE_MS);
          }
        },
        onExit(code, signal) {
          exit = { code, signal };
        },
        onDone: () => resolve({}),
        onError: (code, message) => {
          // the spawner went away with the command running: nobody reads its pipes and no deadline holds it any more;
          // stop its group (inside the lab too) before the call throws, as an abort does
          if (group) stop(0);
          resolve({ error: { code, message } });
        },
      },
    );
    if (options.timeoutMs !== undefined) timer = setTimeout(() => stop(KILL_GRACE_MS), options.timeoutMs);
    options.signal?.addEventListener('abort', onAbort, { once: true });
  });
  if (timer) clearTimeout(timer);
  options.signal?.removeEventListener('abort', onAbort);
  await stopping;
  const stdout = Buffer.concat(chunks[1]).toString('utf8');
  const stderr = Buffer.concat(chunks[2]).toString('utf8');
  if (options.signal?.aborted) throw aborted(options, display, where, stdout, stderr);
  const timedOut = !isMaxBuffer && (stopping !== undefined || pendingStop !== undefined) && !options.signal?.aborted;
  if (settled.error?.code === 'ENETNS') {
    // the runner could not enter the namespace: a result as nsenter's was (exit 126, what failed on stderr), which a
    // { reject: false } caller reads (checkRan) and Lifeline turns into a NotFoundError when the namespace is gone
    return finish(argv, options, display, where, { exitCode: 126, stdout, stderr: `netspec: ${settled.error.message}\n`, signal: undefined, timedOut: false, durationMs: performance.now() - started, command: shown, isMaxBuffer: false });
  }
  if (settled.error) {
    const { code, message } = settled.error;
    const cause = Object.assign(new Error(message), { code });
    const tool = argv[0]!;
    // in a lab, a program in a folder closed to the lab's root is "Permission denied": missing if the machine has none
    if (code === 'ENOENT' || (lab.runner && code === 'EACCES' && !tool.includes('/') && which(tool) === undefined)) {
      throw new PrerequisiteError(`the \`${tool}\` command`, installHint(tool), { cause });
    }
    // said as nsenter said it, which Lifeline reads (a fork the lab's process bound refused)
    const said = lab.runner && code !== 'ESPAWNER' && code !== 'ENETNS' ? `failed to execute ${tool}: ${message}` : message;
    throw new CommandError(options.intent, display, where, undefined, said, '', { cause, commandLine: shown });
  }
  return finish(argv, options, display, where, {
    exitCode: exit.code,
    stdout,
    stderr,
    signal: exit.signal,
    timedOut,
    durationMs: performance.now() - started,
    command: shown,
    isMaxBuffer,
  });
}

/**
 * `nsenter --pid=…` forks: it stays as the parent of the command (which runs in the lab's PID namespace), waits for it
 * and exits with it. Without --pid it execs the command, which then leads the group itself.
 */
function waitsForItsCommand(argv: readonly string[]): boolean {
  // a lab's commands start with `prlimit --nproc=N --` (its process bound), which sets the limit and execs nsenter
  if (argv[0] === 'prlimit' || argv[0]?.endsWith('/prlimit')) {
    const end = argv.indexOf('--');
    return end !== -1 && waitsForItsCommand(argv.slice(end + 1));
  }
  if (argv[0] !== 'nsenter' && !argv[0]?.endsWith('/nsenter')) return false;
  const end = argv.indexOf('--');
  return argv.slice(1, end === -1 ? undefined : end).some((a) => a === '-p' || a === '--pid' || a.startsWith('--pid=') || /^-[a-zA-Z]*p/.test(a));
}

function aborted(options: RunOptions, display: readonly string[], where: string, stdout: string, stderr: string): CommandError {
  const reason: unknown = options.signal?.reason;
  return new CommandError(options.intent, display, where, undefined, stderr, stdout, {
    signal: 'SIGKILL',
    cause: reason instanceof Error ? reason : undefined,
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function signalPid(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    /* gone */
  }
}

/**
 * The process group a command leads (it was started `detached`), as this PID namespace sees it. The command inside a
 * lab is in it too: it inherits the group through nsenter's fork, although the lab's PID namespace cannot name it.
 */
class ProcessGroup {
  constructor(
    readonly leader: number,
    /** The leader is a wrapper (nsenter) that waits for its command and exits with it. */
    readonly wrapper: boolean,
  ) {}

  /** Members still running (zombies are gone: they hold nothing). Scans /proc: for the rare stop path only. */
  members(): number[] {
    const hits: number[] = [];
    let entries: string[];
    try {
      entries = readdirSync('/proc');
    } catch {
      return hits;
    }
    for (const entry of entries) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
        // pid (comm) state ppid pgrp …; comm may contain spaces and parentheses
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        if (Number(fields[2]) === this.leader && fields[0] !== 'Z' && fields[0] !== 'X') hits.push(Number(entry));
      } catch {
        /* gone */
      }
    }
    return hits;
  }

  /**
   * Stop every member: SIGTERM (with SIGCONT, so that stopped ones act on it), SIGKILL after `graceMs`; resolves when
   * none runs (at most graceMs + 2 s). A wrapper leader is only woken (SIGCONT) until then: it exits by itself once its
   * command is gone, after reaping it; if it has not a second after the SIGKILLs, it gets one too.
   * Members are signalled by pid, from a fresh /proc scan each round (a pid cannot be reused while it is a member).
   */
  async stop(graceMs: number): Promise<void> {
    const started = Date.now();
    const termed = new Set<number>();
    for (;;) {
      // the leader last: a wrapper woken before its command is signalled would let a stopped command go on
      const live = this.members().sort((a, b) => Number(a === this.leader) - Number(b === this.leader));
      if (live.length === 0) return;
      const elapsed = Date.now() - started;
      if (elapsed > graceMs + 2_000) return;
      // the grace is over: the whole group at once, when no wrapper leads it (one kill(2) of the group: signalled one by
      // one, a child killed before its parent let the parent run its next line first — `trap '' TERM; sleep; echo
      // survived` printed "survived" after its timeout, once in a loaded suite run, by the lab runner's path)
      if (!this.wrapper && elapsed >= graceMs) signalPid(-this.leader, 'SIGKILL');
      for (const pid of live) {
        if (this.wrapper && pid === this.leader) {
          signalPid(pid, elapsed >= graceMs + 1_000 ? 'SIGKILL' : 'SIGCONT');
        } else if (elapsed >= graceMs) {
          signalPid(pid, 'SIGKILL');
        } else if (!termed.has(pid)) {
          termed.add(pid);
          signalPid(pid, 'SIGTERM');
          signalPid(pid, 'SIGCONT');
        }
      }
      await sleep(20);
    }
  }
}

/**
 * Settle a child process when it exits, not when the last holder of its output pipes closes them.
 *
 * A command can leave something running that inherited its stdout/stderr (`sleep 300 &` in a set-up script, a server):
 * those pipes then stay open long after the command is gone, and whoever waits for them to close ('close', execa's
 * result, zx's promise) waits for the background process too. After 'exit', the pipes are read on until they close,
 * or until nothing arrived for DRAIN_IDLE_MS (all the command wrote before it exited is in the pipe by then), at most
 * DRAIN_MAX_MS; then they are destroyed, which settles the child. The background processes live on.
 */
export function settleOnExit(child: ChildProcess): void {
  child.once('exit', () => {
    const open = () => [child.stdout, child.stderr].filter((s): s is NonNullable<typeof s> => !!s && !s.destroyed && !s.readableEnded);
    const bytes = () => open().reduce((n, s) => n + ((s as unknown as { bytesRead?: number }).bytesRead ?? 0), 0);
    const started = Date.now();
    let last = bytes();
    const check = () => {
      // the timer fires before this loop iteration's I/O; check after it (setImmediate), so a busy loop cannot cut output short
      setImmediate(() => {
        const streams = open();
        if (streams.length === 0) return;
        const now = bytes();
        if (now === last || Date.now() - started >= DRAIN_MAX_MS) {
          for (const s of streams) s.destroy();
          return;
        }
        last = now;
        setTimeout(check, DRAIN_IDLE_MS);
      });
    };
    if (open().length > 0) setTimeout(check, DRAIN_IDLE_MS);
  });
}

/**
 * `argv` wrapped so that it runs until its stdin closes (the caller ended it, or died), then is killed: for the
 * long-lived helpers netspec starts in a lab (responders, trace monitors). `argv` stays an argument list ("$@").
 */
export function whileStdinOpen(argv: readonly string[]): string[] {
  return ['sh', '-c', '"$@" & p=$!; read -r _; kill "$p" 2>/dev/null; wait "$p"', 'netspec', ...argv];
}

/**
 * Start a long-lived process with raw pipes (`child_process.spawn`, no execa): the lab's lifeline, a keeper, responders,
 * trace monitors. Each is tied to us through its stdin pipe: when this process ends, the pipe closes and so do they.
 */
export function spawnLongLived(argv: readonly string[], options: SpawnOptions = {}, how: { ownPipes?: boolean } = {}): ChildProcess {
  const [file, ...args] = argv;
  if (!file) throw new TypeError('spawnLongLived: empty argv');
  const env = options.env ?? { ...process.env, LC_ALL: 'C' };
  // through the spawner where it can do what was asked (pipes or nothing on the three standard streams): no fork of
  // this process. `ownPipes`: pipes this process holds itself, to hand on (the lifeline's stdin, to a keeper: keep.ts)
  const stdio = options.stdio ?? ['pipe', 'pipe', 'pipe'];
  const via = how.ownPipes ? undefined : spawner();
  const { stdio: _s, env: _e, cwd, detached, ...rest } = options;
  if (via && Array.isArray(stdio) && stdio.length === 3 && stdio.every((m) => m === 'pipe' || m === 'ignore') && Object.keys(rest).length === 0) {
    return new SpawnedChild(via, { argv, env, cwd: typeof cwd === 'string' ? cwd : process.cwd(), stdio: stdio as ('pipe' | 'ignore')[], session: detached === true }) as unknown as ChildProcess;
  }
  return spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'], env, ...options });
}

/**
 * A `child_process.spawn` look-alike that puts `prefix` (e.g. an nsenter argv) in front of every command: for zx.
 * Raw `spawn` on purpose: zx drives the child process itself. As with run(), each command leads its own process group
 * and settles when it exits (settleOnExit), whatever it left running; aborting `signal` (the lab's dispose) kills the
 * group.
 */
export function prefixedSpawn(prefix: readonly string[], control: { signal?: AbortSignal } = {}): typeof spawn {
  return ((command: string, args?: readonly string[] | SpawnOptions, options?: SpawnOptions) => {
    const argList = Array.isArray(args) ? (args as readonly string[]) : [];
    const opts = (Array.isArray(args) ? options : (args as SpawnOptions | undefined)) ?? {};
    // zx passes the whole command line with `shell` set: run that shell ourselves, behind the prefix
    const shell = opts.shell === true ? '/bin/sh' : typeof opts.shell === 'string' ? opts.shell : undefined;
    const argv = shell ? [...prefix, shell, '-c', command, ...argList] : [...prefix, command, ...argList];
    const [file, ...rest] = argv;
    const child = spawn(file!, rest, { ...opts, shell: false, detached: true });
    settleOnExit(child);
    const signal = control.signal;
    if (signal && child.pid !== undefined) {
      const group = new ProcessGroup(child.pid, true);
      const onAbort = () => void group.stop(0);
      if (signal.aborted) onAbort();
      else {
        signal.addEventListener('abort', onAbort, { once: true });
        child.once('exit', () => signal.removeEventListener('abort', onAbort));
      }
    }
    return child;
  }) as typeof spawn;
}

/** Run an interactive command on this terminal (stdio inherited); resolves with its exit code. */
export async function runInteractive(argv: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<number> {
  const [file, ...args] = argv;
  if (!file) throw new TypeError('runInteractive: empty argv');
  const r = await execa(file, args, { stdio: 'inherit', env, reject: false });
  if (r.exitCode === undefined && r.signal === undefined) {
    const cause = r.cause as NodeJS.ErrnoException | undefined;
    if (r.code === 'ENOENT' || cause?.code === 'ENOENT') throw new PrerequisiteError(`the \`${file}\` command`, installHint(file), { cause });
    throw cause ?? new Error(r.shortMessage);
  }
  return r.exitCode ?? 128;
}
