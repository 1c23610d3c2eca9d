/** `netspec doctor`: what this machine has and lacks for netspec, in one table, each line with its fix. */
import { existsSync, readFileSync } from 'node:fs';
import { release } from 'node:os';
import { KERNEL_MODULES } from './errors.js';
import { installHint, which } from './exec.js';
import { createLab } from './lab.js';
import { LAB_ID_BASE, LAB_ID_COUNT, labIdRangeMapped } from './lab/lifeline-argv.js';
import { DEFAULT_BOUNDS } from './lab/options.js';

export interface Check {
  check: string;
  ok: boolean;
  /** Required checks fail the doctor; the others are advice. */
  required: boolean;
  detail: string;
}

const TOOLS: [tool: string, required: boolean, why: string][] = [
  ['ip', true, 'namespaces, links, addresses, routes'],
  ['unshare', true, 'the lab itself'],
  ['nsenter', true, 'entering the lab'],
  ['sysctl', true, 'forwarding and other sysctls'],
  ['iptables', true, 'FORWARD policy, rules'],
  ['iptables-save', true, 'rule counters in diagnoses'],
  ['iptables-restore', true, 'batched rules'],
  ['ping', true, 'toReach (ICMP)'],
  ['timeout', true, 'toReach (ICMP deadline)'],
  ['fping', true, 'reachability meshes'],
  ['socat', true, 'TCP/UDP probes, seenAs'],
  ['nft', true, 'kernel packet traces, seenAs witnesses'],
  ['brctl', false, 'the tutorial\'s `brctl show`'],
  ['arp', false, 'the tutorial\'s `arp`'],
  ['bash', true, 'lab.sh and lab.script'],
  ['tc', false, 'traffic shaping (tbf, netem)'],
  ['busybox', false, 'faster lab start-up (the lifeline runs its mounts as busybox applets)'],
];

/**
 * Kernel features a lab may use, each tried for real inside a lab (a user-namespace lab, as specs run them: a module
 * the kernel would only load for the machine's root counts as missing, and nothing is loaded into the machine).
 * `argv` runs in the lab host after `ip link add nsd0 type veth peer name nsd1`.
 */
export const KERNEL_FEATURES: { feature: string; argv: string[]; why: string; module: string }[] = [
  { feature: 'veth', argv: ['ip', 'link', 'add', 'f0', 'type', 'veth', 'peer', 'name', 'f1'], why: 'virtual cables', module: 'veth' },
  { feature: 'bridge', argv: ['ip', 'link', 'add', 'f0', 'type', 'bridge'], why: 'switches', module: 'bridge' },
  { feature: 'bridge vlan_filtering', argv: ['ip', 'link', 'add', 'f0', 'type', 'bridge', 'vlan_filtering', '1'], why: 'VLAN-aware bridges (per-port VLANs)', module: 'bridge built with CONFIG_BRIDGE_VLAN_FILTERING' },
  { feature: 'vxlan', argv: ['ip', 'link', 'add', 'f0', 'type', 'vxlan', 'id', '42', 'dstport', '4789', 'dev', 'nsd0'], why: 'overlay networks', module: 'vxlan' },
  { feature: 'macvlan', argv: ['ip', 'link', 'add', 'link', 'nsd0', 'name', 'f0', 'type', 'macvlan'], why: 'macvlan links (CNI macvlan)', module: 'macvlan' },
  { feature: 'vlan (802.1q)', argv: ['ip', 'link', 'add', 'link', 'nsd0', 'name', 'f0', 'type', 'vlan', 'id', '5'], why: 'VLAN sub-interfaces', module: '8021q' },
  { feature: 'dummy', argv: ['ip', 'link', 'add', 'f0', 'type', 'dummy'], why: 'dummy interfaces', module: 'dummy' },
  { feature: 'bond', argv: ['ip', 'link', 'add', 'f0', 'type', 'bond'], why: 'bonded links', module: 'bonding' },
  { feature: 'vrf', argv: ['ip', 'link', 'add', 'f0', 'type', 'vrf', 'table', '10'], why: 'VRFs', module: 'vrf' },
  { feature: 'gretap', argv: ['ip', 'link', 'add', 'f0', 'type', 'gretap', 'local', '192.0.2.1', 'remote', '192.0.2.2'], why: 'GRE tunnels', module: 'ip_gre' },
  { feature: 'wireguard', argv: ['ip', 'link', 'add', 'f0', 'type', 'wireguard'], why: 'WireGuard', module: 'wireguard' },
  { feature: 'tbf qdisc', argv: ['tc', 'qdisc', 'add', 'dev', 'nsd0', 'root', 'tbf', 'rate', '1mbit', 'burst', '32kbit', 'latency', '400ms'], why: 'rate limits', module: 'sch_tbf' },
  { feature: 'netem qdisc', argv: ['tc', 'qdisc', 'add', 'dev', 'nsd0', 'root', 'netem', 'delay', '10ms'], why: 'delay and loss', module: 'sch_netem' },
  // the landing watch follows a proxy's onward connections by their conntrack tuple (`ct direction`, `ct original`,
  // `ct state`): without nft_ct every TCP probe's watch fails to load, and its verdict is a ProbeError
  { feature: 'nftables conntrack (ct)', argv: ['nft', 'add table inet f0; add chain inet f0 c { type filter hook input priority 0; policy accept; ct state invalid,untracked counter; ct direction reply counter; }'], why: 'the landing watch over TCP (proxies followed by their conntrack tuple)', module: 'nft_ct' },
];

