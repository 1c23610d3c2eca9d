/**
 * The kernel facts a diagnosis reads, gathered once per failing probe: the lab's state before and after a traced
 * probe (src/state.ts), the kernel trace (src/trace.ts), and — once the trace and the counters have not told — the
 * per-interface sysctls of every namespace (`/proc/sys/net`, one process for the whole lab) and, after a refusal, the
 * sockets that listen (`ss`). Checks only read these.
 */
import { canonical } from '../address.js';
import type { LinkInfo, Netns, RouteInfo, RouteLookup } from '../netns.js';
import { probe, type PacketOptions, type ProbeOutcome, type ProbeTarget } from '../probe.js';
import type { Scope } from '../scope.js';
import { readLabState, type NamespaceState } from '../state.js';
import { traceDuring, sightings, type Trace, type TraceStep } from '../trace.js';
import { parseListeners, parseProcSys, type Listener } from '../parse/proc.js';

export const DISPOSITIONS = ['REACHED', 'NO_ROUTE', 'NEIGHBOR_UNREACHABLE', 'FORWARDING_DISABLED', 'FILTERED', 'REFUSED', 'NO_REPLY'] as const;
export type Disposition = (typeof DISPOSITIONS)[number];

/** What a check found: the disposition, where the packets stopped, and the lines that say why (with the fact that proves it). */
export interface Finding {
  disposition: Disposition;
  at: string;
  says: string[];
}

/** The router between the source and the target, as the walk found it. */
export interface RouterFacts {
  state: NamespaceState;
  gateway: string;
  /** Where the source's packets come in (the router's link with the gateway address). */
  inDev?: string;
  /** The router's own lookup for the forwarded packet (`ip route get TARGET from SOURCE iif IN`). */
  onward?: RouteLookup;
  /** The kernel's words when that lookup failed in a way RouteLookup does not model (`Invalid cross-device link`). */
  onwardError?: string;
  masqueradedAs?: string;
}

/** Everything a check may read. */
export interface Ctx {
  source: Netns;
  target: ProbeTarget;
  outcome: ProbeOutcome;
  fromAddr?: string;
  lookup: RouteLookup;
  route: RouteInfo;
  /** The probe's source address (the first lookup's). */
  srcAddr?: string;
  before: NamespaceState[];
  after: NamespaceState[];
  trace: Trace;
  /** The whole trace, other probes' packets included (ports tell the probe's own TCP/UDP answers). */
  rawTrace: Trace;
  /** The explaining probe's own source ports (TCP/UDP). */
  sourcePorts: number[];
  /** Whether the explaining probe sent anything. */
  ran: boolean;
  why?: string;
  /** Per namespace: /proc/sys/net keys (slash form) and their values. */
  sysctls: Map<string, Map<string, string>>;
  /** Per namespace: listening sockets (TCP/UDP probes only). */
  listeners: Map<string, Listener[]>;
  router?: RouterFacts;
  /** Context lines (the route, the neighbor, the router forwarding, NAT…), in path order. */
  notes: string[];
  log: string[];
  path: string[];
  /** Who reads the findings: `learner` leaves out advice that names netspec's API (MatcherContext.audience). */
  audience?: 'spec' | 'learner';
}

/** The sysctl files the checks read, by base name (grep's --include). */
const SYSCTLS = ['forwarding', 'rp_filter', 'arp_ignore', 'arp_filter', 'icmp_echo_ignore_all', 'icmp_echo_ignore_broadcasts', 'echo_ignore_all', 'ip_forward', 'disable_ipv6'];
const SYSCTL_ARGV = ['grep', '-rs', ...SYSCTLS.map((s) => `--include=${s}`), '', '/proc/sys/net/ipv4/conf', '/proc/sys/net/ipv6/conf', '/proc/sys/net/ipv4/icmp_echo_ignore_all', '/proc/sys/net/ipv4/icmp_echo_ignore_broadcasts', '/proc/sys/net/ipv6/icmp/echo_ignore_all'];

/** Every namespace's sysctls (one process for the lab's namespaces, one for its host). */
export async function readSysctls(lab: Scope): Promise<Map<string, Map<string, string>>> {
  const [host, rest] = await Promise.all([
    lab.run('host', SYSCTL_ARGV, { intent: 'read sysctls', reject: false }).catch(() => undefined),
    lab.inEveryNamespace(SYSCTL_ARGV, { intent: 'read sysctls' }).catch(() => undefined),
  ]);
  const out = new Map<string, Map<string, string>>();
  out.set('host', parseProcSys(host?.stdout ?? ''));
  for (const [name, text] of rest?.outputs ?? []) out.set(name, parseProcSys(text));
  return out;
}

