// lab.script(path) runs the file at `path`, always: `bash -- PATH ARGS`, so a path that looks like an option of bash
// (a file named `-c`) is still the script, and a path that is not a regular file is refused before anything runs.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test } from '../../src/vitest.js';
import { InvalidInputError } from '../../src/index.js';
import { labDir } from '../helpers/temp.js';

/** A watchdog: a call that hangs fails the test in `ms` instead of at the test timeout. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms (hung)`)), ms);
  });
  return Promise.race([promise, hung]).finally(() => clearTimeout(timer));
}

/** Run `fn` with `dir` as the current directory (labs enter it too: relative script paths are relative to it). */
async function inDir<T>(dir: string, fn: () => Promise<T>): Promise<T> {
  const before = process.cwd();
  process.chdir(dir);
  try {
    return await fn();
  } finally {
    process.chdir(before);
  }
}

test("lab.script('-c', ['touch …']) runs the file named -c, not `bash -c 'touch …'`", async ({ lab }) => {
  const dir = labDir('netspec-exec-script-');
  const pwned = join(dir, 'pwned');
  writeFileSync(join(dir, '-c'), 'echo "the file -c ran with: $1"\n');
  const r = await inDir(dir, () => within(lab.script('-c', [`touch ${pwned}`]), 10_000, 'lab.script'));
  expect(r.stdout).toBe(`the file -c ran with: touch ${pwned}\n`);
  expect(existsSync(pwned)).toBe(false);
});

test('other option-like names are the script too: --version, -', async ({ lab }) => {
  const dir = labDir('netspec-exec-script-');
  writeFileSync(join(dir, '--version'), 'echo file --version\n');
  writeFileSync(join(dir, '-'), 'echo file -\n');
  await inDir(dir, async () => {
    expect((await within(lab.script('--version'), 10_000, 'lab.script')).stdout).toBe('file --version\n');
    expect((await within(lab.script('-'), 10_000, 'lab.script')).stdout).toBe('file -\n');
  });
});

test('a path that is not a regular file, or missing, or bad arguments: InvalidInputError, and nothing runs', async ({ lab }) => {
  const dir = labDir('netspec-exec-script-');
  mkdirSync(join(dir, 'a-directory'));
  const marker = join(dir, 'ran');
  await expect(lab.script(join(dir, 'a-directory'))).rejects.toThrow(InvalidInputError);
  await expect(lab.script(join(dir, 'a-directory'))).rejects.toThrow(/invalid script path ".*a-directory": not a regular file/);
  await expect(lab.script(join(dir, 'missing.sh'))).rejects.toThrow(/invalid script path ".*missing\.sh": no such file/);
  await expect(lab.script('')).rejects.toThrow(InvalidInputError);
  writeFileSync(join(dir, 'ok.sh'), `touch ${marker}\n`);
  await expect(lab.script(join(dir, 'ok.sh'), ['a\0b'])).rejects.toThrow(/invalid script arguments/);
  await expect(lab.script(join(dir, 'ok.sh'), 'x' as unknown as string[])).rejects.toThrow(/invalid script arguments/);
  expect(existsSync(marker)).toBe(false);
  // the lab is still usable, and the same script with good arguments runs
  await within(lab.script(join(dir, 'ok.sh'), ['fine']), 10_000, 'lab.script');
  expect(existsSync(marker)).toBe(true);
});
