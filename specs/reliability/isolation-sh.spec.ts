/**
 * The same isolation checks as isolation.spec.ts, for labs whose lifeline runs under the plain `sh` with the machine's
 * util-linux and iproute2 (a machine without busybox): the lifeline script is the same, but `-o rbind,ro` is done by
 * util-linux's mount instead of busybox's bind + read-only remount (src/lab/lifeline-argv.ts).
 */
import { expect, test } from 'vitest';
import { lifelineTools } from '../../src/lab/lifeline-argv.js';

// spec files run in processes of their own (pool: forks), so this does not reach other files
process.env.NETSPEC_LIFELINE_SHELL = 'sh';

test('labs in this file run their lifeline under plain sh', () => {
  const tools = lifelineTools();
  expect(tools.shell).toHaveLength(1);
  expect(tools.shell[0]).toMatch(/\/sh$/);
  expect(tools.unshare).toMatch(/^\/.*\/unshare$/);
});

await import('./isolation.spec.js');
