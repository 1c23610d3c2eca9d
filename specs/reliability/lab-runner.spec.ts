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
