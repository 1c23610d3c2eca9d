/**
 * Kept labs (NETSPEC_KEEP=1 on a failed test): a detached keeper process takes over the lifeline's pipe, so the lab
 * outlives this process until the keeper is killed (the `end` command) or the machine reboots; `netspec doctor` lists
 * the kept labs still alive.
 */
import { chmodSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NetspecError } from '../errors.js';
import { spawnLongLived } from '../exec.js';
import type { Lifeline } from './lifeline.js';

export interface KeptLab {
  id: string;
  /** The lifeline's pid. */
  pid: number;
  /** The keeper's pid: kill it to end the lab. */
  keeper: number;
  /** The command that opens a shell inside the lab. */
  enter: string;
  /** The argv prefix that enters the lab's host (nsenter …, ending in `--`); `netspec kept shell` uses it. */
  enterArgv?: string[];
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

/**
 * Hand `lifeline` over to a detached keeper and record it; the lifeline is then no longer this process's to dispose.
 * Throws a NetspecError (no keeper left running) when it cannot; the caller disposes the lab as usual then.
 */
export function keepLifeline(lifeline: Lifeline, label: string, id: string, reason: string): KeptLab {
  const stdin = lifeline.child.stdin;
  if (!stdin) throw new NetspecError(`${label} cannot be kept: its lifeline pipe is gone`);
  const dir = ensureKeptDir(); // a folder we cannot use means no keeper is started at all
  const keeper = spawnLongLived(['sleep', 'infinity'], { detached: true, stdio: ['ignore', 'ignore', 'ignore', stdin] });
  keeper.once('error', () => undefined); // reported below, as a missing pid
  try {
    if (keeper.pid === undefined) throw new Error('the keeper process (`sleep infinity`) did not start');
    const enterArgv = lifeline.enter('host').map((a) => (a.startsWith('--wd=') ? '--wd=/' : a));
    const enter = [...enterArgv, 'bash'].join(' ');
    const kept: KeptLab = { id, pid: lifeline.pid, keeper: keeper.pid, enter, enterArgv, end: `kill ${keeper.pid}`, reason, created: new Date().toISOString() };
    // 'wx': a fresh file of ours, never one (or a link) someone put there
    writeFileSync(join(dir, `${kept.id}.json`), JSON.stringify(kept, null, 2), { mode: 0o600, flag: 'wx' });
    keeper.unref();
    lifeline.handOver(); // this process is done with it; the keeper holds it now
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
    throw new NetspecError(`${label} could not be kept: ${error instanceof Error ? error.message : String(error)} (record folder ${dir}); no keeper is left running, and the lab ends as usual`, { cause: error });
  }
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

/** The argv prefix that enters a kept lab's host (its record's; an older record's printed command, split). */
export function keptEnter(kept: KeptLab): string[] {
  if (Array.isArray(kept.enterArgv) && kept.enterArgv.every((a) => typeof a === 'string')) return kept.enterArgv;
  return kept.enter.split(' ').slice(0, -1);
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
