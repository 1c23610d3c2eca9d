// The lab runner (src/spawner.ts, startLabRunner): a lab's commands start from a process that entered the lab once.
// It must give every command what nsenter gave it (the namespace asked for, the lab's root, its PID namespace, its
// process bound, the working directory), never outlive the lab, and fail a command it cannot start, never run it
// somewhere else. Each claim is checked against a lab entered by nsenter (NETSPEC_LAB_RUNNER=off) where it compares.
import { readFileSync, readlinkSync, statSync } from 'node:fs';
import { expect, test, vi } from '../../src/vitest.js';
import { CommandError, createLab, type Lab } from '../../src/index.js';
import { spawnerPid } from '../../src/spawner.js';
import { eventually, pidAlive } from '../helpers/machine.js';
import { within } from '../helpers/watchdog.js';

vi.setConfig({ testTimeout: 60_000 });

/** A lab whose commands enter by nsenter: its first command decides, made with NETSPEC_LAB_RUNNER=off. */
async function nsenterLab(): Promise<Lab> {
  process.env.NETSPEC_LAB_RUNNER = 'off';
  try {
    const lab = await createLab();
    await lab.netns('red');
    return lab;
  } finally {
    delete process.env.NETSPEC_LAB_RUNNER;
  }
}

/** The runner of `lab`: the spawner's child whose network namespace is the lab host's (none: by nsenter). */
function runnerOf(lab: Lab): number | undefined {
  const spawner = spawnerPid();
  if (!spawner) return undefined;
  const host = readlinkSync(`/proc/${lab.pid}/ns/net`);
  const children = readFileSync(`/proc/${spawner}/task/${spawner}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  return children.find((p) => {
    try {
      return readlinkSync(`/proc/${p}/ns/net`) === host;
    } catch {
      return false;
    }
  });
}

const facts = async (lab: Lab, where: string) =>
  (await lab.run(where, ['sh', '-c', 'readlink /proc/self/ns/net /proc/self/ns/pid; id -u; grep "Max processes" /proc/self/limits; pwd'], { intent: 'read what a command gets' })).stdout;

test('a command gets what nsenter gave it: the namespace asked for, the lab root, the PID namespace, the process bound, the folder', async ({ lab }) => {
  await lab.netns('red');
  const other = await nsenterLab();
  try {
    expect(runnerOf(lab), 'this lab has a runner').toBeDefined();
    expect(runnerOf(other), 'the other enters by nsenter').toBeUndefined();
    for (const l of [lab, other]) {
      const red = `net:[${statSync(`/proc/${l.pid}/root/run/netns/red`).ino}]`;
      const [redNet, pidNs, uid, limit, cwd] = (await facts(l, 'red')).trim().split('\n');
      expect(redNet).toBe(red);
      expect(pidNs).toBe(readlinkSync(`/proc/${l.pid}/ns/pid`));
      expect(uid).toBe('0');
      expect(limit).toMatch(/^Max processes\s+4096\s+4096\s+processes\s*$/);
      expect(cwd).toBe(process.cwd());
      const [hostNet] = (await facts(l, 'host')).trim().split('\n');
      expect(hostNet).toBe(readlinkSync(`/proc/${l.pid}/ns/net`));
    }
    // the runner itself: the lab's root to the machine (never its root), one thread, in the machine's PID namespace
    const status = readFileSync(`/proc/${runnerOf(lab)}/status`, 'utf8');
    expect(status).toMatch(/^Uid:\s+(\d+)\s+\1\s+\1\s+\1$/m);
    expect(status).not.toMatch(/^Uid:\s+0\s/m);
    expect(status).toMatch(/^NSpid:\s+\d+$/m);
  } finally {
    await other.dispose();
  }
});

test('the runner never outlives its lab: disposed, or its PID 1 killed', async () => {
  for (const end of ['dispose', 'kill PID 1'] as const) {
    const lab = await createLab();
    await lab.run('host', ['true'], { intent: 'start the runner' });
    const runner = runnerOf(lab);
    expect(runner, end).toBeDefined();
    if (end === 'dispose') await lab.dispose();
    else process.kill(lab.pid, 'SIGKILL');
    expect(await eventually(() => !pidAlive(runner!), 5_000), `${end}: the runner ended`).toBe(true);
    await lab.dispose();
  }
});

/**
 * A lab whose runner is let go (the lab is kept) while `argv` runs through it: `check` gets the runner's pid and the
 * command's; afterwards the kept lab is ended and must be gone within `goneMs`.
 */
async function letGoInFlight(argv: string[], check: (runner: number, command: number) => Promise<void>, options: { commandTimeoutMs?: number; goneMs: number }): Promise<void> {
  const lab = await createLab(options.commandTimeoutMs ? { commandTimeoutMs: options.commandTimeoutMs } : {});
  let keeper: number | undefined;
  try {
    await lab.run('host', ['true'], { intent: 'start the runner' });
    const runner = runnerOf(lab)!;
    const call = lab.run('host', argv, { intent: 'a command in flight' }).catch((e: unknown) => e);
    const children = () => readFileSync(`/proc/${runner}/task/${runner}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
    expect(await eventually(() => children().length === 1, 5_000)).toBe(true);
    const command = children()[0]!;
    keeper = lab.keep('lab-runner spec').keeper;
    await check(runner, command);
    await call;
  } finally {
    if (keeper) process.kill(keeper, 'SIGKILL');
    await lab.dispose();
  }
  expect(await eventually(() => !pidAlive(lab.pid), options.goneMs)).toBe(true);
}

