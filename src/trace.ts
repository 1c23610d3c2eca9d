/**
 * Kernel packet traces: what the kernel did with a probe's packets, chain by chain, in every namespace of a lab.
 *
 * A temporary nftables table of netspec's own marks the probe's packets (`meta nftrace set 1`, at priority -350 in
 * prerouting and output, before NAT) in each namespace, and `nft monitor` in each namespace prints every chain, rule,
 * verdict and NAT rewrite they meet, in iptables-nft's tables too (iptables here is iptables-nft) and in native nftables
 * tables alike. Used when a verdict needs explaining (a failing probe, a failing `.not`), never on a passing probe.
 * Attach mode changes nothing, so it has no trace; the diagnosis falls back to rule counters there.
 */
import type { ChildProcess } from 'node:child_process';
import { spawnLongLived, whileStdinOpen } from './exec.js';
import type { Family } from './address.js';
import type { Scope } from './scope.js';

export interface TraceMatch {
  protocol: 'icmp' | 'tcp' | 'udp';
  family: Family;
  /** TCP/UDP: the ports the probe's packets use (before and after DNAT). */
  ports?: number[];
}

/** One verdict the kernel gave one of the probe's packets. */
export interface TraceStep {
  /** The namespace (`host` for the lab host). */
  ns: string;
  /** `ip filter FORWARD`, `inet t2 forward`. */
  chain: string;
  /** The packet as the chain saw it: `icmp echo-request 192.168.15.1 → 203.0.113.8 (iif v-net-0, oif uplink0)`. */
  packet: string;
  /** `accept`, `drop`, `continue`, `jump DOCKER`, … */
  verdict: string;
  /** The rule that gave the verdict (nft syntax), or undefined for the chain's policy. */
  rule?: string;
  /** The packet's TTL (hop limit) as the chain saw it: it falls by one at every router, which orders the hops. */
  ttl?: number;
  /** An answer (echo reply, ICMP error, or from a probed port) rather than the probe's own packet. */
  reply?: boolean;
}

export interface Trace {
  steps: TraceStep[];
  /** Namespaces where no trace could be taken, with why. */
  unavailable: string[];
}

let traces = 0;

function markRules(match: TraceMatch): string[] {
  if (match.protocol === 'icmp') {
    return match.family === 6
      ? ['meta l4proto icmpv6 icmpv6 type { echo-request, echo-reply, destination-unreachable, time-exceeded, packet-too-big, parameter-problem } meta nftrace set 1']
      : ['meta l4proto icmp meta nftrace set 1'];
  }
  const ports = [...new Set(match.ports ?? [])].filter((p) => Number.isInteger(p) && p > 0 && p < 65536);
  const set = ports.length ? `{ ${ports.join(', ')} }` : '0-65535';
  const icmp = match.family === 6 ? 'meta l4proto icmpv6 icmpv6 type destination-unreachable' : 'meta l4proto icmp icmp type destination-unreachable';
  return [`meta l4proto ${match.protocol} th dport ${set} meta nftrace set 1`, `meta l4proto ${match.protocol} th sport ${set} meta nftrace set 1`, `${icmp} meta nftrace set 1`];
}

