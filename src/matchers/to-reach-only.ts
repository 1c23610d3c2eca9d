/**
 * Exposure matchers (issue 30): `expect(src).toReachOnly(target, [{ port: 443 }, …], options?)` and
 * `expect(src).not.toReachAny(target, options?)`: every port of the target swept with real packets (src/exposure.ts);
 * a port is reached when the probe was delivered to the target's input after every filter (so it could be answered),
 * whether anything listens there or not (`{ listening: true }` for the listening view).
 */
import { InvalidInputError, ProbeError } from '../errors.js';
import { canonical, hostPort } from '../address.js';
import { explainReach } from '../diagnose/index.js';
import { explainDnat } from '../landing.js';
import { resolveTarget } from '../probe.js';
import { groupRuns, portRanges, sweepPorts, type ExposedPort, type SweepResult } from '../exposure.js';
import type { Netns } from '../netns.js';
import { bullet, checkOptions, commands, describe, hint, receivedNetns, type MatcherContext, type MatcherResult } from './format.js';

/** One allowed port (or range) of `toReachOnly`: `{ port: 443 }`, `{ port: '1000-2000' }`, `{ port: 53, protocol: 'udp' }`. */
export interface AllowedPort {
  /** A port, or an inclusive range written `'1000-2000'`. */
  port: number | `${number}-${number}`;
  /** Default: the matcher's `protocol` option (itself TCP by default). */
  protocol?: 'tcp' | 'udp';
}

/** Options of `toReachOnly` and `toReachAny`. */
export interface ExposureOptions {
  /**
   * The protocol swept (and of the allowed ports that name none): `'tcp'` (default) or `'udp'`; `toReachAny` also
   * takes both, `['tcp', 'udp']`.
   */
  protocol?: 'tcp' | 'udp' | ('tcp' | 'udp')[];
  /**
   * Count a port only if something listens on it where the probe landed (`ss`), not merely if the firewall let the
   * probe in (default false: the firewall is what is tested, so a port with nothing listening yet is exposed).
   */
  listening?: boolean;
}

/** Options of `toReachOnly`: one protocol swept by default (an allowed port may name the other, which is swept too). */
export interface ToReachOnlyOptions extends Omit<ExposureOptions, 'protocol'> {
  /** The protocol swept, and of the allowed ports that name none: `'tcp'` (default) or `'udp'`. */
  protocol?: 'tcp' | 'udp';
}

/** How many unexpected runs of ports a failure explains with a traced probe (each costs a probe under a kernel trace). */
const TRACED_RUNS = 3;
/** How many runs a failure lists one by one. */
const LISTED_RUNS = 12;

const UDP_CAVEAT =
  'UDP: a port counts as reached when netspec\'s datagram was delivered past the target\'s input filters (observed in its kernel), so a dropped datagram and a silent service are told apart; what a UDP sweep cannot prove is that a service there answers, or that its answers get back (filters on the return path): assert that with toReach({ address, port }, { protocol: \'udp\' })';

function protocolsOf(value: ExposureOptions['protocol'], matcher: string, many: boolean): ('tcp' | 'udp')[] {
  const list = value === undefined ? ['tcp'] : Array.isArray(value) ? value : [value];
  if (!list.length || list.some((p) => p !== 'tcp' && p !== 'udp') || (!many && list.length !== 1)) {
    throw new InvalidInputError(`${matcher} option protocol`, value, many ? 'expected "tcp", "udp" or ["tcp", "udp"]' : 'expected "tcp" or "udp" (an allowed port may name its own: { port: 53, protocol: "udp" })');
  }
  return [...new Set(list as ('tcp' | 'udp')[])];
}

function checkExposureOptions(options: unknown, matcher: string): ExposureOptions {
  return checkOptions<ExposureOptions>(options, matcher, { protocol: 'string|string[]', listening: 'boolean' });
}