/** Which of KERNEL_FEATURES the kernel gives a lab: feature → ok, with the kernel's words when not. */
export async function kernelFeatures(): Promise<Map<string, { ok: boolean; detail: string }>> {
  const out = new Map<string, { ok: boolean; detail: string }>();
  const lab = await createLab();
  try {
    await lab.host.exec('ip', ['link', 'add', 'nsd0', 'type', 'veth', 'peer', 'name', 'nsd1']);
    for (const f of KERNEL_FEATURES) {
      const r = await lab.host.exec(f.argv[0]!, f.argv.slice(1), { reject: false });
      out.set(f.feature, { ok: r.exitCode === 0, detail: r.exitCode === 0 ? f.why : (r.stderr.trim().split('\n')[0] ?? `exit ${r.exitCode}`) });
      if (r.exitCode !== 0) continue;
      if (f.argv[0] === 'tc') await lab.host.exec('tc', ['qdisc', 'del', 'dev', 'nsd0', 'root'], { reject: false });
      else if (f.argv[0] === 'nft') await lab.host.exec('nft', ['delete', 'table', 'inet', 'f0'], { reject: false });
      else await lab.host.exec('ip', ['link', 'del', 'f0'], { reject: false });
    }
  } finally {
    await lab.dispose();
  }
  return out;
}

/** What a missing kernel feature needs: its module, loaded by the machine's root, or the kernel option (KERNEL_MODULES). */
function kernelFix(module: string): string {
  if (module.includes(' ')) return `the kernel needs ${module}`;
  const provider = Object.values(KERNEL_MODULES).find((p) => p.module === module);
  return `the kernel needs the ${module} module (\`modprobe ${module}\` as root on the machine${provider ? `, or a kernel built with ${provider.config}` : ''})`;
}

