/**
 * One oracle case: build the lab, observe every claim with the oracle (listeners everywhere, plain senders), stop the
 * listeners, then ask netspec the same claims through its matchers called as plain functions, and classify each.
 */
import { NetspecError, type Lab } from '../../src/index.js';
import { toHaveReachability, toHaveRule, toReach, toReachAny, toReachOnly, toRouteVia } from '../../src/matchers/index.js';
import { join } from 'node:path';
import { rmSync } from 'node:fs';
import { buildLab, type BuiltLab } from './build.js';
import { DEAD_PORT, PORTS, R_A, R_B, SERVICE_PORTS, clientAddr, serverAddr, describeClaim, gwAddress, routeDest, seenAsAddress, serviceAddress, targetAddress, type Claim, type ExposureClaim, type LabModel, type ReachClaim } from './model.js';
import { Listeners, kernelRoute, kernelRule, observe, observeExposure, observeService, type Observation, type PortTruth } from './truth.js';

/** A positive toReach's deadline (netspec's default is 3000 ms; a lab's probes here answer within milliseconds). */
export const POSITIVE_TIMEOUT_MS = 2000;

export type Verdict = 'agree' | 'false-pass' | 'false-fail' | 'refusal';

export interface ClaimResult {
  claim: Claim;
  text: string;
  /** Is the claim true, by the oracle? */
  truth: boolean;
  /** Did netspec pass the claim (undefined: it threw)? */
  netspec?: boolean;
  verdict: Verdict;
  oracle: string;
  /** netspec's message (its first lines) or the error it threw. */
  detail: string;
  /** Time spent on this claim: the oracle's observation (with its later probes of ports netspec named), netspec's verdict. */
  ms?: { oracle: number; netspec: number };
}

export interface CaseResult {
  claims: ClaimResult[];
  script: string[];
  ms: number;
  /** Where the time went: building the lab, the oracle's observations, netspec's verdicts (ms). */
  phases?: { build: number; oracle: number; netspec: number };
  /** The oracle itself failed (listeners, the lab): not a verdict about netspec. */
  error?: string;
}

// ── exposure claims: the oracle decides on a sample of ports ──

/** Ports an exposure claim's netspec failure names, beyond its sample, that the oracle probes after (at most). */
const NAMED_MAX = 60;

/** The ports of an allow list (ranges spelled out). */
const allowSet = (c: ExposureClaim): Set<number> => new Set((c.allow ?? []).flatMap((a) => (typeof a === 'number' ? [a] : Array.from({ length: a[1] - a[0] + 1 }, (_, k) => a[0] + k))));

/**
 * The ports the oracle probes for an exposure claim: every port that matters in the lab (the model's ports, the DNATs'
 * ports and destination ports, the drops' ports, the services' ports, every guard's ports and its range with the ports
 * just outside it), the claim's allowed ports (a range's every port, and the ports just outside it) and its random ports.
 */
export function exposureSample(m: LabModel, c: ExposureClaim): number[] {
  const around = (lo: number, hi: number) => [lo - 1, ...Array.from({ length: hi - lo + 1 }, (_, k) => lo + k), hi + 1];
  const ports = [
    ...PORTS,
    ...SERVICE_PORTS,
    DEAD_PORT,
    ...m.dnats.flatMap((d) => [d.port, d.toPort]),
    ...m.drops.flatMap((d) => d.ports ?? []),
    ...m.services.map((v) => v.port),
    ...(m.guards ?? []).flatMap((g) => [...g.ports, ...(g.range ? around(g.range[0], g.range[1]) : [])]),
    ...(c.allow ?? []).flatMap((a) => (typeof a === 'number' ? [a] : around(a[0], a[1]))),
    ...c.sample,
  ];
  return [...new Set(ports)].filter((p) => p >= 1 && p <= 65535).sort((a, b) => a - b);
}

