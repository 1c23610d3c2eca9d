/** `netspec doctor`: what this machine has and lacks for netspec, in one table, each line with its fix. */
import { existsSync, readFileSync } from 'node:fs';
import { release } from 'node:os';
import { installHint, which } from './exec.js';
import { createLab } from './lab.js';

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
];

function readProc(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
}

export async function doctor(): Promise<Check[]> {
  const checks: Check[] = [];
  const root = process.getuid?.() === 0;
  checks.push({ check: 'kernel', ok: process.platform === 'linux', required: true, detail: `${process.platform} ${release()}` });
  checks.push({ check: 'privileges', ok: true, required: false, detail: root ? 'root: labs use plain namespaces' : `uid ${process.getuid?.()}: labs need unprivileged user namespaces` });
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
  for (const [label, userns, required] of [
    ['a lab (plain namespaces)', false, root],
    ['a lab (user namespace)', true, !root],
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