function readProc(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** Which of a lab's bounds (LabOptions: runSizeMb, tmpSizeMb, maxProcesses) this machine enforces, and its id mapping. */
export function boundChecks(root: boolean): Check[] {
  const mapped = root && labIdRangeMapped();
  const prlimit = Boolean(which('prlimit'));
  const v2 = existsSync('/sys/fs/cgroup/cgroup.controllers');
  const controllers = v2 ? (readProc('/sys/fs/cgroup/cgroup.controllers') ?? '') : '';
  return [
    {
      check: 'lab ids',
      ok: !root || mapped,
      required: false,
      detail: root
        ? mapped
          ? `a lab's root is the machine's uid ${LAB_ID_BASE} (${LAB_ID_COUNT} ids from there): an ordinary user to the machine's permission checks`
          : `a lab's root is this root: this user namespace has no ids ${LAB_ID_BASE}… to map it to (a container's?)`
        : `a lab's root is this user (uid ${process.getuid?.()}), with one id`,
    },
    { check: 'bound /run, /tmp', ok: true, required: false, detail: `a lab's own tmpfs: /run ${DEFAULT_BOUNDS.runSizeMb} MiB, /tmp and /dev/shm ${DEFAULT_BOUNDS.tmpSizeMb} MiB each by default (runSizeMb, tmpSizeMb)` },
    {
      check: 'bound processes',
      ok: prlimit && (!root || mapped),
      required: false,
      detail: !prlimit
        ? `not enforced: no prlimit (${installHint('prlimit')})`
        : root && !mapped
          ? "not enforced: a lab's root is this root, which RLIMIT_NPROC exempts"
          : `RLIMIT_NPROC of the lab's root, ${DEFAULT_BOUNDS.maxProcesses} per lab by default (maxProcesses)`,
    },
    {
      check: 'bound memory, pids cgroup',
      ok: false,
      required: false,
      detail: `not enforced: netspec makes no cgroups yet (this machine: ${v2 ? `cgroup v2, controllers ${controllers || 'none'}` : 'cgroup v1'}); a lab's memory is bounded only through its tmpfs sizes`,
    },
  ];
}

export async function doctor(): Promise<Check[]> {
  const checks: Check[] = [];
  const root = process.getuid?.() === 0;
  checks.push({ check: 'kernel', ok: process.platform === 'linux', required: true, detail: `${process.platform} ${release()}` });
  checks.push({ check: 'privileges', ok: true, required: false, detail: root ? `root: a lab is a user namespace whose ids are the machine's ${LAB_ID_BASE}… (an ordinary user to the machine); createLab({ privileged: true }) gives plain namespaces, with the machine's root` : `uid ${process.getuid?.()}: labs need unprivileged user namespaces, and map this user alone` });
  for (const [tool, required, why] of TOOLS) {
    const path = which(tool);
    checks.push({ check: `tool ${tool}`, ok: Boolean(path), required, detail: path ? `${path} (${why})` : `missing (${why}): ${installHint(tool)}` });
  }
  const maxUserNs = readProc('/proc/sys/user/max_user_namespaces');
  const clone = readProc('/proc/sys/kernel/unprivileged_userns_clone');
  const apparmor = readProc('/proc/sys/kernel/apparmor_restrict_unprivileged_userns');
  checks.push({
    check: 'user namespace limits',
    ok: maxUserNs !== '0' && clone !== '0' && apparmor !== '1',
    required: !root,
    detail: `user.max_user_namespaces=${maxUserNs ?? '?'}${clone !== undefined ? `, kernel.unprivileged_userns_clone=${clone}` : ''}${apparmor !== undefined ? `, kernel.apparmor_restrict_unprivileged_userns=${apparmor}` : ''}`,
  });
  checks.push({
    check: 'br_netfilter',
    ok: existsSync('/proc/sys/net/bridge/bridge-nf-call-iptables'),
    required: false,
    detail: existsSync('/proc/sys/net/bridge/bridge-nf-call-iptables') ? 'bridged traffic can be filtered (the tutorial\'s FORWARD DROP case)' : 'not loaded: specs of bridged-traffic filtering cannot show FILTERED (`modprobe br_netfilter` as root)',
  });
  checks.push(...boundChecks(root));
  try {
    const features = await kernelFeatures();
    for (const f of KERNEL_FEATURES) {
      const r = features.get(f.feature)!;
      checks.push({
        check: `kernel ${f.feature}`,
        ok: r.ok,
        required: f.feature === 'veth' || f.feature === 'bridge',
        detail: r.ok ? f.why : `not available to labs (${r.detail}): ${f.why} cannot be tested here; ${kernelFix(f.module)}`,
      });
    }
  } catch (error) {
    checks.push({ check: 'kernel features', ok: false, required: false, detail: `could not be tried in a lab: ${error instanceof Error ? error.message : String(error)}` });
  }
  for (const [label, userns, required] of [
    ['a lab (plain namespaces: privileged: true)', false, false],
    ['a lab (user namespace: the default)', true, true],
  ] as const) {
    if (userns === false && !root) {
      checks.push({ check: label, ok: false, required: false, detail: 'needs root; as this user netspec uses a user namespace' });
      continue;
    }
    try {
      const lab = await createLab({ userns });
      await lab.dispose();
      checks.push({ check: label, ok: true, required, detail: 'created and disposed' });
    } catch (error) {
      checks.push({ check: label, ok: false, required, detail: error instanceof Error ? error.message : String(error) });
    }
  }
  return checks;
}

export function formatChecks(checks: readonly Check[]): string {
  const w = Math.max(...checks.map((c) => c.check.length));
  const lines = checks.map((c) => `${c.ok ? 'ok  ' : c.required ? 'FAIL' : 'warn'}  ${c.check.padEnd(w)}  ${c.detail}`);
  const failed = checks.filter((c) => !c.ok && c.required).length;
  lines.push('', failed ? `${failed} required check(s) failed: netspec cannot run here until they are fixed` : 'netspec can run here');
  return lines.join('\n');
}