/** The oracle's listeners never listen where the lab's own services do (nor on the port a proxy finds dead). */
const listenable = (ports: Iterable<number>): number[] => [...ports].filter((p) => !(SERVICE_PORTS as readonly number[]).includes(p) && p !== DEAD_PORT);

/**
 * The ports netspec's exposure message names (`reaches N TCP ports of X …: 1-79, 81`, `does not reach allowed TCP
 * ports 80, 443 of X`): for a single port, the port; for a run, its ends, its middle and the ports next to its ends.
 */
export function namedPorts(message: string): number[] {
  const out = new Set<number>();
  const lists = [...message.matchAll(/reaches \d+ (?:TCP|UDP) ports? of \S+(?: with something listening)?(?: that (?:is|are) not allowed)?: ([\d, -]+)/g), ...message.matchAll(/does not reach allowed (?:TCP|UDP) ports? ([\d, -]+?) of /g)];
  for (const l of lists) {
    for (const part of l[1]!.split(',').map((x) => x.trim()).filter(Boolean)) {
      const [a, b = a] = part.split('-').map(Number) as [number, number?];
      if (!Number.isInteger(a) || !Number.isInteger(b)) continue;
      for (const p of [a, b, Math.floor((a + b) / 2), a + 1, b - 1]) if (p >= a && p <= b) out.add(p);
    }
  }
  return [...out].sort((x, y) => x - y);
}

/** The sources a delivered exposure probe may show: the client's own address, or the router's after a MASQUERADE. */
const exposurePeers = (c: ExposureClaim) => [clientAddr(c.from), R_B, R_A];

/** Does something of the lab's own listen where this probe landed (for `{ listening: true }`)? */
function listensAt(m: LabModel, c: ExposureClaim, t: PortTruth): boolean {
  return t.landed.some((a) => m.services.some((v) => v.proto === c.proto && v.port === a.port && (v.where === 'router' ? a.ns === 'r' : a.ns === `s${v.where.server + 1}`)));
}

/** The claim over the ports the oracle probed: true when every probed port counts exactly as the claim says. */
function exposureTruth(m: LabModel, c: ExposureClaim, ports: Map<number, PortTruth>): { truth: boolean; text: string } {
  const allowed = allowSet(c);
  const counts = (t: PortTruth) => t.exposed && (!c.listening || listensAt(m, c, t));
  const hit = [...ports.values()].filter(counts).map((t) => t.port);
  const wrong = c.allow ? hit.filter((p) => !allowed.has(p)) : hit;
  const missing = c.allow ? [...allowed].filter((p) => !ports.get(p) || !counts(ports.get(p)!)) : [];
  const where = (p: number) => ports.get(p)!.landed.map((a) => `${a.ns} ${a.local}:${a.port}`).join(' & ') || ports.get(p)!.result;
  const show = (ps: number[]) => ps.slice(0, 12).map((p) => `${p} (${where(p)})`).join(', ') + (ps.length > 12 ? `, … ${ps.length - 12} more` : '');
  const odd = [...ports.values()].filter((t) => t.result === 'connected' && !t.landed.length).map((t) => t.port);
  const text =
    `probed ${ports.size} ports; ${c.listening ? 'exposed with a listener' : 'exposed'}: ${hit.length ? show(hit) : 'none'}` +
    (wrong.length ? `; exposed and not allowed: ${wrong.join(', ')}` : '') +
    (missing.length ? `; allowed and closed: ${missing.join(', ')}` : '') +
    (odd.length ? `; answered with no SYN seen delivered: ${odd.join(', ')}` : '');
  return { truth: wrong.length === 0 && missing.length === 0, text };
}

function oracleText(o: Observation, c: Claim): string {
  const landed = o.arrivals.map((a) => `${a.ns} (${a.local ?? ''}${a.port ? `:${a.port}` : ''} from ${a.peer})`).join(', ');
  return `${o.output}; arrived at: ${landed || 'nowhere'}${seenAsAddress(c) ? `; seenAs ${seenAsAddress(c)}` : ''}`;
}

