// Review of the lab runner (src/spawner.ts, startLabRunner; src/lab/lifeline.ts, #labRunner): what must hold and did
// not on a7dc221.
//  1. A call through a runner that has gone away settles (an error), within its timeout or abort, never hangs: a
//     runner's Spawner.start() on a dead runner wrote into nothing and no event ever came.
//  2. The lab's PID 1 killed as its runner starts ("ready" and the runner's exit reach Node in one read): the command
//     that waited for the runner settles (LabGoneError), never hangs.
//  4. A working directory changed after the lab was made (process.chdir) into a folder closed to the lab's root (mkdtemp
//     makes them 0700): nsenter opened it as the machine's user (--wd) and the command ran; the runner's Popen(cwd=)
//     looked it up as the lab's root, and every command threw "failed to execute ip: Permission denied" (blaming the tool,
//     even with reject: false).
//  5. A FIFO in the lab's /run/netns (which every-namespace reads list): the runner's open() of it blocked, and with it
//     every command of the lab, past their timeouts; nsenter's blocked only its own command, which its timeout ended.
//  3. Concurrent commands after a runner died start ONE new runner, not one each: the others were never ended
//     (dispose, keep) and each counted against the lab's process bound.
import { readFileSync, readlinkSync } from 'node:fs';
import { execa } from 'execa';
import { describe, expect, test, vi } from '../../src/vitest.js';
import { createLab, type Lab } from '../../src/index.js';
import { runThrough } from '../../src/exec.js';
import { spawnerPid, startLabRunner } from '../../src/spawner.js';
import { eventually } from '../helpers/machine.js';
import { within } from '../helpers/watchdog.js';
import { compiled } from '../helpers/compiled.js';

