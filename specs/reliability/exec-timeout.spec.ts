// A lab command's deadline stops the command inside the lab, not just the nsenter in front of it: the call returns
// within the timeout plus the grace, and nothing of the command runs on. A command that stops itself (kill -STOP $$)
// neither outlives its timeout nor leaves a stopped nsenter behind after dispose().
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test, vi } from '../../src/vitest.js';
import { CommandError, createLab } from '../../src/index.js';
import { KILL_GRACE_MS, run } from '../../src/exec.js';
import { eventually, pidAlive, processesMatching } from '../helpers/machine.js';
import { tempDir } from '../helpers/temp.js';
import { saturate } from '../verdicts/helpers.js';
import { within } from '../helpers/watchdog.js';

vi.setConfig({ testTimeout: 60_000 });


/** A `sleep` duration nobody else uses: its command line finds the process (in the lab or not). */
function marker(): string {
  return `12.${process.pid}${Math.floor(Math.random() * 1e6)}`;
}

/** Running processes (zombies excluded) whose command line has `text`. */
function running(text: string): string[] {
  return processesMatching(text).filter((p) => pidAlive(Number(p.split(' ')[0])));
}

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t = performance.now();
  const v = await fn();
  return [v, performance.now() - t];
}

// the bound: the timeout, the grace, and room for a busy 2-core machine
const slack = 1_500;

test('sleep 12 with timeoutMs 500 returns at about 500 ms, timed out, and the sleep inside the lab is gone', async ({ lab }) => {
  const m = marker();
  const [error, ms] = await timed(() => within(lab.host.exec('sleep', [m], { timeoutMs: 500 }).catch((e: unknown) => e), 10_000, 'exec sleep'));
  expect(error).toBeInstanceOf(CommandError);
  expect((error as CommandError).timedOut).toBe(true);
  expect((error as Error).message).toMatch(/`sleep 12\.\d+` timed out after 500 ms and was stopped/);
  expect(ms).toBeGreaterThanOrEqual(480);
  expect(ms).toBeLessThan(500 + slack);
  expect(running(m)).toEqual([]);
});

test('a timeout stops what the command started in the background too, in a namespace of the lab', async ({ lab }) => {
  await lab.netns('blue');
  const m = marker();
  const [error, ms] = await timed(() =>
    within(lab.get('blue').exec('sh', ['-c', `sleep ${m} & sleep ${m}; wait`], { timeoutMs: 500 }).catch((e: unknown) => e), 10_000, 'exec sh'),
  );
  expect((error as CommandError).timedOut).toBe(true);
  expect(ms).toBeLessThan(500 + slack);
  expect(running(m)).toEqual([]);
});

test('a command that ignores SIGTERM is killed after the grace, and the call still returns', async ({ lab }) => {
  const m = marker();
  // an ignored signal stays ignored across exec: the sleep ignores SIGTERM too
  const [error, ms] = await timed(() =>
    within(lab.host.exec('sh', ['-c', `trap '' TERM; sleep ${m}; echo survived`], { timeoutMs: 400 }).catch((e: unknown) => e), 10_000, 'exec sh'),
  );
  expect((error as CommandError).timedOut).toBe(true);
  expect((error as CommandError).stdout).not.toMatch(/survived/);
  expect(ms).toBeGreaterThanOrEqual(400 + KILL_GRACE_MS - 50);
  expect(ms).toBeLessThan(400 + KILL_GRACE_MS + slack);
  expect(running(m)).toEqual([]);
});

// The SIGKILL after the grace goes to the whole group at once: signalled one by one (the leader last, by the lab
// runner's path), a child killed before its parent let the parent run its next line. On a saturated machine 27 of 60
// such commands printed "survived" after their timeout; the group kill: 0 (this file runs alone: the load is its own).
test('a command that ignores SIGTERM never runs its next line after the grace, even on a saturated machine', async ({ lab }) => {
  const load = saturate();
  try {
    const calls = Array.from({ length: 30 }, () => lab.host.exec('sh', ['-c', `trap '' TERM; sleep 5; echo survived`], { timeoutMs: 300 }).catch((e: unknown) => e));
    const errors = await within(Promise.all(calls), 20_000, '30 commands');
    expect(errors.every((e) => e instanceof CommandError && e.timedOut)).toBe(true);
    expect(errors.filter((e) => /survived/.test((e as CommandError).stdout)).length).toBe(0);
  } finally {
    load.stop();
  }
});

