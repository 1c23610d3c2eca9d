/**
 * Temporary folders for specs: removed when the spec file that made them ends (specs/helpers/temp-cleanup.ts, a setup
 * file of every project, registers the file's `afterAll`), or at the worker's exit.
 *
 * Not per test through Vitest's global `onTestFinished`: the tests of a file run concurrently (vitest.config.ts), and
 * the global hook attaches to whichever test started last, so a folder went with a test that finished earlier, under
 * the feet of the one still using it (a Docker engine's data root, a JUnit report, a topology file's scripts).
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { dirSync, setGracefulCleanup } from 'tmp-promise';

setGracefulCleanup();

const made = new Set<string>();
let exitHook = false;

function keep(dir: string): string {
  made.add(dir);
  if (!exitHook) {
    exitHook = true;
    process.once('exit', removeTempDirs);
  }
  return dir;
}

/** Removes every folder tempDir and labDir made in this process so far. */
export function removeTempDirs(): void {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
  made.clear();
}

export function tempDir(prefix: string): string {
  return keep(dirSync({ prefix, unsafeCleanup: true }).name);
}

/**
 * A temporary folder a lab's scripts can read and write on the machine: in the working directory (a lab's /tmp keeps
 * its writes to itself) and open to others (the lab's root is an ordinary user to the machine). Removed like tempDir's.
 */
export function labDir(prefix: string): string {
  const dir = mkdtempSync(join(process.cwd(), `.${prefix}`));
  chmodSync(dir, 0o777);
  return keep(dir);
}