vi.setConfig({ testTimeout: 60_000 });
// one test at a time: the second stops this worker's spawner, and the tests find runners among the spawner's children
// (another test's lab making a runner at the same moment would be taken for ours)
describe.sequential('the lab runner under review', () => {

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const children = (pid: number) => readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);

/** The runners of `lab`: the spawner's children in the lab host's network namespace. */
function runnersOf(lab: Lab): number[] {
  const spawner = spawnerPid();
  if (!spawner) return [];
  const host = readlinkSync(`/proc/${lab.pid}/ns/net`);
  return children(spawner).filter((p) => {
    try {
      return readlinkSync(`/proc/${p}/ns/net`) === host && !/^\S+ \(.*\) [ZX] /.test(readFileSync(`/proc/${p}/stat`, 'utf8'));
    } catch {
      return false;
    }
  });
}

test('a call through a lab runner that went away settles within its timeout (an error), never hangs', async ({ lab }) => {
  await lab.run('host', ['true'], { intent: 'start the lab runner' });
  const root = process.getuid?.() === 0;
  const runner = await startLabRunner({ pid: lab.pid, userns: true, mapped: root, ...(root ? { nproc: 4096 } : {}), cwd: process.cwd() });
  expect(runner, 'a runner of our own').toBeDefined();
  process.kill(runner!.pid!, 'SIGKILL');
  expect(await eventually(() => runner!.dead, 5_000), 'Node saw it go').toBe(true);
  const outcome = await within(
    runThrough(runner!, ['true'], undefined, { intent: 'through a dead runner', timeoutMs: 1_000 }).then(
      (r) => r,
      (e: unknown) => e,
    ),
    5_000,
    'a call through a dead runner',
  );
  expect(outcome).toBeInstanceOf(Error);
});

test("the lab's PID 1 killed as its runner starts: the command that waited for the runner settles, never hangs", async () => {
  const lab = await createLab();
  await lab.run('host', ['true'], { intent: 'start the lab runner' });
  const spawner = spawnerPid()!;
  try {
    for (const r of runnersOf(lab)) process.kill(r, 'SIGKILL');
    expect(await eventually(() => runnersOf(lab).length === 0, 5_000)).toBe(true);
    await sleep(100);
    const before = new Set(children(spawner));
    const call = lab.run('host', ['true'], { intent: 'the first command of a new runner', timeoutMs: 2_000 }).then(
      (r) => r,
      (e: unknown) => e,
    );
    // the spawner stopped as soon as it forked the new runner: the runner's "ready" waits in its pipe, and its exit
    // (the lab's PID 1 killed) beside it, so that Node reads both at once
    let forked: number | undefined;
    const t0 = Date.now();
    while (forked === undefined && Date.now() - t0 < 5_000) {
      await new Promise((r) => setImmediate(r));
      forked = children(spawner).find((c) => !before.has(c));
    }
    expect(forked, 'the spawner forked a new runner').toBeDefined();
    process.kill(spawner, 'SIGSTOP');
    try {
      await sleep(100);
      process.kill(lab.pid, 'SIGKILL');
      await sleep(200);
    } finally {
      process.kill(spawner, 'SIGCONT');
    }
    const outcome = await within(call, 10_000, 'the command that waited for its runner');
    expect(outcome).toMatchObject({ name: 'LabGoneError' });
  } finally {
    process.kill(spawner, 'SIGCONT');
    await lab.dispose();
  }
});

test('concurrent commands after the runner died start one new runner, not one each (which dispose and keep never end)', async () => {
  // a small process bound: every extra runner is a process of the lab's root, and took a slot of it
  const lab = await createLab({ maxProcesses: 12 });
  try {
    await lab.netns('red');
    await lab.run('red', ['true'], { intent: 'start the lab runner' });
    for (const r of runnersOf(lab)) process.kill(r, 'SIGKILL');
    expect(await eventually(() => runnersOf(lab).length === 0, 5_000)).toBe(true);
    await sleep(100);
    const results = await Promise.all(
      Array.from({ length: 8 }, () =>
        lab.run('red', ['true'], { intent: 'one of eight at once' }).then(
          (r) => `exit ${r.exitCode}`,
          (e: unknown) => String((e as Error).name),
        ),
      ),
    );
    expect(results, 'eight trues within a bound of 12').toEqual(Array(8).fill('exit 0'));
    expect(runnersOf(lab)).toHaveLength(1);
  } finally {
    await lab.dispose();
  }
});

  test('a working directory closed to the lab root, changed after the lab was made: commands run as by nsenter', async () => {
    // in a Node process of its own: process.chdir is not for a test beside others
    const root = new URL('../../', import.meta.url).pathname;
    const code = [
      `import { createLab } from '${compiled('src/index.ts')}'; import { mkdtempSync, rmdirSync } from 'node:fs'; import { tmpdir } from 'node:os'; import { join } from 'node:path';`,
      'const lab = await createLab(); await lab.netns("red");',
      'const dir = mkdtempSync(join(tmpdir(), "netspec-cwd-"));',
      'process.chdir(dir);',
      'const out = await lab.run("red", ["ip", "-o", "link", "show", "lo"], { intent: "ip link", reject: false }).then((r) => `exit ${r.exitCode}`, (e) => `${e.name}: ${e.message.split("\\n")[1]}`);',
      'process.chdir("/"); rmdirSync(dir); await lab.dispose();',
      'console.log(out);',
    ].join('\n');
    const outcome = async (runner: 'on' | 'off') => {
      const r = await execa('node', ['--input-type=module', '-e', code], { cwd: root, reject: false, timeout: 30_000, env: runner === 'off' ? { NETSPEC_LAB_RUNNER: 'off' } : {} });
      return r.stdout.trim() || r.stderr.trim();
    };
    expect(await outcome('off'), 'by nsenter').toBe('exit 0');
    expect(await outcome('on'), 'through the lab runner').toBe('exit 0');
  });

  test("a FIFO where a namespace file would be: that command fails or times out, the lab's other commands go on", async ({ lab }) => {
    await lab.netns('red');
    await lab.run('host', ['mkfifo', '/run/netns/pipe'], { intent: 'a FIFO where a namespace file would be' });
    const settle = (p: Promise<{ exitCode: number }>) =>
      p.then(
        (r) => `exit ${r.exitCode}`,
        (e: unknown) => String((e as Error).name),
      );
    const fifo = settle(lab.run('pipe', ['true'], { intent: 'in the FIFO', reject: false, timeoutMs: 1_000 }));
    const red = settle(lab.run('red', ['true'], { intent: 'in red', timeoutMs: 1_000 }));
    expect(await within(red, 8_000, 'a command beside it')).toBe('exit 0');
    expect(await within(fifo, 8_000, 'the command in the FIFO')).not.toBe('exit 0');
  });
});