function claimTruth(o: Observation, c: Claim): boolean {
  if (c.kind === 'mesh') return c.flip === undefined;
  if (c.kind === 'exposure') throw new Error('exposure claims are decided by exposureTruth');
  if ('not' in c && c.not) return !o.reached;
  if (!o.reached) return false;
  const seen = seenAsAddress(c);
  if (seen === undefined) return true;
  // the source the answering end saw: every arrival of this nonce (ICMP may be seen more than once) must show it
  return o.arrivals.length > 0 && o.arrivals.every((a) => a.peer === seen);
}

/** The mesh expectation: the oracle's matrix, with pair `flip` (counted over every pair, modulo their number) flipped. */
function meshExpectation(o: Observation, flip: number | undefined): Record<string, Record<string, boolean>> {
  const out = JSON.parse(JSON.stringify(o.matrix)) as Record<string, Record<string, boolean>>;
  if (flip !== undefined) {
    const pairs = Object.entries(out).flatMap(([from, row]) => Object.keys(row).map((to) => [from, to] as const));
    const [from, to] = pairs[flip % pairs.length]!;
    out[from]![to] = !out[from]![to];
  }
  return out;
}

async function netspecVerdict(b: BuiltLab, m: LabModel, c: Claim, o: Observation): Promise<{ pass?: boolean; detail: string; refused?: boolean; message?: string }> {
  try {
    let r;
    if (c.kind === 'exposure') {
      const ns = b.clients[c.from]!;
      const target = targetAddress(c);
      const udp = c.proto === 'udp' ? { protocol: 'udp' as const } : {};
      let pass: boolean;
      if (!c.allow) {
        r = await toReachAny.call({ isNot: true }, ns, target, c.proto === 'udp' ? udp : undefined);
        pass = !r.pass;
      } else {
        const allow = c.allow.map((a) => (typeof a === 'number' ? a : { port: `${a[0]}-${a[1]}` as const }));
        const opts = { ...udp, ...(c.listening ? { listening: true } : {}) };
        r = await toReachOnly.call({ isNot: false }, ns, target, allow, Object.keys(opts).length ? opts : undefined);
        pass = r.pass;
      }
      const message = r.message();
      const lines = message.split('\n').filter(Boolean);
      // the lines after the hint, up to the summary: the ports named and where they landed
      return { pass, message, detail: lines.slice(1, 5).map((l) => (l.length > 300 ? `${l.slice(0, 300)}…` : l)).join(' | ') };
    }
    if (c.kind === 'mesh') {
      r = await toHaveReachability.call({ isNot: false }, b.lab, meshExpectation(o, c.flip));
      return { pass: r.pass, detail: r.message().split('\n').filter(Boolean).slice(0, 4).join(' | ') };
    }
    if (c.kind === 'reach' || c.kind === 'service') {
      const ns = b.clients[c.from]!;
      let target: string | { address: string; port: number };
      let options: Record<string, unknown> = {};
      if (c.kind === 'reach') {
        const address = targetAddress(c);
        target = c.proto === 'icmp' ? address : { address, port: c.port };
        const seen = seenAsAddress(c);
        options = { ...(c.proto === 'udp' ? { protocol: 'udp' } : {}), ...(seen ? { seenAs: seen } : {}) };
      } else {
        const v = m.services[c.service]!;
        target = { address: serviceAddress(v), port: v.port };
        options = { ...(v.proto === 'udp' ? { protocol: 'udp' } : {}), responder: false };
      }
      if (!c.not) options.timeout = POSITIVE_TIMEOUT_MS;
      r = await toReach.call({ isNot: c.not }, ns, target, Object.keys(options).length ? options : undefined);
    } else if (c.kind === 'route') {
      r = await toRouteVia.call({ isNot: c.not }, b.clients[c.client]!, routeDest(c), gwAddress(c.gw), ...(c.mark !== undefined ? [{ mark: c.mark }] : []));
    } else {
      const rule = { ...(c.byFrom ? { from: clientAddr(c.client) } : { fwmark: c.mark }), table: c.table };
      r = await toHaveRule.call({ isNot: c.not }, b.clients[c.client]!, rule);
    }
    // r.pass is "the positive form holds"; the claim passes when that matches its polarity
    const pass = c.not ? !r.pass : r.pass;
    return { pass, detail: r.message().split('\n').filter(Boolean).slice(1, 4).join(' | ') };
  } catch (e) {
    if (e instanceof NetspecError) return { refused: true, detail: `${e.name}: ${e.message.split('\n')[0]}` };
    throw e;
  }
}

