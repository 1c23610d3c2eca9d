// Scripts settle: a set-up script that leaves a server running (`sleep 300 &`) resolves when the script itself exits,
// with all the output it printed; what it left running lives on in the lab, and dies with it.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test, vi } from '../../src/vitest.js';
import { createLab } from '../../src/index.js';
import { eventually, pidAlive, processesMatching } from '../helpers/machine.js';
import { labDir } from '../helpers/temp.js';
import { within } from '../helpers/watchdog.js';

vi.setConfig({ testTimeout: 60_000 });


/** A `sleep` duration nobody else uses: its command line finds the process. */
function marker(): string {
  return `300.${process.pid}${Math.floor(Math.random() * 1e6)}`;
}

function running(text: string): string[] {
  return processesMatching(text).filter((p) => pidAlive(Number(p.split(' ')[0])));
}

test("lab.sh`ip netns exec blue sh -c 'sleep 300 &'` returns, and the sleep runs on in blue", async ({ lab }) => {
  await lab.netns('blue');
  const m = marker();
  const t = performance.now();
  const out = await within(lab.sh`ip netns exec blue sh -c ${`sleep ${m} &`}; echo started`, 10_000, 'lab.sh');
  expect(performance.now() - t).toBeLessThan(3_000);
  expect(out.stdout).toBe('started\n');
  expect(out.exitCode).toBe(0);
  expect(running(m)).toHaveLength(1);
  // zx's other features still work: a failing command rejects with its exit code
  await expect(lab.sh`exit 7`).rejects.toMatchObject({ exitCode: 7 });
});

test('lab.script of a set-up script that starts a server in the background returns with all its output', async () => {
  const lab = await createLab();
  const m = marker();
  const script = join(labDir('netspec-exec-settle-'), 'setup.sh');
  // 200 000 bytes on stdout (more than a pipe holds), a line on stderr, then a server that keeps the pipes open
  writeFileSync(script, `set -e\nip netns add red\nhead -c 200000 /dev/zero | tr '\\0' x\necho done >&2\nip netns exec red sh -c 'sleep ${m} & :'\nsleep ${m} &\n`);
  try {
    const t = performance.now();
    const r = await within(lab.script(script), 10_000, 'lab.script');
    expect(performance.now() - t).toBeLessThan(3_000);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toBe('x'.repeat(200_000));
    expect(r.stderr).toBe('done\n');
    expect(running(m)).toHaveLength(2);
    expect(lab.namespaces()).toEqual(['red']);
  } finally {
    await within(lab.dispose(), 10_000, 'dispose');
  }
  // and the servers die with the lab
  expect(await eventually(() => running(m).length === 0, 3_000)).toBe(true);
});

test('exec of a command that leaves a background process writing to the pipes returns too', async ({ lab }) => {
  const m = marker();
  const r = await within(lab.host.exec('sh', ['-c', `echo first; (while sleep 0.05; do echo more; done; sleep ${m}) & echo last`]), 10_000, 'exec');
  // what the command itself printed is all there; what the background loop adds after it exits may be cut at any line
  expect(r.stdout).toMatch(/^first\n(more\n)*last\n(more\n)*$/);
  expect(r.stdout).toContain('last\n');
});

test('a failing script that left a server running still rejects with its exit code and stderr', async ({ lab }) => {
  const m = marker();
  const script = join(labDir('netspec-exec-settle-'), 'fails.sh');
  writeFileSync(script, `sleep ${m} &\necho "no such thing" >&2\nexit 3\n`);
  const error = await within(
    lab.script(script).catch((e: unknown) => e),
    10_000,
    'lab.script',
  );
  expect(error).toMatchObject({ name: 'CommandError', exitCode: 3 });
  expect((error as Error).message).toMatch(/exited with code 3\n {2}no such thing/);
});
