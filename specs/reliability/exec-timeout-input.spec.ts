// Lab command timeouts must be finite: Node turns a timer longer than 2^31-1 ms (or Infinity) into 1 ms, which would
// kill every command at once. Such values are refused with an InvalidInputError before anything starts.
import { expect, test } from '../../src/vitest.js';
import { createLab, InvalidInputError, liveLabs } from '../../src/index.js';
import { MAX_TIMEOUT_MS } from '../../src/exec.js';

/** A watchdog: a call that hangs fails the test in `ms` instead of at the test timeout. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms (hung)`)), ms);
  });
  return Promise.race([promise, hung]).finally(() => clearTimeout(timer));
}

const BAD = [Infinity, -Infinity, NaN, 2 ** 31, 1e12, 0, -5, '1000'] as const;

test.each(BAD.map((v) => [String(v), v] as const))('createLab({ commandTimeoutMs: %s }) is refused, and no lab is started', async (_, value) => {
  const before = liveLabs().length;
  const error = await within(createLab({ commandTimeoutMs: value as number }).catch((e: unknown) => e), 10_000, 'createLab');
  expect(error).toBeInstanceOf(InvalidInputError);
  expect((error as Error).message).toMatch(/invalid lab option commandTimeoutMs .*: expected a finite number of milliseconds > 0 and at most 2147483647/);
  expect(liveLabs().length).toBe(before);
});

test.each(BAD.map((v) => [String(v), v] as const))('exec(…, { timeoutMs: %s }) is refused', async (_, value) => {
  await using lab = await createLab();
  const error = await within(lab.host.exec('true', [], { timeoutMs: value as number }).catch((e: unknown) => e), 10_000, 'exec');
  expect(error).toBeInstanceOf(InvalidInputError);
  expect((error as Error).message).toMatch(/invalid timeoutMs .*: expected a finite number of milliseconds > 0 and at most 2147483647/);
});

test('the longest timer Node keeps (2^31-1 ms) is a real deadline: commands run to the end, as with the default', async () => {
  await using lab = await createLab({ commandTimeoutMs: MAX_TIMEOUT_MS });
  // with a timer that overflowed to 1 ms, these would be killed at once
  const a = await within(lab.host.exec('sh', ['-c', 'sleep 0.2; echo ok']), 10_000, 'exec');
  expect(a.stdout).toBe('ok\n');
  const b = await within(lab.host.exec('sh', ['-c', 'sleep 0.2; echo ok'], { timeoutMs: MAX_TIMEOUT_MS }), 10_000, 'exec');
  expect(b).toMatchObject({ stdout: 'ok\n', timedOut: false, exitCode: 0 });
});
