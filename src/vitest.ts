/**
 * `netspec/vitest`: Vitest's `test` with a fresh, private `lab` per test (disposed after it on pass, failure or
 * timeout), and `expect` with netspec's matchers registered.
 */
import { test as base, expect } from 'vitest';
import { createLab, liveLabs, type Lab, type LabOptions } from './lab.js';
import { reportFailure } from './report.js';
import { matchers, type ReachabilityExpectation, type ToHaveArpEntryOptions, type ToHaveLinkOptions, type ToReachOptions, type ToRouteViaOptions, type RouteEntry } from './matchers/index.js';
import type { Netns } from './netns.js';

// Every netspec matcher is async: un-awaited, it would check nothing, so the type is Promise<void> and
// `no-floating-promises` (or tsc with a spec that uses the value) catches a missing `await`.
declare module 'vitest' {
  interface Matchers<T = any> {
    /** Real packets from inside the namespace reach the target (an address, a namespace, or `{ address, port }`). */
    toReach(target: string | Netns | { address: string; port?: number }, options?: ToReachOptions): Promise<void>;
    /** The namespace's neighbour (ARP/ND) table has a resolved entry for the address. */
    toHaveArpEntry(ip: string, options?: ToHaveArpEntryOptions): Promise<void>;
    /** The kernel's route lookup for the destination goes through the gateway (`ip route get`). */
    toRouteVia(destination: string, gateway: string, options?: ToRouteViaOptions): Promise<void>;
    toRouteVia(destination: string, options: ToRouteViaOptions): Promise<void>;
    /** The namespace has the address (with prefix when given as CIDR). */
    toHaveAddress(cidr: string, options?: { dev?: string }): Promise<void>;
    /** The namespace has the link, optionally in a state, enslaved to a master, of a type. */
    toHaveLink(name: string, options?: ToHaveLinkOptions): Promise<void>;
    /** IP forwarding is on in the namespace. */
    toForward(options?: { ipv6?: boolean }): Promise<void>;
    /** The routing table has the entry (as opposed to what a lookup picks). */
    toHaveRouteEntry(entry: RouteEntry): Promise<void>;
    /** On a lab: every pair ('all') or the given pairs reach (true) or do not (false); one fping per source. */
    toHaveReachability(expected: ReachabilityExpectation, options?: { timeout?: number }): Promise<void>;
  }
}

expect.extend(matchers as unknown as Parameters<typeof expect.extend>[0]);

/**
 * A Vitest worker whose main process died (SIGKILL, say) would run on, its labs with it, until it noticed on its own.
 * Watch the parent: when this process is re-parented (the parent is gone), end the live labs and exit. The IPC channel
 * of a forks-pool worker closing is the early sign; the check runs every 500 ms anyway (any pool, unref'd).
 */
function watchParent(): void {
  const key = Symbol.for('netspec.watchParent');
  const g = globalThis as { [key]?: boolean };
  if (g[key] || !process.env.VITEST) return;
  g[key] = true;
  const parent = process.ppid;
  let ending = false;
  const check = () => {
    if (ending || process.ppid === parent) return;
    ending = true;
    clearInterval(timer);
    const labs = liveLabs();
    try {
      process.stderr.write(`netspec: Vitest's main process (pid ${parent}) is gone; ending ${labs.length} live lab(s) and this worker (pid ${process.pid})\n`);
    } catch {
      /* nobody reads stderr any more */
    }
    const force = setTimeout(() => process.exit(1), 2_000);
    force.unref();
    void Promise.allSettled(labs.map((lab) => lab.dispose())).finally(() => process.exit(1));
  };
  const timer = setInterval(check, 500);
  timer.unref();
  // the channel closes as the parent dies; re-parenting follows a moment later
  process.once('disconnect', () => {
    for (const ms of [20, 100, 250]) setTimeout(check, ms).unref();
  });
}
watchParent();

export interface NetspecFixtures {
  /** A fresh, private network lab for this test; the kernel frees everything in it when the test ends. */
  lab: Lab;
  /** Options for the `lab` fixture; override with `test.scoped({ labOptions: {...} })` or `test.extend`. */
  labOptions: LabOptions;
}

export const test = base.extend<NetspecFixtures>({
  labOptions: [{}, { injected: true }],
  lab: async ({ labOptions, task, annotate }, use) => {
    const lab = await createLab(labOptions);
    lab.test = { name: task.name, annotate: (message, type, attachment) => annotate(message, type, attachment) };
    let kept = false;
    try {
      await use(lab);
    } finally {
      if (task.result?.state === 'fail' && lab.alive) {
        lab.test.annotate = undefined; // the test has ended: Vitest takes no more annotations
        try {
          if (!lab.reported) {
            const report = await reportFailure(lab);
            if (report) process.stderr.write(`\nnetspec: the lab of the failed test "${task.name}":\n  state: ${report.files.dump}\n  picture: ${report.files.svg}\n${report.dump}\n`);
          }
          if (process.env.NETSPEC_KEEP === '1') {
            const k = lab.keep(task.name);
            kept = true;
            process.stderr.write(`\nnetspec: kept the lab of "${task.name}" (NETSPEC_KEEP=1)\n  open a shell inside it: ${k.enter}\n  end it:                 ${k.end}\n`);
          }
        } catch (error) {
          process.stderr.write(`netspec: could not report on the failed lab: ${error instanceof Error ? error.message : String(error)}\n`);
        }
      }
      if (!kept) await lab.dispose();
    }
  },
});

export const it = test;
export { expect };
export { describe, beforeAll, afterAll, beforeEach, afterEach, vi } from 'vitest';
export type { Lab } from './lab.js';
