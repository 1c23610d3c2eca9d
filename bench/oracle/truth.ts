/**
 * The oracle: what the kernel does, observed with plain tools and no code of netspec's probe, landing or parse modules.
 * A listener (bench/oracle/listener.py) in every namespace of the lab records every TCP connection, UDP datagram and
 * ICMP echo request that arrives there with the sender's nonce, the local address after every NAT and the peer as that
 * namespace saw it, and answers TCP/UDP; the sender is plain `socat` or `ping -p NONCE`, run with the lab's exec (argv).
 * Route lookups are the kernel's own `ip route get`, read as text.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { sharedDir } from './dirs.js';
import { join } from 'node:path';
import type { Netns } from '../../src/index.js';

const LISTENER = new URL('./listener.py', import.meta.url).pathname;
const KNOCK = new URL('./knock.py', import.meta.url).pathname;
const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

export interface Arrival {
  ns: string;
  /** syn / dgram: the raw sockets' records of what the kernel delivered locally (exposure claims); unbound: a port the
   *  listener could not bind there. */
  proto: 'tcp' | 'udp' | 'icmp' | 'syn' | 'dgram' | 'unbound';
  port?: number;
  /** syn / dgram: the sender's source port as it arrived. */
  sport?: number;
  peer: string;
  local?: string;
  nonce?: string;
  payload?: string;
}

export interface Observation {
  /** The sender got the answer carrying its own nonce (ICMP: an echo reply). */
  reached: boolean;
  /** The namespaces where the probe's own packet (its nonce) arrived, and the source each saw. */
  arrivals: Arrival[];
  /** What the sender printed (for the report). */
  output: string;
  /** Mesh claims: source → address → reached. */
  matrix?: Record<string, Record<string, boolean>>;
  /** Exposure claims: each port probed. */
  ports?: Map<number, PortTruth>;
}

export class Listeners {
  readonly dir = sharedDir('listen-');
  #running: Promise<unknown>[] = [];