/** Every namespace's listening sockets (`ss -Hlntu`). */
export async function readListeners(lab: Scope): Promise<Map<string, Listener[]>> {
  const argv = ['ss', '-Hlntu'];
  const [host, rest] = await Promise.all([
    lab.run('host', argv, { intent: 'list listening sockets', reject: false }).catch(() => undefined),
    lab.inEveryNamespace(argv, { intent: 'list listening sockets' }).catch(() => undefined),
  ]);
  const out = new Map<string, Listener[]>();
  out.set('host', parseListeners(host?.stdout ?? ''));
  for (const [name, text] of rest?.outputs ?? []) out.set(name, parseListeners(text));
  return out;
}

/** A sysctl of a namespace, by its dotted name with the interface in it (`net.ipv4.conf.br0.forwarding`). */
export function sysctl(ctx: Pick<Ctx, 'sysctls'>, ns: string, ...parts: string[]): string | undefined {
  return ctx.sysctls.get(ns)?.get(parts.join('/'));
}

/** How a sysctl is written for people: dots, as `sysctl` prints it. */
export const dotted = (...parts: string[]): string => parts.join('.');

/**
 * The explaining probe: the lab's state, then a probe under a kernel trace, then the state again (counters diffed
 * by the callers). It must send something: on a busy machine a short probe may be starved before its first request,
 * and a trace of nothing explains nothing, so it is tried again for each longer duration before giving up.
 */
export async function observe(
  source: Netns,
  target: ProbeTarget,
  options: { from?: string; responder?: boolean; packet?: PacketOptions; ports: number[] },
  durations: readonly number[],
): Promise<{ before: NamespaceState[]; after: NamespaceState[]; trace: Trace; ran: boolean; why?: string; sourcePorts: number[] }> {
  const lab = source.lab;
  const before = await readLabState(lab);
  let last: { trace: Trace; error?: unknown; result?: ProbeOutcome } | undefined;
  for (const durationMs of durations) {
    last = await traceDuring(lab, { protocol: target.protocol, family: target.family, ports: options.ports }, () =>
      probe(source, target, { durationMs, until: 'success', from: options.from, responder: options.responder, packet: options.packet }),
    );
    if (last.result && last.result.sent > 0) break;
  }
  const after = await readLabState(lab);
  const ran = Boolean(last!.result && last!.result.sent > 0);
  const why = ran ? undefined : last!.result ? 'it sent nothing' : ((last!.error as Error)?.message ?? 'unknown');
  // the explaining probe's own source ports (TCP/UDP: socat's `sourceport=N`): what tells its answers from others'
  const sourcePorts = [...new Set([...(last!.result?.log ?? []).join('\n').matchAll(/\bsourceport=(\d+)/g)].map((m) => Number(m[1])))];
  return { before, after, trace: last!.trace, ran, why, sourcePorts };
}

// ───────────────────── reading the trace's packets ─────────────────────

/** A traced packet's ends and interfaces, from TraceStep.packet (`icmp echo-request 10.0.0.2 → 203.0.113.8 (iif br0)`). */
export interface PacketEnds {
  what: string;
  src: string;
  dst: string;
  sport?: number;
  dport?: number;
  iif?: string;
  oif?: string;
}

export function packetEnds(packet: string): PacketEnds | undefined {
  const m = /^(.*?) (\S+) → (\S+)(?: \((.*)\))?$/.exec(packet);
  if (!m) return undefined;
  // describePacket writes a TCP/UDP end as ADDRESS:PORT (the last colon, IPv6 too) and an ICMP end as ADDRESS
  const l4 = /^(tcp|udp)\b/.test(m[1]!);
  const split = (end: string): [string, number | undefined] => {
    const i = end.lastIndexOf(':');
    return l4 && i > 0 ? [end.slice(0, i), Number(end.slice(i + 1))] : [end, undefined];
  };
  const [src, sport] = split(m[2]!);
  const [dst, dport] = split(m[3]!);
  const iif = /\biif (\S+?)(?:,|$)/.exec(m[4] ?? '')?.[1];
  const oif = /\boif (\S+?)(?:,|$)/.exec(m[4] ?? '')?.[1];
  return { what: m[1]!, src, dst, ...(sport !== undefined ? { sport } : {}), ...(dport !== undefined ? { dport } : {}), ...(iif ? { iif } : {}), ...(oif ? { oif } : {}) };
}