/** Run `fn` with the kernel tracing the packets `match` describes in every namespace of `lab`. */
export async function traceDuring<T>(lab: Scope, match: TraceMatch, fn: () => Promise<T>): Promise<{ result?: T; error?: unknown; trace: Trace }> {
  const trace: Trace = { steps: [], unavailable: [] };
  const refused = lab.refusesTables();
  if (refused) {
    trace.unavailable.push(`${refused}, so no trace table was added (rule counters only)`);
    return { ...(await settle(fn)), trace };
  }
  if (process.env.NETSPEC_TRACE === '0') {
    trace.unavailable.push('tracing is turned off (NETSPEC_TRACE=0): rule counters only');
    return { ...(await settle(fn)), trace };
  }
  const table = `netspec_trace_${process.pid}_${++traces}`;
  const rules = markRules(match);
  const chain = (name: string, hook: string) => `chain ${name} { type filter hook ${hook} priority -350; policy accept; ${rules.map((r) => `${r};`).join(' ')} }`;
  // every word is netspec's own: a generated table name, integers, and fixed keywords
  const ruleset = `table inet ${table} { ${chain('pre', 'prerouting')}; ${chain('out', 'output')}; }`;
  const names = ['host', ...lab.namespaces()];
  const monitors = names.map((ns) => startMonitor(lab, ns, table));
  try {
    const [host, rest] = await Promise.all([
      lab.run('host', ['nft', ruleset], { intent: 'add the trace table', reject: false }),
      lab.inEveryNamespace(['nft', ruleset], { intent: 'add the trace table' }),
    ]);
    if (host.exitCode !== 0) trace.unavailable.push(`adding the trace table failed: ${host.stderr.trim().split('\n')[0] ?? `exit ${host.exitCode}`}`);
    for (const f of rest.failures) trace.unavailable.push(`adding the trace table failed: ${f}`);
    // a monitor that subscribed after the table was added saw nothing yet: poke it with a change to our own table
    // (an empty chain) until every monitor has printed something of the table, so none misses the probe's packets
    for (let poke = 0; poke < 40 && monitors.some((m) => !m.wasReady()); poke++) {
      await new Promise((r) => setTimeout(r, 100));
      await Promise.all(
        monitors.map((m, i) => (m.wasReady() ? undefined : lab.run(names[i]!, ['nft', 'add', 'chain', 'inet', table, `ready${poke}`], { intent: 'wake the trace monitor', reject: false }).catch(() => undefined))),
      );
    }
    return { ...(await settle(fn)), trace };
  } finally {
    await Promise.all([
      lab.run('host', ['nft', 'delete', 'table', 'inet', table], { intent: 'remove the trace table', reject: false }).catch(() => undefined),
      lab.inEveryNamespace(['nft', 'delete', 'table', 'inet', table], { intent: 'remove the trace table' }).catch(() => undefined),
    ]);
    // the table's removal is the last change to it, after the probe: once a monitor has printed it, it has printed every
    // trace event before it (a busy machine may leave a monitor behind; stopping it early would lose the verdicts). It
    // was a chain added to mark the end, one more nft process a namespace for every traced probe. (The line's end: the
    // table netspec_trace_P_1 must not be taken for netspec_trace_P_10.)
    const waitUntil = performance.now() + 5000;
    while (performance.now() < waitUntil && monitors.some((m) => m.wasReady() && !m.saw(`delete table inet ${table}\n`))) await new Promise((r) => setTimeout(r, 20));
    const outputs = await Promise.all(monitors.map((m) => m.stop()));
    for (const [i, m] of monitors.entries()) {
      if (!m.wasReady()) trace.unavailable.push(`${names[i]}: nft monitor did not start within 4 s`);
      trace.steps.push(...parseTrace(names[i]!, outputs[i]!, table, match.ports));
    }
  }
}

async function settle<T>(fn: () => Promise<T>): Promise<{ result?: T; error?: unknown }> {
  try {
    return { result: await fn() };
  } catch (error) {
    return { error };
  }
}

/** `nft monitor` in one namespace, until stopped; ready once it has seen our own table being added. */
function startMonitor(lab: Scope, ns: string, table: string): { wasReady(): boolean; saw(text: string): boolean; stop(): Promise<string> } {
  const [file, ...args] = lab.enter(ns);
  // the monitor ends when its stdin closes (this process ended it, or died)
  const child: ChildProcess = spawnLongLived([file!, ...args, ...whileStdinOpen(['nft', 'monitor'])], { stdio: ['pipe', 'pipe', 'ignore'] });
  child.stdin?.on('error', () => undefined);
  let out = '';
  let ready = false;
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    if (out.length < 4 * 1024 * 1024) out += d;
    if (!ready && out.includes(` inet ${table}`)) ready = true;
  });
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  child.once('error', () => undefined);
  return {
    wasReady: () => ready,
    saw: (text: string) => out.includes(text),
    async stop() {
      child.stdin?.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
      return out;
    },
  };
}

/** Parse `nft monitor` output: `trace id ID FAMILY TABLE CHAIN (packet: … | rule … (verdict V) | policy V | verdict V)`. */
export function parseTrace(ns: string, text: string, ownTable: string, ports: readonly number[] = []): TraceStep[] {
  const packets = new Map<string, string>();
  const facts = new Map<string, { ttl?: number; reply: boolean }>();
  const steps: TraceStep[] = [];
  for (const line of text.split('\n')) {
    const m = /^trace id (\S+) (\S+) (\S+) (\S+) (.*)$/.exec(line.trim());
    if (!m) continue;
    const [, id, family, tbl, chainName, rest] = m as unknown as [string, string, string, string, string, string];
    if (rest.startsWith('packet: ')) {
      packets.set(id, describePacket(rest.slice(8)));
      facts.set(id, packetFacts(rest.slice(8), ports));
      // our own chains see every marked packet as it enters (prerouting) or leaves (output) the namespace
      if (tbl === ownTable) steps.push({ ns, chain: chainName === 'out' ? 'output' : 'prerouting', packet: packets.get(id)!, verdict: 'seen', ...facts.get(id) });
      continue;
    }
    // netspec's own tables (this trace's, and those of traces running beside it) are not the user's rules
    if (tbl === ownTable || tbl.startsWith('netspec_')) continue;
    const chain = `${family} ${tbl} ${chainName}`;
    const packet = packets.get(id) ?? '';
    const rule = /^rule (.*) \(verdict ([^)]*)\)$/.exec(rest);
    if (rule) {
      steps.push({ ns, chain, packet, verdict: rule[2]!, rule: rule[1]!.replace(/ counter packets \d+ bytes \d+/, ' counter') });
      continue;
    }
    const policy = /^policy (\S+)/.exec(rest);
    if (policy) {
      steps.push({ ns, chain, packet, verdict: policy[1]! });
      continue;
    }
    const verdict = /^verdict (.*)$/.exec(rest);
    if (verdict && verdict[1] !== 'continue') steps.push({ ns, chain, packet, verdict: verdict[1]! });
  }
  return steps;
}