  async start(namespaces: readonly Netns[], ports: readonly number[]): Promise<void> {
    for (const ns of namespaces) {
      const args = [LISTENER, ns.name, join(this.dir, `${ns.name}.log`), join(this.dir, `${ns.name}.ready`), join(this.dir, 'stop'), ...ports.map(String)];
      this.#running.push(ns.exec(PYTHON, args, { reject: false, timeoutMs: 70_000, intent: 'oracle listener' }));
    }
    const deadline = Date.now() + 15_000;
    while (!namespaces.every((ns) => existsSync(join(this.dir, `${ns.name}.ready`)))) {
      if (Date.now() > deadline) throw new Error(`oracle: listeners did not start in ${namespaces.map((n) => n.name).join(', ')}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  arrivals(): Arrival[] {
    const out: Arrival[] = [];
    for (const f of readdirSync(this.dir).filter((f) => f.endsWith('.log'))) {
      for (const line of readFileSync(join(this.dir, f), 'utf8').split('\n')) if (line.trim()) out.push(JSON.parse(line) as Arrival);
    }
    return out;
  }

  /** Stop every listener and wait until each has exited. */
  async stop(): Promise<void> {
    writeFileSync(join(this.dir, 'stop'), '');
    await Promise.all(this.#running);
    this.#running = [];
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

const nonce = () => randomBytes(8).toString('hex');

export async function observe(from: Netns, listeners: Listeners, address: string, proto: 'icmp' | 'tcp' | 'udp', port: number): Promise<Observation> {
  const n = nonce();
  let reached = false;
  let output = '';
  if (proto === 'icmp') {
    const r = await from.exec('ping', ['-n', '-c', '2', '-i', '0.2', '-W', '1', '-p', n, address], { reject: false, timeoutMs: 10_000, intent: 'oracle ping' });
    output = `ping -c 2 -p ${n} ${address}: ${(/(\d+) received/.exec(r.stdout)?.[0] ?? r.stdout.trim().split('\n').at(-1)) || r.stderr.trim()}`;
    reached = Number(/(\d+) received/.exec(r.stdout)?.[1] ?? 0) > 0;
  } else {
    for (let attempt = 0; attempt < (proto === 'udp' ? 2 : 1) && !reached; attempt++) {
      const dest = proto === 'tcp' ? `TCP:${address}:${port},connect-timeout=1.5` : `UDP:${address}:${port}`;
      const r = await from.exec('socat', ['-T', proto === 'tcp' ? '1.5' : '0.7', '-', dest], { input: `${n}\n`, reject: false, timeoutMs: 10_000, intent: 'oracle socat' });
      reached = r.stdout.includes(` ${n}`) && r.stdout.startsWith('ORACLE ');
      output = `socat - ${dest} (nonce ${n}): ${r.stdout.trim() || r.stderr.trim().split('\n').at(-1) || `exit ${r.exitCode}`}`;
    }
  }
  await new Promise((r) => setTimeout(r, 100)); // the listeners write their lines
  const arrivals = listeners.arrivals().filter((a) => (proto === 'icmp' ? a.proto === 'icmp' && a.payload?.includes(n) : a.proto === proto && a.nonce === n));
  return { reached, arrivals, output };
}

/** One port of an exposure claim as the oracle saw it. */
export interface PortTruth {
  port: number;
  /** What the sender saw: connected, refused, unanswered, sent (UDP), error: … */
  result: string;
  /** Where the kernel delivered the probe locally (after every input filter), with the port it arrived at after any
   *  DNAT: from the listeners' raw sockets. */
  landed: Arrival[];
  /** Delivered somewhere in the lab (or answered by a connection, which only a delivered SYN gets). */
  exposed: boolean;
}

/**
 * The exposure of `address` from `from` on `ports`, one probe per port (bench/oracle/knock.py), every one at once: a
 * port is exposed when the probe was delivered to some namespace's kernel after its input filters (a raw socket's
 * copy, there: a TCP SYN named by its source port, a UDP datagram by its nonce), whatever listens there.
 * `peers`: the sources a delivered probe may show (the client's own address, or an address a MASQUERADE gave it).
 */
export async function observeExposure(from: Netns, listeners: Listeners, address: string, proto: 'tcp' | 'udp', ports: readonly number[], peers: readonly string[]): Promise<{ ports: Map<number, PortTruth>; output: string }> {
  const out = new Map<number, PortTruth>();
  if (!ports.length) return { ports: out, output: 'no port' };
  const n = nonce();
  const r = await from.exec(PYTHON, [KNOCK, proto, address, n, proto === 'tcp' ? '1300' : '500', ...ports.map(String)], { reject: false, timeoutMs: 20_000, intent: 'oracle knock' });
  if (r.exitCode !== 0) throw new Error(`oracle: knock.py in ${from.name} failed (exit ${r.exitCode}): ${r.stderr.trim().split('\n').at(-1)}`);
  const sent = r.stdout
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { port: number; sport: number; result: string });
  await new Promise((res) => setTimeout(res, 150)); // the listeners write their lines
  const all = listeners.arrivals();
  for (const k of sent) {
    const landed =
      proto === 'tcp'
        ? all.filter((a) => a.proto === 'syn' && a.sport === k.sport && peers.includes(a.peer))
        : all.filter((a) => a.proto === 'dgram' && a.nonce === `OXP ${n} ${k.port}`);
    // one record per namespace and landing port (a retransmitted SYN, the datagram sent twice)
    const unique = [...new Map(landed.map((a) => [`${a.ns} ${a.local} ${a.port}`, a])).values()];
    out.set(k.port, { port: k.port, result: k.result, landed: unique, exposed: unique.length > 0 || k.result === 'connected' });
  }
  return { ports: out, output: `python3 knock.py ${proto} ${address} (nonce ${n}), ${ports.length} ports` };
}

/** `ip route get DEST [mark M]` as the kernel prints it, and the gateway read from it ("via X"), or undefined. */
export async function kernelRoute(ns: Netns, dest: string, mark?: number): Promise<{ text: string; via?: string; dev?: string; refused: boolean }> {
  const r = await ns.exec('ip', ['route', 'get', dest, ...(mark !== undefined ? ['mark', String(mark)] : [])], { reject: false, intent: 'oracle ip route get' });
  const text = (r.stdout || r.stderr).trim();
  return { text, via: / via (\S+)/.exec(text)?.[1], dev: / dev (\S+)/.exec(text)?.[1], refused: r.exitCode !== 0 };
}

/** A probe of the lab's own service: reached when the answer carries the nonce back (echo, or a proxy to an echo), or
 *  when a silent service wrote the nonce to its log (it arrived at the end the user meant and was read there). */
export async function observeService(from: Netns, address: string, proto: 'tcp' | 'udp', port: number, silentLogs: readonly string[]): Promise<Observation> {
  const n = nonce();
  let reached = false;
  let output = '';
  for (let attempt = 0; attempt < (proto === 'udp' ? 2 : 1) && !reached; attempt++) {
    const dest = proto === 'tcp' ? `TCP:${address}:${port},connect-timeout=1.5` : `UDP:${address}:${port}`;
    const r = await from.exec('socat', ['-T', proto === 'tcp' ? '1.5' : '0.7', '-', dest], { input: `${n}\n`, reject: false, timeoutMs: 10_000, intent: 'oracle socat' });
    reached = r.stdout.includes(n);
    output = `socat - ${dest} (nonce ${n}): ${r.stdout.trim() || r.stderr.trim().split('\n').at(-1) || `exit ${r.exitCode}, nothing back`}`;
    await new Promise((r) => setTimeout(r, 100));
    const logged = silentLogs.filter((f) => existsSync(f) && readFileSync(f, 'utf8').includes(n));
    if (logged.length) {
      reached = true;
      output += `; the silent server received it (${logged.map((f) => f.split('/').at(-1)).join(', ')})`;
    }
  }
  return { reached, arrivals: [], output };
}

/** `ip rule show` as text: is there a rule, not negated, with this selector and table? */
export async function kernelRule(ns: Netns, selector: string, table: number): Promise<{ has: boolean; text: string }> {
  const r = await ns.exec('ip', ['rule', 'show'], { intent: 'oracle ip rule show' });
  // ip prints "PRIO:<TAB>from …": whitespace normalised before matching
  const lines = r.stdout.split('\n').filter(Boolean).map((l) => l.replace(/\s+/g, ' ').trim());
  const has = lines.some((l) => !/^\d+: not /.test(l) && ` ${l} `.includes(` ${selector} `) && l.endsWith(` lookup ${table}`));
  return { has, text: lines.join(' | ') };
}
