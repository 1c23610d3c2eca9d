// Issue 23: a lab's root is nobody on the machine. Its ids are mapped to an unprivileged range (as root) or are the
// user's own (as a non-root user), so the machine's permission checks refuse it what they refuse an ordinary user:
// the machine's sysfs knobs (/sys/kernel/mm/ksm/run, /sys/module/printk/parameters/*, /sys/power/state), /proc/sys/vm,
// a root-owned file. The lab's /sys is read-only, but for its own network devices.
//
// Safety: a write that could change the machine is tried only after a harmless file has proved the refusal, and it
// writes back exactly the value read just before (or, for /sys/power/state, only opens the file, never writes): had the
// refusal failed, nothing would change. Each value is read again afterwards and must be the same.
import { accessSync, chmodSync, constants, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test } from '../../src/vitest.js';
import { InvalidInputError, type Lab } from '../../src/index.js';
import { LAB_ID_BASE } from '../../src/lab/lifeline-argv.js';

const root = process.getuid?.() === 0;

/** Run `sh -c script` as the lab's root in its host, with positional arguments; exit code and output, never thrown. */
async function inLab(lab: Lab, script: string, ...args: string[]): Promise<{ code: number | undefined; out: string }> {
  const r = await lab.run('host', ['sh', '-c', script, 'sh', ...args], { intent: 'try a write from the lab', reject: false });
  return { code: r.exitCode, out: `${r.stdout}${r.stderr}`.trim() };
}