/** The allowed ports, checked: `tcp`/`udp` → the set of ports. */
function allowedPorts(allowed: unknown, fallback: 'tcp' | 'udp'): Map<'tcp' | 'udp', Set<number>> {
  if (!Array.isArray(allowed)) throw new InvalidInputError('toReachOnly allowed ports', allowed, 'expected an array of { port, protocol? }: [{ port: 443 }, { port: \'1000-2000\' }, { port: 53, protocol: \'udp\' }] (an empty array: nothing may be reached, which is `.not.toReachAny`)');
  const out = new Map<'tcp' | 'udp', Set<number>>([[fallback, new Set()]]);
  for (const entry of allowed) {
    const item = typeof entry === 'number' ? { port: entry } : entry;
    if (item === null || typeof item !== 'object' || Array.isArray(item)) throw new InvalidInputError('toReachOnly allowed port', entry, 'expected { port: 443 }, { port: \'1000-2000\' } or { port, protocol: \'udp\' }');
    for (const key of Object.keys(item)) if (key !== 'port' && key !== 'protocol') throw new InvalidInputError('toReachOnly allowed port key', key, 'unknown key; an allowed port takes port and protocol');
    const { port, protocol = fallback } = item as { port?: unknown; protocol?: unknown };
    if (protocol !== 'tcp' && protocol !== 'udp') throw new InvalidInputError('toReachOnly allowed port protocol', protocol, 'expected "tcp" or "udp"');
    let first: number;
    let last: number;
    if (typeof port === 'number') first = last = port;
    else if (typeof port === 'string' && /^\d+-\d+$/.test(port)) [first, last] = port.split('-').map(Number) as [number, number];
    else throw new InvalidInputError('toReachOnly allowed port', port, 'expected a whole number from 1 to 65535, or a range written "1000-2000"');
    if (![first, last].every((p) => Number.isInteger(p) && p >= 1 && p <= 65535) || first > last) throw new InvalidInputError('toReachOnly allowed port', port, 'expected a whole number from 1 to 65535, or a range "low-high" of them with low ≤ high');
    const set = out.get(protocol) ?? new Set<number>();
    for (let p = first; p <= last; p++) set.add(p);
    out.set(protocol, set);
  }
  return out;
}

/** The target, resolved as toReach does (an address, a namespace handle, `{ address }`), never with a port. */
async function exposureTarget(ns: Netns, target: unknown, matcher: string): Promise<{ address: string; family: 4 | 6 }> {
  if (target !== null && typeof target === 'object' && 'port' in target) throw new InvalidInputError(`${matcher} target`, describe(target), `${matcher} sweeps every port: give the target without a port (the ports allowed are ${matcher === 'toReachOnly' ? 'its second argument' : 'not named'})`);
  const t = await resolveTarget(ns, target, {});
  await ns.lab.checkTarget?.(t.address);
  const own = (await ns.addresses()).flatMap((l) => (l.addr_info ?? []).map((a) => canonical(a.local)));
  if (own.includes(t.address) || t.address.startsWith('127.') || t.address === '::1') {
    throw new InvalidInputError(`${matcher} target`, t.address, `${ns.name} holds ${t.address} itself: its probes would never leave ${ns.name}, so they would prove nothing about the network; sweep an address of another namespace`);
  }
  return { address: t.address, family: t.family };
}

/** The ports that count as reached: every exposed one, or (`listening`) those where something listens. */
const counted = (s: SweepResult, listening: boolean | undefined) => (listening ? s.exposed.filter((e) => e.listening) : s.exposed);

function evidence(s: SweepResult): string {
  const left = Number.isNaN(s.left) ? '' : `, ${s.left} seen leaving the source after its own output filters`;
  const { noRoute, filtered } = s.refusedBySource;
  const refused = `${noRoute ? `; the source's kernel refused ${noRoute} for want of a route` : ''}${filtered ? `; its own output filters refused ${filtered} (EPERM)` : ''}`;
  return `${s.protocol.toUpperCase()}: ${s.swept === 65535 ? 'all 65,535 ports' : `${s.swept} ports`} swept in ${(s.elapsedMs / 1000).toFixed(1)} s (${s.sent} probes sent in ${s.passes} pass${s.passes === 1 ? '' : 'es'}${left}${refused})`;
}

/** Where a run of ports landed: `landed in web on 10.0.0.2:2001` (and the DNAT rule, if one rewrote it). */
function landingOf(target: string, run: { first: number; last: number; items: ExposedPort[] }, s: SweepResult): string {
  const e = run.items[0]!;
  const at = (p: number) => hostPort(e.address, p);
  const span = run.first === run.last ? at(e.landedPort) : `${at(e.landedPort)}-${e.landedPort + run.last - run.first}`;
  const nat = e.address !== target || e.landedPort !== e.port ? ' (rewritten on the way: DNAT)' : '';
  return `${run.first === run.last ? run.first : `${run.first}-${run.last}`}/${s.protocol}: delivered to ${e.ns} on ${span}${nat}${e.listening === undefined ? '' : e.listening ? ', something listens there' : ', nothing listens there'}`;
}