/** The oracle's observation of one claim (listeners running). */
async function observeClaim(b: BuiltLab, m: LabModel, c: Claim, listeners: Listeners): Promise<Observation> {
  switch (c.kind) {
    case 'mesh': {
      const targets = [...Array.from({ length: m.servers }, (_, i) => serverAddr(i)), R_A];
      const matrix: Record<string, Record<string, boolean>> = {};
      const lines: string[] = [];
      await Promise.all(
        b.clients.map(async (ns) => {
          matrix[ns.name] = {};
          await Promise.all(
            targets.map(async (t) => {
              const o = await observe(ns, listeners, t, 'icmp', 0);
              matrix[ns.name]![t] = o.reached;
              lines.push(`${ns.name}→${t} ${o.reached ? 'yes' : 'no'}`);
            }),
          );
        }),
      );
      return { reached: true, arrivals: [], output: `ping matrix: ${lines.sort().join(', ')}`, matrix };
    }
    case 'reach':
      return observe(b.clients[c.from]!, listeners, targetAddress(c), c.proto, c.port);
    case 'service': {
      const v = m.services[c.service]!;
      const silent = m.services.flatMap((s, k) => (s.kind === 'silent' ? [join(b.serviceDir, `service-${k}.log`)] : []));
      return observeService(b.clients[c.from]!, serviceAddress(v), v.proto, v.port, silent);
    }
    case 'exposure': {
      const e = await observeExposure(b.clients[c.from]!, listeners, targetAddress(c), c.proto, exposureSample(m, c), exposurePeers(c));
      return { reached: false, arrivals: [], output: e.output, ports: e.ports };
    }
    case 'route': {
      const k = await kernelRoute(b.clients[c.client]!, routeDest(c), c.mark);
      const holds = !k.refused && k.via === gwAddress(c.gw);
      return { reached: holds, arrivals: [], output: `ip route get ${routeDest(c)}${c.mark !== undefined ? ` mark ${c.mark}` : ''}: ${k.text}` };
    }
    case 'rule': {
      const k = await kernelRule(b.clients[c.client]!, c.byFrom ? `from ${clientAddr(c.client)}` : `fwmark 0x${c.mark.toString(16)}`, c.table);
      return { reached: k.has, arrivals: [], output: `ip rule show: ${k.text}` };
    }
  }
}

export interface CaseOptions {
  /** Build in this lab (the caller owns and disposes it) instead of a new one. */
  lab?: Lab;
  /** false: only the oracle's observations (each claim's truth), netspec is not asked (verdict 'agree', netspec undefined). */
  askNetspec?: boolean;
}

