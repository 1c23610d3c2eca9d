// Labs are isolated beyond the network, as root too: a script in a lab, running as the lab's root, tries the ways out
// of it — unmount the lab's /proc to reach the machine's, enter the machine's network namespace through /proc/1, make
// it a lab namespace with `ip netns attach`, write sysctls outside net.*, set the hostname — and none reaches the
// machine. Every check reads; nothing here sends a packet to, or configures, the machine. Where an attempt could
// change the machine (a sysctl, the hostname), the original value is read first and, should the attempt have
// succeeded, put back at once.
import { existsSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { describe, expect, test } from '../../src/vitest.js';
import { createLab, InvalidInputError, type Lab } from '../../src/index.js';
import { run } from '../../src/exec.js';
import { LAB_ID_BASE, LAB_ID_COUNT } from '../../src/lab/lifeline-argv.js';

const root = process.getuid?.() === 0;
const machineNs = (kind: string) => readlinkSync(`/proc/self/ns/${kind}`);

/** Run a fixed shell snippet as the lab's root, in the lab's host; the exit code and output, never thrown. */
async function inLab(lab: Lab, script: string): Promise<{ code: number | undefined; out: string }> {
  const r = await lab.run('host', ['sh', '-c', script], { intent: 'try to leave the lab', reject: false });
  return { code: r.exitCode, out: `${r.stdout}${r.stderr}`.trim() };
}

/** Try `attempt`; if the machine's value changed, put the original back (as the machine's root) before failing. */
async function guarded(read: () => string, restore: (original: string) => Promise<void> | void, attempt: () => Promise<void>): Promise<void> {
  const original = read();
  try {
    await attempt();
  } finally {
    if (read() !== original) await restore(original);
  }
  expect(read()).toBe(original);
}

const readSysctl = (path: string) => readFileSync(path, 'utf8');
const restoreSysctl = (path: string) => (original: string) => writeFileSync(path, original);

test('unmounting /proc to reach the machine\'s, then entering its network namespace by /proc/1/ns/net: stays in the lab', async ({ lab }) => {
  const labNet = (await inLab(lab, 'readlink /proc/self/ns/net')).out;
  expect(labNet).toMatch(/^net:\[\d+\]$/);
  expect(labNet).not.toBe(machineNs('net'));
  for (const umount of ['umount /proc', 'umount -l /proc']) {
    const r = await inLab(lab, `${umount}; echo "umount=$?"; nsenter --net=/proc/1/ns/net readlink /proc/self/ns/net`);
    // as root the lab's /proc is locked in place; a non-root user's lab may unmount it, but /proc/1 then cannot be entered
    if (root) expect(r.out).toMatch(/umount=[1-9]/);
    expect(r.out).not.toContain(machineNs('net'));
  }
  // nor can it mount a /proc of its own somewhere else (its PID namespace belongs to the machine's root)
  const own = await inLab(lab, 'mkdir -p /run/p && mount -t proc proc /run/p && nsenter --net=/run/p/1/ns/net readlink /proc/self/ns/net');
  expect(own.out).not.toContain(machineNs('net'));
  if (root) expect(own.code).not.toBe(0);
});

test('`ip netns attach machine 1` after unmounting /proc: lab.get("machine") is not the machine\'s namespace', async ({ lab }) => {
  const labNet = (await inLab(lab, 'readlink /proc/self/ns/net')).out;
  await inLab(lab, 'umount /proc; umount -l /proc; ip netns attach machine 1');
  // an ordinary user's lab cannot attach at all (no name to find: NotFoundError), which is as good
  const seen = await Promise.resolve()
    .then(() => lab.get('machine').exec('readlink', ['/proc/self/ns/net'], { reject: false }))
    .then(
      (r) => r.stdout.trim(),
      (error: unknown) => {
        if (root || (error as Error).name !== 'NotFoundError') throw error;
        return '';
      },
    );
  expect(seen).not.toBe(machineNs('net'));
  if (seen) expect(seen).toBe(labNet); // attached the lab's own PID 1: its host
});

test('sysctls outside net.* cannot be written from a lab; the machine\'s values stay as they were', async ({ lab }) => {
  const swappiness = '/proc/sys/vm/swappiness';
  const domainname = '/proc/sys/kernel/domainname';
  await guarded(() => readSysctl(swappiness), restoreSysctl(swappiness), async () => {
    const value = Number(readSysctl(swappiness)) === 60 ? 61 : 60;
    const r = await inLab(lab, `sysctl -w vm.swappiness=${value}`);
    expect(r.code, r.out).not.toBe(0);
    const direct = await inLab(lab, `echo ${value} > /proc/sys/vm/swappiness`);
    expect(direct.code, direct.out).not.toBe(0);
  });
  await guarded(() => readSysctl(domainname), restoreSysctl(domainname), async () => {
    const r = await inLab(lab, 'sysctl -w kernel.domainname=netspec-escaped');
    expect(r.code, r.out).not.toBe(0);
  });
  // the kernel's other knobs under /proc too: the machine's IRQ affinities are hidden under an empty read-only tmpfs
  // (writing the value a knob already has: harmless had it been allowed)
  const irq = await inLab(lab, '[ ! -e /proc/irq/default_smp_affinity ] || cat /proc/irq/default_smp_affinity > /proc/irq/default_smp_affinity');
  // as root: nothing there to write to; an ordinary user's lab cannot cover /proc/irq, and the write is refused
  if (root) expect(irq.code, irq.out).toBe(0);
  else if (irq.code !== 0) expect(irq.out).toMatch(/Permission denied|Read-only/);
  if (root && existsSync('/proc/irq')) {
    const seen = await inLab(lab, "ls -A /proc/irq; grep ' /proc/irq ' /proc/self/mountinfo; : > /proc/irq/netspec-probe");
    expect(seen.code, seen.out).not.toBe(0); // nothing can be created there
    expect(seen.out).toMatch(/ \/proc\/irq ro,.* - tmpfs /);
    expect(seen.out).not.toMatch(/default_smp_affinity/);
  }
  if (root) {
    // nor can it make /proc/sys writable again, or take the read-only mount away
    for (const attempt of ['mount -o remount,rw /proc/sys', 'mount -o remount,bind,rw /proc/sys', 'umount /proc/sys', 'umount -l /proc/sys', 'umount -l /proc/irq', 'mount -o remount,rw /proc/irq']) {
      expect((await inLab(lab, attempt)).code, attempt).not.toBe(0);
    }
  }
  // what a lab needs still works: its own network sysctls, bridge-nf-call-iptables among them
  const net = await inLab(lab, 'sysctl -w net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 && sysctl -n net.ipv4.ip_forward');
  expect(net.code, net.out).toBe(0);
  expect(net.out).toMatch(/1$/);
  const brnf = '/proc/sys/net/bridge/bridge-nf-call-iptables';
  const machineBrnf = readSysctl(brnf);
  const other = machineBrnf.trim() === '1' ? 0 : 1;
  const r = await inLab(lab, `sysctl -w net.bridge.bridge-nf-call-iptables=${other} && sysctl -n net.bridge.bridge-nf-call-iptables`);
  expect(r.code, r.out).toBe(0);
  expect(r.out).toMatch(new RegExp(`${other}$`));
  expect(readSysctl(brnf)).toBe(machineBrnf); // the lab's own copy, not the machine's
});

test('`hostname` in a lab names the lab only: its own UTS and IPC namespaces', async ({ lab }) => {
  const original = hostname();
  try {
    const r = await inLab(lab, 'hostname netspec-lab && hostname && readlink /proc/self/ns/uts /proc/self/ns/ipc');
    expect(r.code, r.out).toBe(0);
    const [name, uts, ipc] = r.out.split('\n');
    expect(name).toBe('netspec-lab');
    expect(uts).not.toBe(machineNs('uts'));
    expect(ipc).not.toBe(machineNs('ipc'));
  } finally {
    if (hostname() !== original) await run(['hostname', original], { intent: 'put the machine\'s hostname back' });
  }
  expect(hostname()).toBe(original);
  // a namespace of the lab shares the lab's hostname, as containers on one host would not, but nothing of the machine's
  await lab.netns('red');
  expect((await lab.get('red').exec('hostname')).stdout.trim()).toBe('netspec-lab');
});

test('what the tutorial needs still works in the default lab: iptables, ip6tables, nft, brctl and sysfs, ping, fping, socat', async ({ lab }) => {
  const script = [
    'set -e',
    'iptables -P FORWARD DROP && iptables -t nat -A POSTROUTING -s 10.0.0.0/24 -j MASQUERADE',
    'iptables -A FORWARD -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT',
    'ip6tables -P FORWARD DROP',
    'nft add table inet netspec_t && nft list table inet netspec_t >/dev/null',
    'brctl addbr br9 && brctl show | grep -q br9 && [ -d /sys/class/net/br9/bridge ]',
    'ip netns add a && ip netns add b',
    'ip link add name va netns a type veth peer name vb netns b',
    'ip -n a addr add 10.9.0.1/24 dev va && ip -n b addr add 10.9.0.2/24 dev vb',
    'ip -n a link set va up && ip -n b link set vb up',
    'ip netns exec a ping -c1 -W2 10.9.0.2 >/dev/null',
    'ip netns exec a fping -r2 10.9.0.2 >/dev/null',
    'ip netns exec b socat -T2 TCP-LISTEN:7000,reuseaddr SYSTEM:"echo pong" & sleep 0.3',
    'ip netns exec a socat -T2 - TCP:10.9.0.2:7000 </dev/null | grep -q pong',
    'ip netns exec a ls /sys/class/net | grep -q va',
    'echo all-ok',
  ].join('\n');
  const r = await inLab(lab, script);
  expect(r.out).toMatch(/all-ok$/);
  expect(r.code, r.out).toBe(0);
});

describe.runIf(root)('a full-privilege lab, only when asked for', () => {
  test('{ privileged: true } has no user namespace (the machine\'s root), but its own network, UTS and IPC', async () => {
    await using lab = await createLab({ privileged: true });
    expect(lab.userns).toBe(false);
    const r = await inLab(lab, 'readlink /proc/self/ns/user /proc/self/ns/net /proc/self/ns/uts /proc/self/ns/ipc');
    const [user, net, uts, ipc] = r.out.split('\n');
    expect(user).toBe(machineNs('user'));
    expect([net, uts, ipc]).not.toContain(machineNs('net'));
    expect(uts).not.toBe(machineNs('uts'));
    expect(ipc).not.toBe(machineNs('ipc'));
  });

  test('the default lab, as root, is in a user namespace of its own, its root mapped to an unprivileged id range', async ({ lab }) => {
    expect(lab.userns).toBe(true);
    const r = await inLab(lab, 'readlink /proc/self/ns/user; id -u; cat /proc/self/uid_map');
    const [user, uid, map] = r.out.split('\n');
    expect(user).not.toBe(machineNs('user'));
    expect(uid).toBe('0');
    expect(map!.trim().split(/\s+/)).toEqual(['0', String(LAB_ID_BASE), String(LAB_ID_COUNT)]);
  });
});

test.each([
  [{ cgroups: true }, /lab option cgroups true: .*createLab\(\{ privileged: true, cgroups: true \}\)/],
  [{ privileged: true, userns: true }, /privileged: true means no user namespace/],
  [{ commandTimeoutMs: Infinity }, /lab option commandTimeoutMs .*expected a finite number/],
  [{ startTimeoutMs: Number.POSITIVE_INFINITY }, /lab option startTimeoutMs .*expected a finite number/],
  [{ privileged: 'yes' }, /lab option privileged "yes": expected true or false/],
])('createLab(%o) is refused before anything starts', async (options, message) => {
  const error = await createLab(options as never).then(
    (lab) => (void lab.dispose(), undefined),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(InvalidInputError);
  expect((error as Error).message).toMatch(message);
});