/** What let each run of unexpected ports in: the DNAT rule, and for the first few runs a traced probe's accepts. */
async function explainRuns(ns: Netns, target: { address: string; family: 4 | 6 }, s: SweepResult, ports: ExposedPort[]): Promise<string[]> {
  const runs = groupRuns(ports, (e) => `${e.ns} ${e.address} ${e.landedPort - e.port}`);
  const lines: string[] = [];
  for (const [i, run] of runs.entries()) {
    if (i >= LISTED_RUNS) {
      lines.push(`… and ${runs.length - LISTED_RUNS} more run${runs.length - LISTED_RUNS === 1 ? '' : 's'} of ports (${portRanges(runs.slice(LISTED_RUNS).flatMap((r) => r.items.map((x) => x.port)))})`);
      break;
    }
    const e = run.items[0]!;
    lines.push(landingOf(target.address, run, s));
    const probe = { ...target, port: e.port, protocol: s.protocol };
    if (e.address !== target.address || e.landedPort !== e.port) {
      lines.push(`  ${await explainDnat(ns, probe, s.protocol, { ns: e.ns, address: e.address, port: e.landedPort }).catch((err: unknown) => `(could not read the DNAT rule: ${(err as Error).message})`)}`);
    }
    if (i < TRACED_RUNS) {
      const through = firstPacketOnly(await explainReach(ns, probe, {}).catch((err: unknown) => [`(could not trace port ${e.port}: ${(err as Error).message})`]));
      lines.push(...(through.length ? through.map((t) => `  port ${e.port}: ${t}`) : [`  port ${e.port}: the trace named no rule (a chain's accept policy, or no filter at all)`]));
    } else if (i === TRACED_RUNS) {
      lines.push(`  (the rules that let the runs below in are not traced: ${TRACED_RUNS} are; probe one with \`.not.toReach({ address, port })\` to see its rules)`);
    }
  }
  return lines;
}

/**
 * A traced probe's verdicts, for the probe's first packet only: its retries (another source port) and the rest of its
 * connection (`ct state established` rules) say nothing about what let the port in.
 */