export async function runCase(m: LabModel, options: CaseOptions = {}): Promise<CaseResult> {
  const t0 = performance.now();
  let b: BuiltLab;
  try {
    b = await buildLab(m, options.lab);
  } catch (e) {
    return { claims: [], script: [], ms: performance.now() - t0, error: `build: ${(e as Error).message}` };
  }
  const tBuilt = performance.now();
  const listeners = new Listeners();
  let tObserved = tBuilt;
  try {
    const observed: Observation[] = [];
    const spent: { oracle: number; netspec: number }[] = [];
    let oracleMs = 0;
    try {
      const exposures = m.claims.flatMap((c) => (c.kind === 'exposure' ? exposureSample(m, c) : []));
      const ports = [...new Set([...PORTS, ...m.dnats.map((d) => d.toPort), ...listenable(exposures)])];
      await listeners.start(b.all, ports);
      for (const c of m.claims) {
        const t = performance.now();
        observed.push(await observeClaim(b, m, c, listeners));
        spent.push({ oracle: performance.now() - t, netspec: 0 });
      }
    } finally {
      await listeners.stop();
      tObserved = performance.now();
      oracleMs = tObserved - tBuilt;
    }
    const asked: { pass?: boolean; detail: string; refused?: boolean; message?: string }[] = [];
    for (const [i, c] of m.claims.entries()) {
      const o = observed[i]!;
      const t = performance.now();
      asked.push(options.askNetspec === false ? { pass: c.kind === 'exposure' ? undefined : claimTruth(o, c), detail: '(netspec not asked)' } : await netspecVerdict(b, m, c, o));
      spent[i]!.netspec = performance.now() - t;
    }
    const tAsked = performance.now();
    // an exposure claim's ports that netspec's message names and the oracle did not probe: probed now (listeners again)
    const later = new Map<number, number[]>();
    for (const [i, c] of m.claims.entries()) {
      const probed = observed[i]!.ports;
      if (c.kind !== 'exposure' || !probed || !asked[i]!.message) continue;
      const extra = namedPorts(asked[i]!.message!).filter((p) => !probed.has(p)).slice(0, NAMED_MAX);
      if (extra.length) later.set(i, extra);
    }
    if (later.size) {
      const again = new Listeners();
      try {
        const t = performance.now();
      await again.start(b.all, [...new Set([...PORTS, ...listenable([...later.values()].flat())])]);
        for (const [i, extra] of later) {
          const c = m.claims[i] as ExposureClaim;
          const e = await observeExposure(b.clients[c.from]!, again, targetAddress(c), c.proto, extra, exposurePeers(c));
          for (const [p, t] of e.ports) observed[i]!.ports!.set(p, t);
          observed[i]!.output += `; then the ${extra.length} port(s) netspec named that were not probed: ${e.output}`;
        }
        // the listeners' start and stop shared by the claims probed again
        for (const i of later.keys()) spent[i]!.oracle += (performance.now() - t) / later.size;
      } finally {
        await again.stop();
        again.cleanup();
      }
    }
    oracleMs += performance.now() - tAsked;
    const claims: ClaimResult[] = [];
    for (const [i, c] of m.claims.entries()) {
      const o = observed[i]!;
      let truth: boolean;
      let oracle: string;
      if (c.kind === 'exposure') {
        const e = exposureTruth(m, c, o.ports!);
        truth = e.truth;
        oracle = `${o.output}: ${e.text}`;
      } else {
        truth = claimTruth(o, c);
        oracle = oracleText(o, c);
      }
      const v = options.askNetspec === false ? { ...asked[i]!, pass: truth } : asked[i]!;
      const verdict: Verdict = v.refused ? 'refusal' : v.pass === truth ? 'agree' : v.pass ? 'false-pass' : 'false-fail';
      claims.push({ claim: c, text: describeClaim(c, m), truth, netspec: v.pass, verdict, oracle, detail: v.detail, ms: spent[i] });
    }
    const t1 = performance.now();
    return { claims, script: b.script, ms: t1 - t0, phases: { build: tBuilt - t0, oracle: oracleMs, netspec: t1 - t0 - (tBuilt - t0) - oracleMs } };
  } catch (e) {
    return { claims: [], script: b.script, ms: performance.now() - t0, error: (e as Error).stack ?? String(e) };
  } finally {
    listeners.cleanup();
    rmSync(b.serviceDir, { recursive: true, force: true });
    if (!options.lab) await b.lab.dispose();
  }
}