/** A file of this process (the machine's root, or this user), mode 0644, in a folder the lab can see (not /tmp: the lab's is its own). */
function machineFile(): { file: string; cleanup: () => void } {
  const dir = mkdtempSync(join(process.cwd(), '.netspec-ids-'));
  chmodSync(dir, 0o755);
  const file = join(dir, 'machine-owned');
  writeFileSync(file, 'original\n', { mode: 0o644 });
  return { file, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Write back exactly `value` to `path` from the lab: `printf %s VALUE > PATH` (no change even if it were allowed). */
const writeBack = (lab: Lab, path: string, value: string) => inLab(lab, 'printf %s "$2" > "$1"', path, value);

test('the machine refuses the lab\'s root what it refuses an ordinary user: a root-owned file, sysfs knobs, /proc/sys/vm; the machine\'s values stay', async ({ lab }) => {
  // 1. the harmless proof first: a file of the machine's root, 0644, cannot be written from the lab. (As a non-root
  // user the lab's root is this user, with no more rights on the machine than this process, which cannot write the
  // knobs: checked here instead.)
  if (!root) {
    for (const knob of ['/sys/kernel/mm/ksm/run', '/proc/sys/vm/swappiness']) expect(() => accessSync(knob, constants.W_OK), knob).toThrow();
  }
  if (root) {
    const { file, cleanup } = machineFile();
    try {
      const harmless = await inLab(lab, 'echo changed > "$1"', file);
      expect(harmless.code, harmless.out).not.toBe(0);
      expect(harmless.out).toMatch(/Permission denied/);
      expect(readFileSync(file, 'utf8')).toBe('original\n');
      // but it can be read (the lab sees the machine's files as others do)
      expect((await inLab(lab, 'cat "$1"', file)).out).toBe('original');
    } finally {
      cleanup();
    }
  }

  // 2. only now the machine's knobs, each written back with the value it has (a no-op had it been allowed)
  const knobs = ['/sys/kernel/mm/ksm/run'];
  const printk = '/sys/module/printk/parameters';
  for (const name of readdirSync(printk)) {
    const path = join(printk, name);
    // only the yes/no ones, whose value reads back exactly as it is written
    if (statSync(path).mode & 0o200 && /^[YN]\n$/.test(readFileSync(path, 'utf8'))) knobs.push(path);
  }
  knobs.push('/proc/sys/vm/swappiness');
  expect(knobs.length).toBeGreaterThan(2);
  for (const path of knobs) {
    const before = readFileSync(path, 'utf8');
    const r = await writeBack(lab, path, before.trim());
    expect(r.code, `${path}: ${r.out}`).not.toBe(0);
    expect(r.out, path).toMatch(/Read-only file system|Permission denied/);
    expect(readFileSync(path, 'utf8'), path).toBe(before);
  }
  // /sys/power/state is only opened for appending, never written (a write would suspend the machine)
  const power = await inLab(lab, '[ -e /sys/power/state ] || { echo absent; exit 1; }; exec 3>>/sys/power/state && echo opened');
  expect(power.code, power.out).not.toBe(0);
  expect(power.out).not.toContain('opened');
});

test('the lab\'s own network devices are still its to configure through sysfs; the rest of /sys is read-only', async ({ lab }) => {
  const r = await inLab(
    lab,
    [
      'set -e',
      'brctl addbr br9 && ip link add v0 type veth peer name v1 && brctl addif br9 v0',
      'echo 1234 > /sys/class/net/br9/bridge/ageing_time && cat /sys/class/net/br9/bridge/ageing_time',
      'echo 7 > /sys/class/net/v0/brport/path_cost && cat /sys/class/net/v0/brport/path_cost',
      'brctl show br9 | grep -q v0',
      'awk \'$5 == "/sys" { print $6 }\' /proc/self/mountinfo | tail -1', // the options of the last /sys mount: the lab's
    ].join('\n'),
  );
  expect(r.code, r.out).toBe(0);
  const [ageing, cost, mount] = r.out.split('\n');
  expect(ageing).toBe('1234');
  expect(cost).toBe('7');
  expect(mount).toMatch(/^ro,/);
});

test.runIf(root)('as root, the lab\'s root is the machine\'s uid LAB_ID_BASE, with 65536 ids: `ip rule add uidrange` works in the default lab', async ({ lab }) => {
  const r = await inLab(lab, 'cat /proc/self/uid_map /proc/self/gid_map /proc/self/setgroups; ip rule add uidrange 100-100 && ip rule add uidrange 1000-1999 lookup 7 && ip rule show');
  expect(r.code, r.out).toBe(0);
  expect(r.out).toMatch(new RegExp(`^\\s*0\\s+${LAB_ID_BASE}\\s+65536\\n\\s*0\\s+${LAB_ID_BASE}\\s+65536\\nallow\\n`));
  expect(r.out).toMatch(/uidrange 100-100 lookup main/);
  expect(r.out).toMatch(/uidrange 1000-1999 lookup 7/);
  // the machine sees the lab's PID 1 as that uid, not as its root
  const status = readFileSync(`/proc/${lab.pid}/status`, 'utf8');
  expect(status).toMatch(new RegExp(`^Uid:\\s+${LAB_ID_BASE}\\s+${LAB_ID_BASE}\\s+${LAB_ID_BASE}\\s+${LAB_ID_BASE}$`, 'm'));
});

test.runIf(root)('lab.script of a script the lab cannot read (a 0700 folder, a 0600 file) is an InvalidInputError saying why, before it runs', async ({ lab }) => {
  const dir = mkdtempSync(join(process.cwd(), '.netspec-ids-'));
  try {
    chmodSync(dir, 0o700); // as mkdtemp makes it
    writeFileSync(join(dir, 'ok.sh'), 'echo ran\n', { mode: 0o644 });
    await expect(lab.script(join(dir, 'ok.sh'))).rejects.toThrow(InvalidInputError);
    await expect(lab.script(join(dir, 'ok.sh'))).rejects.toThrow(/the lab cannot read it: the folder .*\.netspec-ids-\w+ \(mode 700\) lets others not enter it.*ordinary user to the machine \(uid 1996488704\)/s);
    chmodSync(dir, 0o755);
    expect((await lab.script(join(dir, 'ok.sh'))).stdout).toBe('ran\n');
    chmodSync(join(dir, 'ok.sh'), 0o600);
    await expect(lab.script(join(dir, 'ok.sh'))).rejects.toThrow(/the script \(mode 600\) is not readable by others/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
