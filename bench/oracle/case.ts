/**
 * One oracle case: build the lab, observe every claim with the oracle (listeners everywhere, plain senders), stop the
 * listeners, then ask netspec the same claims through its matchers called as plain functions, and classify each.
 */
import { NetspecError, type Lab } from '../../src/index.js';
import { toHaveReachability, toHaveRule, toReach, toRouteVia } from '../../src/matchers/index.js';
import { join } from 'node:path';
import { rmSync } from 'node:fs';
import { buildLab, type BuiltLab } from './build.js';
import { PORTS, R_A, clientAddr, serverAddr, describeClaim, gwAddress, routeDest, seenAsAddress, serviceAddress, targetAddress, type Claim, type LabModel, type ReachClaim } from './model.js';
import { Listeners, kernelRoute, kernelRule, observe, observeService, type Observation } from './truth.js';

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

function oracleText(o: Observation, c: Claim): string {
  const landed = o.arrivals.map((a) => `${a.ns} (${a.local ?? ''}${a.port ? `:${a.port}` : ''} from ${a.peer})`).join(', ');
  return `${o.output}; arrived at: ${landed || 'nowhere'}${seenAsAddress(c) ? `; seenAs ${seenAsAddress(c)}` : ''}`;
}

function claimTruth(o: Observation, c: Claim): boolean {
  if (c.kind === 'mesh') return c.flip === undefined;
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

async function netspecVerdict(b: BuiltLab, m: LabModel, c: Claim, o: Observation): Promise<{ pass?: boolean; detail: string; refused?: boolean }> {
  try {
    let r;
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
    try {
      const ports = [...new Set([...PORTS, ...m.dnats.map((d) => d.toPort)])];
      await listeners.start(b.all, ports);
      for (const c of m.claims) observed.push(await observeClaim(b, m, c, listeners));
    } finally {
      await listeners.stop();
      tObserved = performance.now();
    }
    const claims: ClaimResult[] = [];
    for (const [i, c] of m.claims.entries()) {
      const o = observed[i]!;
      const truth = claimTruth(o, c);
      const v = options.askNetspec === false ? { pass: truth, detail: '(netspec not asked)' } : await netspecVerdict(b, m, c, o);
      const verdict: Verdict = v.refused ? 'refusal' : v.pass === truth ? 'agree' : v.pass ? 'false-pass' : 'false-fail';
      claims.push({ claim: c, text: describeClaim(c, m), truth, netspec: v.pass, verdict, oracle: oracleText(o, c), detail: v.detail });
    }
    const t1 = performance.now();
    return { claims, script: b.script, ms: t1 - t0, phases: { build: tBuilt - t0, oracle: tObserved - tBuilt, netspec: t1 - tObserved } };
  } catch (e) {
    return { claims: [], script: b.script, ms: performance.now() - t0, error: (e as Error).stack ?? String(e) };
  } finally {
    listeners.cleanup();
    rmSync(b.serviceDir, { recursive: true, force: true });
    if (!options.lab) await b.lab.dispose();
  }
}
