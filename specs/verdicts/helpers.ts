/** Helpers of the verdict specs: a target that answers late, and busy loops that saturate the CPU. */
import { spawn, type ChildProcess } from 'node:child_process';
import { cpus } from 'node:os';
import type { Lab, Netns } from '../../src/index.js';
import { repoRoot } from '../helpers/process.js';

/**
 * Make `ns` answer ICMP/ICMPv6 echo requests `lo`..`hi` ms late (this kernel has no netem): the kernel's own echo is
 * turned off and a user-space responder (specs/helpers/slow-echo.py) answers instead (and UDP datagrams to `udpPort`,
 * as late). Resolves once it listens; the
 * responder ends with `stop()`, with this process, or with the lab.
 */
export async function slowEcho(lab: Lab, ns: Netns, lo: number, hi = lo, udpPort?: number): Promise<{ stop(): void }> {
  await ns.exec('sysctl', ['-w', 'net.ipv4.icmp_echo_ignore_all=1', 'net.ipv6.icmp.echo_ignore_all=1']);
  const [file, ...args] = lab.enter(ns.name);
  const child: ChildProcess = spawn(file!, [...args, 'python3', `${repoRoot}specs/helpers/slow-echo.py`, String(lo), String(hi), ...(udpPort ? [String(udpPort)] : [])], { stdio: ['pipe', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`slow-echo.py exited with ${code} before it listened`)));
  });
  return { stop: () => child.stdin!.end() };
}

/** One busy loop per core, each its own process (ended by PID in `stop`). */
export function saturate(): { stop(): void } {
  const loops = cpus().map(() => spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }));
  return {
    stop: () => {
      for (const l of loops) if (l.pid && l.exitCode === null) process.kill(l.pid, 'SIGKILL');
    },
  };
}

/** An assertion's outcome as one word: passed, failed (an assertion error) or threw (any other error). */
export async function outcomeOf(assertion: Promise<unknown>): Promise<'passed' | 'failed' | { threw: Error }> {
  try {
    await assertion;
    return 'passed';
  } catch (error) {
    if (error instanceof Error && (error.name === 'AssertionError' || /^expect\(/.test(error.message))) return 'failed';
    return { threw: error as Error };
  }
}