/** What orders a packet's sightings: its TTL (hop limit), and whether it answers the probe. */
function packetFacts(text: string, ports: readonly number[]): { ttl?: number; reply: boolean } {
  const ttl = /\bip6? (?:ttl|hoplimit) (\d+)/.exec(text)?.[1];
  const icmp = /\bicmp(?:v6)? type (\S+)/.exec(text)?.[1];
  const sport = Number(/\b(?:tcp|udp) sport (\d+)/.exec(text)?.[1]);
  const dport = Number(/\b(?:tcp|udp) dport (\d+)/.exec(text)?.[1]);
  const reply = icmp ? icmp !== 'echo-request' : ports.includes(sport) && !ports.includes(dport);
  return { ...(ttl ? { ttl: Number(ttl) } : {}), reply };
}

function describePacket(text: string): string {
  const get = (re: RegExp) => re.exec(text)?.[1];
  const src = get(/\bip6? saddr (\S+)/);
  const dst = get(/\bip6? daddr (\S+)/);
  const icmp = get(/\bicmp(?:v6)? type (\S+)/);
  const l4 = /\b(tcp|udp) sport (\d+) \1 dport (\d+)/.exec(text);
  const flags = get(/\btcp flags == (\S+)/);
  const iif = get(/\biif "([^"]+)"/);
  const oif = get(/\boif "([^"]+)"/);
  const what = icmp ? `icmp ${icmp}` : l4 ? `${l4[1]}${flags ? ` ${flags}` : ''}` : 'packet';
  const ends = l4 ? `${src}:${l4[2]} → ${dst}:${l4[3]}` : `${src} → ${dst}`;
  const ifs = [iif && `iif ${iif}`, oif && `oif ${oif}`].filter(Boolean).join(', ');
  return `${what} ${ends}${ifs ? ` (${ifs})` : ''}`;
}

/** Steps that dropped or rejected a packet. */
export function drops(trace: Trace): TraceStep[] {
  return trace.steps.filter((s) => s.verdict === 'drop' || /\breject\b/.test(s.rule ?? ''));
}

/** NAT rewrites (DNAT, SNAT, MASQUERADE, REDIRECT) the packets met. */
export function rewrites(trace: Trace): TraceStep[] {
  return trace.steps.filter((s) => /\b(dnat|snat|masquerade|redirect)\b/.test(s.rule ?? ''));
}

/** Chains and rules that accepted the packets (the reason a `.not` failed). */
export function accepts(trace: Trace): TraceStep[] {
  return trace.steps.filter((s) => s.verdict === 'accept');
}

/**
 * Where the probe's packets were seen, once per namespace and packet, in the order the kernel saw them: the probe's
 * packets before the answers, and along each way by TTL (it falls by one at every router), a namespace sending a
 * packet before the next one receives it. nft monitor prints no time, and when netspec reads each namespace's
 * monitor says little (a monitor's lines come in bursts, milliseconds after a round trip of microseconds), so the
 * order comes from the packets themselves.
 */
export function sightings(trace: Trace): TraceStep[] {
  const seen = new Set<string>();
  const found = trace.steps.filter((s) => {
    if (s.verdict !== 'seen') return false;
    const key = `${s.ns} ${s.packet.replace(/ \(.*\)$/, '')}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  const rank = (s: TraceStep) => [s.reply ? 1 : 0, -(s.ttl ?? 0), s.chain === 'output' ? 0 : 1];
  return found.sort((a, b) => {
    const [x, y] = [rank(a), rank(b)];
    return x[0]! - y[0]! || x[1]! - y[1]! || x[2]! - y[2]!;
  });
}