// A command's parent is the runner (it stays in the machine's PID namespace): a runner that went at once when let go
// orphaned its commands still running to the machine's init, which may reap a second or two later, and a lab's PID 1
// ends only once every pid of its namespace is reaped (dispose() took 2 s instead of 7 ms, once in a suite run)
test('a runner let go (a kept lab) reaps its commands still running before it goes: never an orphan for the machine init', async () => {
  await letGoInFlight(
    ['sleep', '1.5'],
    async (runner, sleep) => {
      await new Promise((r) => setTimeout(r, 300));
      // the runner's end of the pipe closed: it waits for its command, which is still its child
      expect(pidAlive(runner)).toBe(true);
      expect(readFileSync(`/proc/${sleep}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]).toBe(String(runner));
      expect(await eventually(() => !pidAlive(runner), 5_000), 'the runner went once its command ended').toBe(true);
    },
    { goneMs: 5_000 },
  );
});

// ...but never waits for ever: it stops reading its commands' output when let go, so one that writes more than a pipe
// holds would block in write(2) while the runner waited for it (both lived as long as the kept lab). Its pipes are
// closed first (the command gets SIGPIPE, as when the runner exited at once) and the wait is bounded.
test('a runner let go with a command in flight that writes more than a pipe holds: both end within seconds', async () => {
  await letGoInFlight(
    ['sh', '-c', 'sleep 1; exec head -c 1000000 /dev/zero'],
    async (runner, command) => {
      expect(await eventually(() => !pidAlive(command), 5_000), 'the command ended (SIGPIPE)').toBe(true);
      expect(await eventually(() => !pidAlive(runner), 5_000), 'the runner ended').toBe(true);
    },
    { commandTimeoutMs: 120_000, goneMs: 10_000 },
  );
});

test('a runner killed under a command: the command fails (an error, never a result), the next command gets a new runner', async ({ lab }) => {
  await lab.netns('red');
  await lab.run('red', ['true'], { intent: 'start the runner' });
  const runner = runnerOf(lab)!;
  const call = lab.run('red', ['sleep', '5'], { intent: 'sleep', reject: false }).then(
    (r) => r,
    (e: unknown) => e,
  );
  await new Promise((r) => setTimeout(r, 300));
  process.kill(runner, 'SIGKILL');
  const outcome = await within(call, 10_000, 'the call whose runner died');
  expect(outcome).toBeInstanceOf(CommandError);
  expect(String(outcome)).toMatch(/went away/);
  expect((await lab.run('red', ['echo', 'again'], { intent: 'run again' })).stdout).toBe('again\n');
  expect(runnerOf(lab)).not.toBe(runner);
});

test('a namespace that is gone or is no namespace: never run anywhere else (an error, or exit 126 with what failed)', async ({ lab }) => {
  await lab.netns('red');
  await lab.run('host', ['sh', '-c', 'ip netns del red && touch /run/netns/plain'], { intent: 'break the namespaces' });
  await expect(lab.run('red', ['true'], { intent: 'x' })).rejects.toThrow(/no network namespace named "red"/);
  const plain = await lab.run('plain', ['readlink', '/proc/self/ns/net'], { intent: 'x', reject: false });
  expect(plain).toMatchObject({ exitCode: 126, stdout: '' });
  expect(plain.stderr).toMatch(/^netspec: cannot enter \/run\/netns\/plain: Invalid argument/);
  // a name the runner would read as a path is refused by the runner too, whatever let it through
  for (const bad of ['../netns', '.', '..']) {
    const r = await lab.run(bad, ['true'], { intent: 'x', reject: false }).then(
      (x) => x.exitCode,
      (e: unknown) => (e as Error).name,
    );
    expect(r, bad).not.toBe(0);
  }
});
