/** Temporary folders for specs: removed when the test that made one finishes (or, outside a test, at exit). */
import { rmSync } from 'node:fs';
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
