// Issue 23: every lab is bounded. A fork loop and a /run or /tmp filler in one lab end, within seconds, in a
// LabLimitError for the command that hit the bound, naming the option that raises it; a lab beside it keeps working and
// the machine is not touched. The bounds here are small (64 processes, a few MiB): set before anything runs.
import { existsSync } from 'node:fs';
import { expect, test } from '../../src/vitest.js';
import { createLab, InvalidInputError, LabLimitError, type Lab } from '../../src/index.js';
import { DEFAULT_BOUNDS } from '../../src/lab/options.js';
import { labIdRangeMapped } from '../../src/lab/lifeline-argv.js';
import { boundChecks, formatChecks } from '../../src/doctor.js';

const root = process.getuid?.() === 0;

/** The error `promise` rejects with (fails the test if it resolves), and how long it took. */
async function failure(promise: Promise<unknown>): Promise<{ error: unknown; ms: number }> {
  const t = performance.now();
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, 'expected a failure').toBeDefined();
  return { error, ms: performance.now() - t };
}

/** The lab beside works: two namespaces on a cable reach each other. */
async function stillWorks(lab: Lab): Promise<void> {
  const [a, b] = await Promise.all([lab.netns('a'), lab.netns('b')]);
  await lab.veth({ ns: a, name: 'va', address: '10.23.0.1/24' }, { ns: b, name: 'vb', address: '10.23.0.2/24' });
  await expect(a).toReach('10.23.0.2');
}