function firstPacketOnly(lines: readonly string[]): string[] {
  const seen = new Set<string>();
  return lines.filter((l) => {
    if (/ — tcp (?!syn )/.test(l) || /\bct state (established|related)/.test(l.split(' — ')[0]!)) return false;
    const key = l.split(' — ')[0]!;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** `expect(src).toReachOnly(target, allowed, options?)`: the allowed ports are reached, and no other port of the protocols swept. */
export async function toReachOnly(this: MatcherContext, received: unknown, target: unknown, allowed: unknown, options?: ToReachOnlyOptions): Promise<MatcherResult> {
  const ns = receivedNetns(received, 'toReachOnly');
  const opts = checkExposureOptions(options, 'toReachOnly');
  if (this.isNot) throw new InvalidInputError('toReachOnly', '.not', '`.not.toReachOnly` would pass on any difference at all; say what must not be reached with `.not.toReachAny(target)`, or list exactly what may be with toReachOnly');
  const [fallback] = protocolsOf(opts.protocol, 'toReachOnly', false) as ['tcp' | 'udp'];
  const allow = allowedPorts(allowed, fallback);
  const t = await exposureTarget(ns, target, 'toReachOnly');
  const args = `${describe(target)}, ${describe(allowed)}${options ? `, ${describe(options)}` : ''}`;
  const sweeps: SweepResult[] = [];
  for (const protocol of ['tcp', 'udp'] as const) if (allow.has(protocol)) sweeps.push(await sweepPorts(ns, t, { protocol, listening: opts.listening }));
  const unexpected: ExposedPort[][] = [];
  const missing: { protocol: 'tcp' | 'udp'; ports: number[] }[] = [];
  for (const s of sweeps) {
    const ok = allow.get(s.protocol)!;
    const hit = counted(s, opts.listening);
    unexpected.push(hit.filter((e) => !ok.has(e.port)));
    const got = new Set(hit.map((e) => e.port));
    const miss = [...ok].filter((p) => !got.has(p)).sort((a, b) => a - b);
    if (miss.length) missing.push({ protocol: s.protocol, ports: miss });
  }
  const extra = unexpected.flat();
  const pass = extra.length === 0 && missing.length === 0;
  const summary = sweeps.map(evidence).join('; ');
  const view = opts.listening ? ' with something listening' : '';
  const allowedText = sweeps.map((s) => `${portRanges([...allow.get(s.protocol)!])}/${s.protocol}`.replace(/^\/\w+$/, `none/${s.protocol}`)).join(', ');
  if (pass) {
    return { pass, message: () => `${hint(ns, 'toReachOnly', true, args)}\n\n${ns.name} reaches exactly ${allowedText} of ${t.address}${view} (${summary})` };
  }
  const lines: string[] = [];
  for (const [i, s] of sweeps.entries()) {
    const ports = unexpected[i]!;
    if (!ports.length) continue;
    lines.push(`${ns.name} reaches ${ports.length} ${s.protocol.toUpperCase()} port${ports.length === 1 ? '' : 's'} of ${t.address}${view} that ${ports.length === 1 ? 'is' : 'are'} not allowed: ${portRanges(ports.map((e) => e.port))}`);
    lines.push(bullet(await explainRuns(ns, t, s, ports)));
  }
  for (const m of missing) {
    const s = sweeps.find((x) => x.protocol === m.protocol)!;
    const closedButExposed = opts.listening ? s.exposed.filter((e) => m.ports.includes(e.port)).map((e) => e.port) : [];
    lines.push(
      `${ns.name} does not reach allowed ${m.protocol.toUpperCase()} port${m.ports.length === 1 ? '' : 's'} ${portRanges(m.ports)} of ${t.address}${view}${
        closedButExposed.length ? ` (${portRanges(closedButExposed)}: the firewall lets the probes in, but nothing listens there)` : ': no probe to it was delivered past the target\'s input filters (dropped or rejected on the way)'
      }`,
    );
  }
  const udp = sweeps.some((s) => s.protocol === 'udp') ? `\n\n${UDP_CAVEAT}` : '';
  return {
    pass,
    actual: sweeps.map((s) => `${portRanges(counted(s, opts.listening).map((e) => e.port)) || 'none'}/${s.protocol}`).join(', '),
    expected: allowedText,
    message: () => `${hint(ns, 'toReachOnly', false, args)}\n\n${lines.join('\n')}\n\n${summary}${udp}\n\ncommands:\n${commands(sweeps.flatMap((s) => s.log))}`,
  };
}

/** `expect(src).toReachAny(target, options?)`: some port of the target is reached (`.not`: none is, over every port). */
export async function toReachAny(this: MatcherContext, received: unknown, target: unknown, options?: ExposureOptions): Promise<MatcherResult> {
  const ns = receivedNetns(received, 'toReachAny');
  const opts = checkExposureOptions(options, 'toReachAny');
  const protocols = protocolsOf(opts.protocol, 'toReachAny', true);
  const t = await exposureTarget(ns, target, 'toReachAny');
  const args = `${describe(target)}${options ? `, ${describe(options)}` : ''}`;
  const sweeps: SweepResult[] = [];
  for (const protocol of protocols) sweeps.push(await sweepPorts(ns, t, { protocol, listening: opts.listening }));
  if (sweeps.some((s) => s.sent === 0 && s.refusedBySource.noRoute === 0 && s.refusedBySource.filtered === 0)) throw new ProbeError(`the sweep of ${t.address} from ${ns} sent nothing; no verdict`);
  const hits = sweeps.map((s) => counted(s, opts.listening));
  const pass = hits.some((h) => h.length > 0);
  const summary = sweeps.map(evidence).join('; ');
  const view = opts.listening ? ' with something listening' : '';
  const udp = protocols.includes('udp') ? `\n\n${UDP_CAVEAT}` : '';
  const names = protocols.map((p) => p.toUpperCase()).join(' or ');
  if (!pass) {
    const notLeft = sweeps.filter((s) => s.left === 0);
    const why = notLeft.length ? `\nnone of the probes was seen leaving ${ns.name} (its own output filters dropped them?)` : '';
    return {
      pass,
      actual: 'no port',
      expected: 'some port',
      message: () => `${hint(ns, 'toReachAny', false, args)}\n\n${ns.name} reaches no ${names} port of ${t.address}${view} (${summary})${why}${udp}\n\ncommands:\n${commands(sweeps.flatMap((s) => s.log))}`,
    };
  }
  if (!this.isNot) {
    return { pass, message: () => `${hint(ns, 'toReachAny', true, args)}\n\n${ns.name} reaches ${sweeps.map((s, i) => `${portRanges(hits[i]!.map((e) => e.port)) || 'no port'}/${s.protocol}`).join(', ')} of ${t.address}${view} (${summary})` };
  }
  const lines: string[] = [];
  for (const [i, s] of sweeps.entries()) {
    const ports = hits[i]!;
    if (!ports.length) continue;
    lines.push(`${ns.name} reaches ${ports.length} ${s.protocol.toUpperCase()} port${ports.length === 1 ? '' : 's'} of ${t.address}${view}: ${portRanges(ports.map((e) => e.port))}`);
    lines.push(bullet(await explainRuns(ns, t, s, ports)));
  }
  return {
    pass,
    actual: sweeps.map((s, i) => `${portRanges(hits[i]!.map((e) => e.port)) || 'none'}/${s.protocol}`).join(', '),
    expected: 'no port',
    message: () => `${hint(ns, 'toReachAny', true, args)}\n\n${lines.join('\n')}\n\n${summary}${udp}\n\ncommands:\n${commands(sweeps.flatMap((s) => s.log))}`,
  };
}
