/**
 * One oracle case: build the lab, observe every claim with the oracle (listeners everywhere, plain senders), stop the
 * listeners, then ask netspec the same claims through its matchers called as plain functions, and classify each.
 */
import { NetspecError } from '../../src/index.js';
import { toReach } from '../../src/matchers/index.js';
import { buildLab, type BuiltLab } from './build.js';
import { PORTS, describeClaim, seenAsAddress, targetAddress, type Claim, type LabModel, type ReachClaim } from './model.js';
import { Listeners, observe, type Observation } from './truth.js';

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
  /** The oracle itself failed (listeners, the lab): not a verdict about netspec. */
  error?: string;
}

function oracleText(o: Observation, c: ReachClaim): string {
  const landed = o.arrivals.map((a) => `${a.ns} (${a.local ?? ''}${a.port ? `:${a.port}` : ''} from ${a.peer})`).join(', ');
  return `${o.output}; arrived at: ${landed || 'nowhere'}${c.seenAs ? `; seenAs ${seenAsAddress(c)}` : ''}`;
}

function claimTruth(o: Observation, c: ReachClaim): boolean {
  if (c.not) return !o.reached;
  if (!o.reached) return false;
  const seen = seenAsAddress(c);
  if (seen === undefined) return true;
  // the source the answering end saw: every arrival of this nonce (ICMP may be seen more than once) must show it
  return o.arrivals.length > 0 && o.arrivals.every((a) => a.peer === seen);
}

async function netspecVerdict(b: BuiltLab, c: ReachClaim): Promise<{ pass?: boolean; detail: string; refused?: boolean }> {
  const ns = b.clients[c.from]!;
  const address = targetAddress(c);
  const target = c.proto === 'icmp' ? address : { address, port: c.port };
  const seen = seenAsAddress(c);
  const options = { ...(c.proto === 'udp' ? { protocol: 'udp' as const } : {}), ...(seen ? { seenAs: seen } : {}), ...(c.not ? {} : { timeout: POSITIVE_TIMEOUT_MS }) };
  try {
    const r = await toReach.call({ isNot: c.not }, ns, target, Object.keys(options).length ? options : undefined);
    // r.pass is "reached (and seen as)"; the claim passes when that matches its polarity
    const pass = c.not ? !r.pass : r.pass;
    return { pass, detail: r.message().split('\n').filter(Boolean).slice(1, 4).join(' | ') };
  } catch (e) {
    if (e instanceof NetspecError) return { refused: true, detail: `${e.name}: ${e.message.split('\n')[0]}` };
    throw e;
  }
}

export async function runCase(m: LabModel): Promise<CaseResult> {
  const t0 = performance.now();
  let b: BuiltLab;
  try {
    b = await buildLab(m);
  } catch (e) {
    return { claims: [], script: [], ms: performance.now() - t0, error: `build: ${(e as Error).message}` };
  }
  const listeners = new Listeners();
  try {
    const observed: Observation[] = [];
    try {
      const ports = [...new Set([...PORTS, ...m.dnats.map((d) => d.toPort)])];
      await listeners.start(b.all, ports);
      for (const c of m.claims) observed.push(await observe(b.clients[c.from]!, listeners, targetAddress(c), c.proto, c.port));
    } finally {
      await listeners.stop();
    }
    const claims: ClaimResult[] = [];
    for (const [i, c] of m.claims.entries()) {
      const o = observed[i]!;
      const truth = claimTruth(o, c);
      const v = await netspecVerdict(b, c);
      const verdict: Verdict = v.refused ? 'refusal' : v.pass === truth ? 'agree' : v.pass ? 'false-pass' : 'false-fail';
      claims.push({ claim: c, text: describeClaim(c), truth, netspec: v.pass, verdict, oracle: oracleText(o, c), detail: v.detail });
    }
    return { claims, script: b.script, ms: performance.now() - t0 };
  } catch (e) {
    return { claims: [], script: b.script, ms: performance.now() - t0, error: (e as Error).stack ?? String(e) };
  } finally {
    listeners.cleanup();
    await b.lab.dispose();
  }
}
