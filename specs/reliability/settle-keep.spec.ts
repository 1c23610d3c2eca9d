// Kept labs (NETSPEC_KEEP=1) for every user: each user's records live in a folder of their own (mode 0700), and a
// keep that cannot write its record leaves no keeper process behind.
import { chmodSync, chownSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test, vi } from '../../src/vitest.js';
import { createLab, NetspecError } from '../../src/index.js';
import { keptDir, keptLabs, type KeptLab } from '../../src/lab.js';
import { eventually, pidAlive, processes } from '../helpers/machine.js';
import { runProcess } from '../helpers/process.js';
import { tempDir } from '../helpers/temp.js';

vi.setConfig({ testTimeout: 60_000 });

const root = process.getuid?.() === 0;

/** This process's `sleep infinity` children: the keepers lab.keep() starts. */
function keepers(): number[] {
  return processes()
    .filter((p) => p.ppid === process.pid && p.cmdline === 'sleep infinity ')
    .map((p) => p.pid);
}

describe('a keep that fails leaves no process', () => {
  let savedTmpdir: string | undefined;
  beforeEach(() => {
    // a TMPDIR of this test's own, so the records of real kept labs are not touched
    savedTmpdir = process.env.TMPDIR;
    process.env.TMPDIR = tempDir('netspec-keep-');
  });
  afterEach(() => {
    if (savedTmpdir === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = savedTmpdir;
  });

  test('the record cannot be written: keep throws, its keeper is killed, the lab still ends', async () => {
    const lab = await createLab();
    expect(keptDir()).toBe(join(process.env.TMPDIR!, `netspec-kept-${process.getuid!()}`));
    // something is in the way of the record (a folder of that name), after the keeper has started
    mkdirSync(join(keptDir(), `${process.pid}-${lab.id}.json`), { recursive: true });
    const before = keepers();
    expect(() => lab.keep('cannot be written')).toThrow(NetspecError);
    expect(() => lab.keep('cannot be written')).toThrow(/could not be kept: .*EEXIST.*no keeper is left running/);
    expect(await eventually(() => keepers().length === before.length, 5000)).toBe(true);
    expect(lab.alive).toBe(true);
    await lab.dispose();
    expect(await eventually(() => !pidAlive(lab.pid), 5000)).toBe(true);
    expect(keptLabs()).toEqual([]);
  });

  test.runIf(root)('a record folder that belongs to another user is refused before any keeper starts', async () => {
    const lab = await createLab();
    mkdirSync(keptDir(), { mode: 0o700 });
    chownSync(keptDir(), 65534, 65534);
    const before = keepers();
    expect(() => lab.keep('foreign folder')).toThrow(/cannot keep a lab: .*netspec-kept-0 is a folder of uid 65534, not yours/);
    expect(keepers()).toEqual(before);
    expect(lab.alive).toBe(true);
    await lab.dispose();
  });
});

test.runIf(root)('root and an unprivileged user keep labs side by side, each in a 0700 folder of their own', async () => {
  // the unprivileged user of this check (CI has netspec-ci; this spec makes netspec-t when it is missing)
  if ((await runProcess(['id', '-u', 'netspec-t'])).code !== 0) {
    const made = await runProcess(['useradd', '--system', '--no-create-home', '--shell', '/usr/sbin/nologin', 'netspec-t']);
    expect(made.code, made.out).toBe(0);
  }
  const uid = Number((await runProcess(['id', '-u', 'netspec-t'])).out.trim());
  const shared = tempDir('netspec-keep-shared-');
  chmodSync(shared, 0o1777); // like /tmp
  const child = ['node_modules/.bin/tsx', 'specs/helpers/keep-child.ts'];
  const keep = async (asUser?: string) => {
    const argv = asUser ? ['runuser', '-u', asUser, '--', 'env', `TMPDIR=${shared}`, ...child] : [...child];
    const r = await runProcess(argv, { env: { TMPDIR: shared } });
    expect(r.code, r.out).toBe(0);
    return JSON.parse(r.out.trim().split('\n').at(-1)!) as { ok: boolean; error?: string; kept: KeptLab; dir: string; listed: string[] };
  };
  const first = await keep(); // root first: the folder that used to be shared is made by root
  const second = await keep('netspec-t');
  try {
    for (const [r, owner] of [[first, 0], [second, uid]] as const) {
      expect(r.ok, r.error).toBe(true);
      expect(r.dir).toBe(join(shared, `netspec-kept-${owner}`));
      const st = statSync(r.dir);
      expect(st.uid).toBe(owner);
      expect(st.mode & 0o777).toBe(0o700);
      expect(r.listed).toEqual([r.kept.id]); // each lists its own kept lab only
      expect(pidAlive(r.kept.keeper)).toBe(true);
      expect(pidAlive(r.kept.pid)).toBe(true);
    }
  } finally {
    // the `end` command of each: kill the keeper by its pid
    for (const r of [first, second]) if (r.ok) process.kill(r.kept.keeper, 'SIGTERM');
  }
  for (const r of [first, second]) {
    expect(await eventually(() => !pidAlive(r.kept.keeper) && !pidAlive(r.kept.pid), 10_000)).toBe(true);
  }
});