test('a command that stops itself times out, and never goes on with what follows', async ({ lab }) => {
  const dir = tempDir('netspec-exec-timeout-');
  const m = marker();
  const [error, ms] = await timed(() =>
    within(lab.host.exec('sh', ['-c', `kill -STOP $$; touch ${join(dir, 'went-on')}; : ${m}`], { timeoutMs: 400 }).catch((e: unknown) => e), 10_000, 'exec sh'),
  );
  expect(error).toBeInstanceOf(CommandError);
  expect((error as CommandError).timedOut).toBe(true);
  expect(ms).toBeLessThan(400 + slack);
  expect(running(m)).toEqual([]);
  await new Promise((r) => setTimeout(r, 200));
  expect(existsSync(join(dir, 'went-on'))).toBe(false);
});

test('on the machine too (no nsenter in front): a timeout stops the command and what it started', async () => {
  const m = marker();
  const [error, ms] = await timed(() =>
    within(run(['sh', '-c', `sleep ${m} & sleep ${m}; wait`], { intent: 'sleep', timeoutMs: 400 }).catch((e: unknown) => e), 10_000, 'run'),
  );
  expect((error as CommandError).timedOut).toBe(true);
  expect((error as Error).message).toMatch(/^sleep failed in the machine: `sh -c .*` timed out after 400 ms/);
  expect(ms).toBeLessThan(400 + slack);
  expect(running(m)).toEqual([]);
});

test("the lab's commandTimeoutMs applies when a call gives no timeoutMs of its own", async () => {
  const lab = await createLab({ commandTimeoutMs: 500 });
  try {
    const m = marker();
    const [error, ms] = await timed(() => within(lab.host.exec('sleep', [m]).catch((e: unknown) => e), 10_000, 'exec sleep'));
    expect((error as CommandError).timedOut).toBe(true);
    expect(ms).toBeLessThan(500 + slack);
    expect(running(m)).toEqual([]);
  } finally {
    await lab.dispose();
  }
});

// both ways a lab's command starts: its lab runner (one process, the command) and nsenter (NETSPEC_LAB_RUNNER=off: the
// command and the nsenter in front of it, which must not hold the lab open when stopped)
for (const path of ['the lab runner', 'nsenter'] as const) {
  test(`a command stopped (kill -STOP $$) when the lab is disposed, started by ${path}: dispose() is quick and nothing stopped is left`, async () => {
    const lab = await createLab();
    const m = marker();
    if (path === 'nsenter') process.env.NETSPEC_LAB_RUNNER = 'off';
    let call: Promise<unknown>;
    try {
      // the lab's first command decides how it enters (read when it starts)
      call = lab.host.exec('sh', ['-c', `kill -STOP $$; sleep ${m}`]).then(
        () => 'resolved',
        (e: unknown) => e,
      );
    } finally {
      delete process.env.NETSPEC_LAB_RUNNER;
    }
    // the command is stopped (state T), and by nsenter the nsenter in front of it too
    const stopped = () => running(m).filter((p) => /\) T /.test(safeStat(Number(p.split(' ')[0]))));
    const expected = path === 'nsenter' ? 2 : 1;
    expect(await eventually(() => stopped().length === expected, 5_000)).toBe(true);
    expect(stopped().some((p) => / nsenter /.test(` ${p.split(' ').slice(1).join(' ')}`))).toBe(path === 'nsenter');

    const [, ms] = await timed(() => within(lab.dispose(), 10_000, 'dispose'));
    expect(ms).toBeLessThan(2_000); // it took 5 s (the SIGKILL fallback) when the stopped nsenter held the lab open
    expect(await within(call, 5_000, 'the stopped call')).toMatchObject({ name: 'LabGoneError' });
    expect(await eventually(() => running(m).length === 0, 2_000)).toBe(true);
  });
}

function safeStat(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return '';
  }
}
