// An adversarial review of the spawner (src/spawner.ts) and runViaSpawner (src/exec.ts). Tests that end a spawner do it
// in a Node process of their own (a small script run with tsx), so that this file never ends its worker's spawner and
// can run beside every other file.
import { readFileSync } from 'node:fs';
import { execa } from 'execa';
import { expect, test, vi } from '../../src/vitest.js';
import { CommandError } from '../../src/index.js';
import { run } from '../../src/exec.js';
import { within } from '../helpers/watchdog.js';
import { pidAlive } from '../helpers/machine.js';

vi.setConfig({ testTimeout: 60_000 });

const root = new URL('../../', import.meta.url).pathname;

/** Run `body` (ES module code with `run`, `spawnerPid` and `sleep` in scope) in a Node process of its own. */
async function script(body: string): Promise<{ exitCode: number | undefined; stdout: string; stderr: string }> {
  const code = [
    `import { run } from '${root}src/exec.ts'; import { spawnerPid } from '${root}src/spawner.ts';`,
    'const sleep = (ms) => new Promise((r) => setTimeout(r, ms));',
    body,
  ].join('\n');
  const r = await execa('node', ['--import', 'tsx', '--input-type=module', '-e', code], { cwd: root, reject: false, timeout: 30_000, env: { NETSPEC_SPAWNER: '' } });
  return { exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr };
}

/** The children of `pid` (Linux keeps the list per thread; the spawner has one). */
const childrenOf = (pid: number) => `readFileSync('/proc/${'${'}${pid}}/task/${'${'}${pid}}/children', 'utf8')`;

test('a command ended by a real-time signal (35-63) fails with that signal, and the commands beside it go on', async () => {
  // main: signal.Signals(40) raised ValueError in the spawner's loop: it died, and every command in flight got ESPAWNER
  const beside = run(['sh', '-c', 'sleep 0.5; echo beside'], { intent: 'beside' }).catch((e: unknown) => e);
  await new Promise((r) => setTimeout(r, 100));
  const rt = await run(['sh', '-c', 'kill -40 $$'], { intent: 'rt', reject: false });
  expect(rt.exitCode).toBe(-1);
  expect(rt.signal).toBe('SIGRTMIN+6');
  await expect(run(['sh', '-c', 'kill -35 $$'], { intent: 'rt35' })).rejects.toThrow(/SIGRTMIN\+1/);
  expect((await run(['sh', '-c', 'kill -34 $$'], { intent: 'rt34', reject: false })).signal).toBe('SIGRTMIN');
  expect((await run(['sh', '-c', 'kill -64 $$'], { intent: 'rt64', reject: false })).signal).toBe('SIGRTMAX');
  expect(await within(beside, 10_000, 'beside')).toMatchObject({ exitCode: 0, stdout: 'beside\n' });
});