/** The probe's own packets (not answers) as the namespaces received them, in path order. */
export function received(trace: Trace, options: { reply?: boolean } = {}): TraceStep[] {
  return sightings(trace).filter((s) => s.chain === 'prerouting' && Boolean(s.reply) === Boolean(options.reply));
}

/** Whether the trace saw a packet of the probe (or an answer) in `ns`. */
export const seenIn = (trace: Trace, ns: string, options: { reply?: boolean; chain?: 'prerouting' | 'output' } = {}): boolean =>
  trace.steps.some((s) => s.verdict === 'seen' && s.ns === ns && Boolean(s.reply) === Boolean(options.reply) && (!options.chain || s.chain === options.chain));

// ───────────────────── links, ports, owners ─────────────────────

export type Link = LinkInfo & { link_index?: number; link_netnsid?: number; linkinfo?: { info_kind?: string; info_slave_kind?: string; info_slave_data?: Record<string, unknown> } };

export const linkOf = (state: NamespaceState, ifname: string): Link | undefined => state.links.find((l) => l.ifname === ifname) as Link | undefined;

/** The other end of a veth (in whatever namespace of the lab it is). */
export function vethPeer(states: readonly NamespaceState[], self: NamespaceState, link: Link): { state: NamespaceState; link: Link } | undefined {
  if (link.linkinfo?.info_kind !== 'veth' || link.link_index === undefined) return undefined;
  for (const s of states) {
    const p = (s.links as Link[]).find((x) => x.ifindex === link.link_index && x.link_index === link.ifindex && !(s === self && x.ifindex === link.ifindex));
    if (p) return { state: s, link: p };
  }
  return undefined;
}

/** A link is down when it or its carrier is (`DOWN`, `LOWERLAYERDOWN`, `NO-CARRIER`). */
export function downWord(link: Link): string | undefined {
  if (!link.flags.includes('UP')) return 'administratively down (no UP flag)';
  if (link.flags.includes('NO-CARRIER') || link.operstate === 'LOWERLAYERDOWN' || link.operstate === 'DOWN') return `${link.operstate}${link.flags.includes('NO-CARRIER') ? ', NO-CARRIER' : ''}`;
  return undefined;
}

/** The namespace that has a link with this MAC address. */
export function macOwner(states: readonly NamespaceState[], mac: string): { state: NamespaceState; link: LinkInfo } | undefined {
  const want = mac.toLowerCase();
  for (const s of states) {
    const link = s.links.find((l) => l.address?.toLowerCase() === want && l.link_type !== 'loopback');
    if (link) return { state: s, link };
  }
  return undefined;
}

/** The link of `state` that has `address`. */
export function linkWith(state: NamespaceState, address: string): string | undefined {
  const want = canonical(address);
  return state.addresses.find((l) => l.addr_info?.some((a) => canonical(a.local) === want))?.ifname;
}

/**
 * The trace's steps that are this probe's: the trace marks every packet of the protocol (and ICMP errors), so probes
 * running beside this one (a mesh diagnoses several pairs at once) are in it too. A step is this probe's when its
 * packet is to or from the target address, or an address a traced DNAT of such a packet rewrote it to.
 */
export function ownSteps(trace: Trace, addresses: readonly string[]): Trace {
  const want = new Set(addresses.map(canonical));
  const involves = (step: TraceStep) => {
    const p = packetEnds(step.packet);
    return Boolean(p && (want.has(canonical(p.src)) || want.has(canonical(p.dst))));
  };
  // DNAT's new addresses belong to the flow too (the packets after it carry them)
  for (const step of trace.steps) {
    if (!step.rule || !involves(step)) continue;
    const m = /\bdnat (?:ip6? )?to \[?([0-9a-f.:]+?)\]?(?::\d+(?:-\d+)?)?(?:\s|$)/i.exec(step.rule);
    if (m) want.add(canonical(m[1]!));
  }
  return { steps: trace.steps.filter((s) => !s.packet || involves(s)), unavailable: trace.unavailable };
}
