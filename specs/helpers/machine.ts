/** A snapshot of the machine's own network state, to prove that labs leave nothing behind and change nothing. */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { run } from '../../src/exec.js';

export interface MachineState {
  netns: string;
  links: string[];
  addresses: string[];
  routes: string;
  mounts: string[];
  iptables: string;
  nft: string;
  forwarding: string;
}

async function out(argv: string[]): Promise<string> {
  const r = await run(argv, { intent: 'read machine state', reject: false });
  return r.exitCode === 0 ? r.stdout : `(${argv[0]} exited ${r.exitCode})`;
}

export async function machineState(): Promise<MachineState> {
  const [netns, links, addrs, routes, iptables, nft, fw4, fw6] = await Promise.all([
    out(['ip', 'netns', 'list']),
    out(['ip', '-j', 'link', 'show']),
    out(['ip', '-j', 'addr', 'show']),
    out(['ip', 'route', 'show', 'table', 'all']),
    out(['iptables-save']),
    out(['nft', 'list', 'ruleset']),
    out(['sysctl', '-n', 'net.ipv4.ip_forward']),
    out(['sysctl', '-n', 'net.ipv6.conf.all.forwarding']),
  ]);
  const linkRows = (JSON.parse(links) as { ifname: string; flags: string[]; operstate: string; master?: string }[]).map(
    (l) => `${l.ifname} ${l.flags.join(',')} ${l.operstate} ${l.master ?? ''}`,
  );
  const addrRows = (JSON.parse(addrs) as { ifname: string; addr_info: { local: string; prefixlen: number }[] }[]).flatMap((l) =>
    l.addr_info.map((a) => `${l.ifname} ${a.local}/${a.prefixlen}`),
  );
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const f = line.split(' ');
      const dash = f.indexOf('-');
      return `${f[4]} ${f[dash + 1]} ${f[dash + 2]}`;
    })
    .sort();
  return {
    netns,
    links: linkRows.sort(),
    addresses: addrRows.sort(),
    routes,
    mounts,
    iptables: iptables.split('\n').filter((l) => !l.startsWith('#')).map((l) => l.replace(/\[\d+:\d+\]/g, '')).join('\n'),
    nft,
    forwarding: `${fw4.trim()} ${fw6.trim()}`,
  };
}

/** Processes whose command line contains `marker` (other than us). */
export function processesMatching(marker: string): string[] {
  const hits: string[] = [];
  for (const pid of readdirPids()) {
    try {
      const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
      if (args.includes(marker) && pid !== process.pid) hits.push(`${pid} ${args}`);
    } catch {
      /* gone */
    }
  }
  return hits;
}

export function pidAlive(pid: number): boolean {
  try {
    // state Z (zombie) counts as gone: it holds no namespace
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/\) Z /.test(stat);
  } catch {
    return false;
  }
}

function readdirPids(): number[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .map(Number);
}

/** Wait until `check` is true or `ms` passes. */
export async function eventually(check: () => boolean, ms = 5000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return check();
}

/** The inode of a process's namespace of `kind` (`pid_for_children`, `net`, …), e.g. "pid:[4026532890]". */
export function nsId(pid: number, kind: string): string {
  return readlinkSync(`/proc/${pid}/ns/${kind}`);
}

/** Processes (other than zombies) in the PID namespace `id` (as returned by nsId(pid, 'pid_for_children')). */
export function processesInPidNs(id: string): number[] {
  const hits: number[] = [];
  for (const pid of readdirPids()) {
    try {
      if (readlinkSync(`/proc/${pid}/ns/pid`) === id && pidAlive(pid)) hits.push(pid);
    } catch {
      /* gone, or not ours to read */
    }
  }
  return hits;
}

/** Start specs/helpers/lab-child.ts (a process with a lab in it) and wait for its report. */
export async function startChild(marker: string, mode = 'idle'): Promise<{ child: ReturnType<typeof spawn>; pid: number; pidns: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'specs/helpers/lab-child.ts', marker, mode], { cwd: new URL('../..', import.meta.url).pathname, stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) resolve(out.split('\n')[0]!);
    });
    child.once('exit', (code) => reject(new Error(`child exited early (${code})`)));
  });
  const info = JSON.parse(line) as { pid: number; pidns: string };
  return { child, pid: info.pid, pidns: info.pidns };
}


/** A running process (zombies are left out: they hold no namespace). */
export interface Proc {
  pid: number;
  ppid: number;
  comm: string;
  cmdline: string;
}

/** Every running process, with its parent, name and command line (arguments joined by spaces). */
export function processes(): Proc[] {
  const out: Proc[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const [st, ppid] = stat.slice(close + 2).split(' ');
      if (st === 'Z') continue; // a zombie holds no namespace
      out.push({ pid: Number(d), ppid: Number(ppid), comm: stat.slice(stat.indexOf('(') + 1, close), cmdline: readFileSync(`/proc/${d}/cmdline`, 'utf8').replaceAll('\0', ' ') });
    } catch {
      /* gone */
    }
  }
  return out;
}

