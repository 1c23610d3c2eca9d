/**
 * The one place where netspec starts processes. Every command is an argument array (never a shell string built from
 * input); a failure becomes a CommandError that says what we were doing, the argv, where it ran, the exit code and stderr.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { CommandError, PrerequisiteError } from './errors.js';

/** Which Debian package provides each tool we run. */
export const TOOL_PACKAGES: Readonly<Record<string, string>> = {
  ip: 'iproute2',
  bridge: 'iproute2',
  ss: 'iproute2',
  iptables: 'iptables',
  'iptables-save': 'iptables',
  'iptables-restore': 'iptables',
  ip6tables: 'iptables',
  nft: 'nftables',
  ping: 'iputils-ping',
  fping: 'fping',
  unshare: 'util-linux',
  nsenter: 'util-linux',
  sysctl: 'procps',
  brctl: 'bridge-utils',
  socat: 'socat',
  bash: 'bash',
  sh: 'dash',
  cat: 'coreutils',
};

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

export interface RunOptions {
  /** What we were doing, for the error message: "add address 192.168.15.1/24 to veth-red". */
  intent: string;
  /** Where it ran, for the error message: "lab 3 namespace red". */
  where?: string;
  /** Written to stdin. */
  input?: string;
  /** Kill after this many ms. */
  timeoutMs?: number;
  /** Resolve instead of throwing on a non-zero exit. */
  reject?: boolean;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** argv[0] of the command the user asked for when argv starts with a wrapper (nsenter): reported when missing. */
  innerTool?: string;
  /** The argv to show in errors (the command inside the lab, without the nsenter in front of it). */
  displayArgv?: readonly string[];
}

export interface RunResult {
  readonly argv: readonly string[];
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly signal?: string;
  readonly timedOut: boolean;
  readonly durationMs: number;
}

/**
 * Run `argv` (no shell) and collect its output. Plain `child_process.spawn`: measured here, execa cost about 2 ms more
 * per process and five times the memory, and a lab build runs one process per namespace.
 */
export async function run(argv: readonly string[], options: RunOptions): Promise<RunResult> {
  const [file, ...args] = argv;
  if (!file) throw new TypeError('run: empty argv');
  const started = performance.now();
  const where = options.where ?? 'the machine';
  const result = await new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string; timedOut: boolean; error?: NodeJS.ErrnoException }>((resolve) => {
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    let settled = false;
    const child = spawn(file, args, {
      cwd: options.cwd,
      env: { ...process.env, LC_ALL: 'C', ...options.env },
      stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    const timer =
      options.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            child.kill('SIGTERM');
          }, options.timeoutMs);
    const finish = (code: number | null, signal: NodeJS.Signals | null, error?: NodeJS.ErrnoException) => {
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, timedOut, error });
    };
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.once('error', (error: NodeJS.ErrnoException) => finish(null, null, error));
    child.once('close', (code, signal) => finish(code, signal));
    if (options.input !== undefined) {
      child.stdin!.on('error', () => undefined); // the command may exit without reading all of it
      child.stdin!.end(options.input);
    }
  });
  if (result.error) {
    if (result.error.code === 'ENOENT') throw new PrerequisiteError(`the \`${file}\` command`, installHint(file), { cause: result.error });
    throw new CommandError(options.intent, options.displayArgv ?? argv, where, undefined, String(result.error.message), '', { cause: result.error });
  }
  const out: RunResult = {
    argv,
    exitCode: result.code ?? -1,
    stdout: result.stdout,
    stderr: result.stderr,
    signal: result.signal ?? undefined,
    timedOut: result.timedOut,
    durationMs: performance.now() - started,
  };
  const inner = options.innerTool;
  if (inner && out.exitCode !== 0 && /failed to execute .*: No such file or directory/.test(out.stderr)) {
    throw new PrerequisiteError(`the \`${inner}\` command`, installHint(inner));
  }
  if (out.exitCode !== 0 && options.reject !== false) {
    throw new CommandError(options.intent, options.displayArgv ?? argv, where, result.code ?? undefined, out.stderr, out.stdout, {
      signal: out.signal,
      timedOut: out.timedOut,
    });
  }
  return out;
}

/** Start a long-lived process whose life is tied to ours through its stdin pipe (the lab's lifeline). */
export function startLifeline(argv: readonly string[], options: SpawnOptions = {}): ChildProcess {
  const [file, ...args] = argv;
  if (!file) throw new TypeError('startLifeline: empty argv');
  return spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C' }, ...options });
}

/** A `child_process.spawn` look-alike that puts `prefix` (e.g. an nsenter argv) in front of every command: for zx. */
export function prefixedSpawn(prefix: readonly string[]): typeof spawn {
  return ((command: string, args?: readonly string[] | SpawnOptions, options?: SpawnOptions) => {
    const argList = Array.isArray(args) ? (args as readonly string[]) : [];
    const opts = (Array.isArray(args) ? options : (args as SpawnOptions | undefined)) ?? {};
    // zx passes the whole command line with `shell` set: run that shell ourselves, behind the prefix
    const shell = opts.shell === true ? '/bin/sh' : typeof opts.shell === 'string' ? opts.shell : undefined;
    const argv = shell ? [...prefix, shell, '-c', command, ...argList] : [...prefix, command, ...argList];
    const [file, ...rest] = argv;
    return spawn(file!, rest, { ...opts, shell: false });
  }) as typeof spawn;
}

/** Run an interactive command on this terminal (stdio inherited); resolves with its exit code. */
export function runInteractive(argv: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<number> {
  const [file, ...args] = argv;
  if (!file) throw new TypeError('runInteractive: empty argv');
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: 'inherit', env: { ...process.env, ...env } });
    child.once('error', reject);
    child.once('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
}
