// Issue 16: `netspec/matchers` imported alone (no netspec/vitest) carries its type augmentation of Vitest's expect.
// Each file under specs/types/alone is compiled as a program of its own, so nothing else brings the types in.
import { expect, test, vi } from 'vitest';
import { runProcess } from '../helpers/process.js';

vi.setConfig({ testTimeout: 90_000 });

const tsc = (project: string) => runProcess([process.execPath, 'node_modules/typescript/bin/tsc', '-p', `specs/types/alone/tsconfig.${project}.json`]);

test('netspec/matchers alone types toReach, toHaveRouteEntry and toHaveReachability on expect', async () => {
  const { code, out } = await tsc('uses-matchers');
  expect(out).toBe('');
  expect(code).toBe(0);
});

test('without it, the same program has no such matchers (the check above can fail)', async () => {
  const { code, out } = await tsc('no-import');
  expect(out).toMatch(/no-import\.ts\(9,21\): error TS2339: Property 'toHaveReachability' does not exist on type 'Assertion<Lab>'/);
  expect(code).toBe(2);
});
