/** Temporary folders for specs: removed when the test that made one finishes (or, outside a test, at exit). */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { onTestFinished } from 'vitest';
import { dirSync, setGracefulCleanup } from 'tmp-promise';

setGracefulCleanup();

export function tempDir(prefix: string): string {
  const dir = dirSync({ prefix, unsafeCleanup: true }).name;
  try {
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  } catch {
    /* not inside a test: the graceful cleanup at exit removes it */
  }
  return dir;
}

/**
 * A temporary folder a lab's scripts can read and write on the machine: in the working directory (a lab's /tmp keeps
 * its writes to itself) and open to others (the lab's root is an ordinary user to the machine). Removed like tempDir's.
 */
export function labDir(prefix: string): string {
  const dir = mkdtempSync(join(process.cwd(), `.${prefix}`));
  chmodSync(dir, 0o777);
  try {
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  } catch {
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  }
  return dir;
}