test('a fork loop ends within seconds in a LabLimitError naming maxProcesses; the lab beside keeps working', async ({ lab }) => {
  await using bounded = await createLab({ maxProcesses: 64 });
  const limit = await bounded.run('host', ['sh', '-c', 'ulimit -u 2>/dev/null || ulimit -p'], { intent: 'read the bound' });
  expect(limit.stdout.trim()).toBe('64');
  // `sh` (dash or busybox) stops at the first fork refused; bash retries, then goes on looping until its deadline
  const { error, ms } = await failure(bounded.run('host', ['sh', '-c', 'while :; do sleep 60 & done'], { intent: 'fork loop', timeoutMs: 20_000 }));
  expect(error).toBeInstanceOf(LabLimitError);
  expect((error as LabLimitError).bound).toBe('maxProcesses');
  expect((error as Error).message).toMatch(/hit lab \d+'s bound of 64 processes.*createLab\(\{ maxProcesses: N \}\)/s);
  expect(ms).toBeLessThan(10_000);
  const bash = await failure(bounded.run('host', ['bash', '-c', 'while :; do sleep 60 & done'], { intent: 'bash fork loop', timeoutMs: 3_000 }));
  expect(bash.error).toBeInstanceOf(LabLimitError);
  expect(bash.ms).toBeLessThan(10_000);
  // the lab beside, and the machine's root, go on
  await stillWorks(lab);
  // the bounded lab's count is its own: the lab beside (default bound) starts 100 processes while this one is full
  const many = await lab.run('host', ['sh', '-c', 'i=0; while [ $i -lt 100 ]; do sleep 5 & i=$((i+1)); done; echo $i'], { intent: 'many processes' });
  expect(many.stdout.trim()).toBe('100');
});

test('filling the lab\'s /run or /tmp ends in a LabLimitError naming runSizeMb or tmpSizeMb; the machine\'s /run and /tmp are untouched', async ({ lab }) => {
  await using bounded = await createLab({ runSizeMb: 2, tmpSizeMb: 3 });
  const name = `netspec-fill-${process.pid}-${Date.now()}`;
  const fill = (path: string) => bounded.run('host', ['dd', 'if=/dev/zero', `of=${path}`, 'bs=1M', 'count=64'], { intent: `fill ${path}`, timeoutMs: 20_000 });
  const run = await failure(fill(`/run/${name}`));
  expect(run.error).toBeInstanceOf(LabLimitError);
  expect((run.error as LabLimitError).bound).toBe('runSizeMb');
  expect((run.error as Error).message).toMatch(/filled lab \d+'s own \/run, 2 MiB.*createLab\(\{ runSizeMb: N \}\)/s);
  expect(run.ms).toBeLessThan(10_000);
  const tmp = await failure(fill(`/tmp/${name}`));
  expect(tmp.error).toBeInstanceOf(LabLimitError);
  expect((tmp.error as LabLimitError).bound).toBe('tmpSizeMb');
  expect((tmp.error as Error).message).toMatch(/\/tmp \(or \/dev\/shm\), 3 MiB/);
  // the files are the lab's: not on the machine
  expect(existsSync(`/run/${name}`)).toBe(false);
  expect(existsSync(`/tmp/${name}`)).toBe(false);
  // the full lab still runs commands; the lab beside works
  expect((await bounded.run('host', ['sh', '-c', `rm /run/${name} /tmp/${name} && echo freed`], { intent: 'free it' })).stdout.trim()).toBe('freed');
  await stillWorks(lab);
});

test('the default bounds are in force in every lab', async ({ lab }) => {
  const r = await lab.run('host', ['sh', '-c', "df -k /run /tmp | awk 'NR > 1 { print $2 }'; grep 'Max processes' /proc/self/limits"], { intent: 'read the bounds' });
  const [runKb, tmpKb, nproc] = r.stdout.trim().split('\n');
  expect(Number(runKb)).toBe(DEFAULT_BOUNDS.runSizeMb * 1024);
  expect(Number(tmpKb)).toBe(DEFAULT_BOUNDS.tmpSizeMb * 1024);
  expect(nproc).toMatch(new RegExp(`^Max processes\\s+${DEFAULT_BOUNDS.maxProcesses}\\s+${DEFAULT_BOUNDS.maxProcesses}\\s`));
});

test.each([
  [{ maxProcesses: 0 }, /lab option maxProcesses 0: expected a whole number from 8/],
  [{ maxProcesses: 1.5 }, /lab option maxProcesses 1.5/],
  [{ runSizeMb: '64m' }, /lab option runSizeMb "64m": expected a whole number from 1 to \d+ \(MiB\)/],
  [{ tmpSizeMb: -1 }, /lab option tmpSizeMb -1/],
  [{ tmpSizeMb: Infinity }, /lab option tmpSizeMb/],
])('createLab(%o) is refused before anything starts', async (options, message) => {
  const { error } = await failure(createLab(options as never).then((lab) => lab.dispose()));
  expect(error).toBeInstanceOf(InvalidInputError);
  expect((error as Error).message).toMatch(message);
});

test.runIf(root)('a full-privilege lab is bounded in its /run too (its /tmp is the machine\'s, for a container engine)', async () => {
  await using lab = await createLab({ privileged: true, runSizeMb: 2 });
  const name = `netspec-fill-${process.pid}-${Date.now()}`;
  const { error } = await failure(lab.run('host', ['dd', 'if=/dev/zero', `of=/run/${name}`, 'bs=1M', 'count=64'], { intent: 'fill /run' }));
  expect(error).toBeInstanceOf(LabLimitError);
  expect(existsSync(`/run/${name}`)).toBe(false);
});

test('netspec doctor shows which bounds this machine enforces, and what a lab\'s root is to the machine', () => {
  const checks = boundChecks(root);
  expect(checks.map((c) => c.check)).toEqual(['lab ids', 'bound /run, /tmp', 'bound processes', 'bound memory, pids cgroup']);
  const text = formatChecks(checks);
  expect(text).toMatch(/bound \/run, \/tmp\s+a lab's own tmpfs: \/run 64 MiB, \/tmp and \/dev\/shm 256 MiB each by default \(runSizeMb, tmpSizeMb\)/);
  expect(text).toMatch(/^(ok|warn)\s+bound processes\s+(RLIMIT_NPROC of the lab's root, 4096 per lab by default \(maxProcesses\)|not enforced: .*)$/m);
  expect(text).toMatch(/^warn\s+bound memory, pids cgroup\s+not enforced: netspec makes no cgroups yet/m);
  if (root && labIdRangeMapped()) expect(text).toMatch(/^ok\s+lab ids\s+a lab's root is the machine's uid 1996488704/m);
});
