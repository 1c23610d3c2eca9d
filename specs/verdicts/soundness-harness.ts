// The soundness harness's shared part (specs/verdicts/soundness.spec.ts, saturated; soundness-slow.spec.ts, slow
// answers): the cases, the tally, the tries, and the figures each file writes.
import { writeFileSync, mkdirSync } from 'node:fs';
import { expect } from '../../src/vitest.js';
import { ProbeError, type Lab, type Netns } from '../../src/index.js';
import { probe, resolveTarget } from '../../src/probe.js';
import { bridgeNetwork } from '../../fixtures/index.js';
import { sweepPorts, portRanges } from '../../src/exposure.js';
import { Listeners, observe } from '../../bench/oracle/truth.js';

export const TRIES = Number(process.env.NETSPEC_SOUNDNESS_TRIES ?? 8);

interface Tally {
  tries: number;
  falsePasses: number;
  falseFails: number;
  noVerdict: number;
}

export const tallies = new Map<string, Tally>();
export function tally(name: string): Tally {
  let t = tallies.get(name);
  if (!t) tallies.set(name, (t = { tries: 0, falsePasses: 0, falseFails: 0, noVerdict: 0 }));
  return t;
}

export async function dualStack(lab: Lab): Promise<{ red: Netns; blue: Netns }> {
  const net = await bridgeNetwork(lab, { names: ['red', 'blue'], gateway: false, defaultRoutes: false });
  const { red, blue } = net;
  await Promise.all([red.addAddress('fd00:15::1/64', 'veth-red'), blue.addAddress('fd00:15::2/64', 'veth-blue')]);
  return { red, blue };
}

export type Case = { name: string; target: string | { address: string; port: number }; protocol: 'icmp' | 'tcp' | 'udp'; responder?: boolean };

export const CASES: Case[] = [
  { name: 'icmp v4', target: '192.168.15.2', protocol: 'icmp' },
  { name: 'icmp v6', target: 'fd00:15::2', protocol: 'icmp' },
  { name: 'tcp v4', target: { address: '192.168.15.2', port: 8080 }, protocol: 'tcp' },
  { name: 'tcp v6', target: { address: 'fd00:15::2', port: 8080 }, protocol: 'tcp' },
  { name: 'udp v4', target: { address: '192.168.15.2', port: 5353 }, protocol: 'udp' },
  { name: 'udp v6', target: { address: 'fd00:15::2', port: 5353 }, protocol: 'udp' },
];

/** `.not` (window) and positive (success) probes of a reachable target, counted. */
export async function tryCase(condition: string, red: Netns, c: Case, tries: number, window = 400): Promise<void> {
  const t = tally(`${condition} / ${c.name}`);
  const target = await resolveTarget(red, c.target, { protocol: c.protocol });
  for (let i = 0; i < tries; i++) {
    t.tries++;
    try {
      const not = await probe(red, target, { durationMs: window, until: 'window', responder: c.responder });
      if (!not.reached) t.falsePasses++;
    } catch (error) {
      if (!(error instanceof ProbeError)) throw error;
      t.noVerdict++;
    }
    try {
      const pos = await probe(red, target, { durationMs: 3000, until: 'success', responder: c.responder });
      if (!pos.reached) t.falseFails++;
    } catch (error) {
      if (!(error instanceof ProbeError)) throw error;
      t.noVerdict++;
    }
  }
}

/** `toHaveReachability({ red: { blue: false } })`'s verdict: the mesh path (fping, then a probe with evidence). */
export async function tryMesh(condition: string, lab: Lab, red: Netns, blue: Netns, tries: number, timeout = 400): Promise<void> {
  const t = tally(`${condition} / mesh`);
  for (let i = 0; i < tries; i++) {
    t.tries++;
    try {
      const m = await lab.reachability([red], { targets: [blue], timeout, explain: false });
      if (!m.get('red', 'blue')!.reached) t.falsePasses++;
    } catch (error) {
      if (!(error instanceof ProbeError)) throw error;
      t.noVerdict++;
    }
  }
}
// This half saturates every core on purpose: it runs alone, after every other file (vitest.config.ts, SERIAL); the
// slow-answers half is specs/verdicts/soundness-slow.spec.ts.
/** Print this file's tally and write it to .netspec/FILE; no false pass, and something was asked. */
export function figures(file: string): void {
  const rows = [...tallies].map(([name, t]) => `${name.padEnd(24)} tries ${String(t.tries).padStart(4)}  false passes ${t.falsePasses}  false fails ${t.falseFails}  no verdict (starved) ${t.noVerdict}`);
  const total = [...tallies.values()].reduce((a, t) => ({ tries: a.tries + t.tries, falsePasses: a.falsePasses + t.falsePasses, falseFails: a.falseFails + t.falseFails, noVerdict: a.noVerdict + t.noVerdict }), { tries: 0, falsePasses: 0, falseFails: 0, noVerdict: 0 });
  const summary = `soundness: ${total.tries} "not reached" questions about reachable targets: ${total.falsePasses} false passes, ${total.falseFails} false fails, ${total.noVerdict} without a verdict (starved, reported as errors)`;
  console.log(`${rows.join('\n')}\n${summary}`);
  mkdirSync('.netspec', { recursive: true });
  writeFileSync(`.netspec/${file}`, JSON.stringify({ tries: TRIES, total, cases: Object.fromEntries(tallies) }, null, 2));
  expect(total.falsePasses).toBe(0);
  expect(total.tries).toBeGreaterThan(0);
}

// ── exposure sweeps (issue 30): "closed" must never be said of a port that is open ──

/** A generated firewall: the ports it accepts, rejects (TCP reset / ICMP) and drops, on the target or on the router. */
export interface ExposureCase {
  seed: number;
  protocol: 'tcp' | 'udp';
  /**
   * `input`: the target's own input chain; `forward`: the router between source and target (the lab host); `dnat`: the
   * router's own address, whose input drops everything, with the accepted ports DNAT'd to the target (same port).
   */
  where: 'input' | 'forward' | 'dnat';
  accepted: number[];
  /** The range among the accepted ports (its edges and the ports just past them are sampled). */
  range: [number, number];
  rejected: number[];
}

/** A small seeded PRNG (mulberry32): the same seed, the same case. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Case `seed`: a few single ports, one range (its edges are where off-by-ones live) and a few rejected ports. */
export function exposureCase(seed: number): ExposureCase {
  const r = rng(seed);
  const port = () => 1 + Math.floor(r() * 65535);
  const accepted = new Set<number>();
  for (let i = 0, n = 1 + Math.floor(r() * 4); i < n; i++) accepted.add(port());
  const lo = port();
  const hi = Math.min(65535, lo + Math.floor(r() * 300));
  for (let p = lo; p <= hi; p++) accepted.add(p);
  const rejected = new Set<number>();
  for (let i = 0; i < 3; i++) {
    const p = port();
    if (!accepted.has(p)) rejected.add(p);
  }
  return { seed, protocol: r() < 0.7 ? 'tcp' : 'udp', where: (['input', 'forward', 'dnat'] as const)[Math.floor(r() * 3)]!, accepted: [...accepted].sort((a, b) => a - b), range: [lo, hi], rejected: [...rejected] };
}

/** What one exposure case found: the sweep against the case's own truth, and against an independent per-port probe. */
export interface ExposureFinding {
  case: ExposureCase;
  /** Open ports (by the case's rules) the sweep called closed: false passes of `toReachOnly` / `.not.toReachAny`. */
  missed: number[];
  /** Ports the sweep called open that the rules close. */
  extra: number[];
  /** Sampled ports an independent probe (socat to the oracle's listener) reached that the sweep called closed. */
  missedByProbe: number[];
  /** Sampled ports the sweep called open that the independent probe did not reach. */
  extraByProbe: number[];
  /** Sampled ports where the independent probe and the case's rules disagree (an oracle or lab problem, not netspec's). */
  oracleDisagrees: number[];
  sampled: number[];
}

/**
 * Build case `c` in `lab` (tenant a 10.30.1.2 and b 10.30.2.2, routed by the lab host; the firewall on b's input or on
 * the host's forward), sweep every port from a, and check the sweep against the rules and, for a sample of ports,
 * against the oracle's listener reached with plain socat (bench/oracle/truth.ts: no code of netspec's probe).
 */
export async function tryExposure(lab: Lab, c: ExposureCase, tallyName = `exposure / ${c.protocol} ${c.where}`): Promise<ExposureFinding | undefined> {
  const t = tally(tallyName);
  const [a, b] = await Promise.all([lab.netns('a'), lab.netns('b')]);
  const [ba, bb] = await Promise.all([lab.bridge('v-ea', { address: '10.30.1.1/24' }), lab.bridge('v-eb', { address: '10.30.2.1/24' })]);
  await Promise.all([ba.attach(a, { address: '10.30.1.2/24', gateway: true }), bb.attach(b, { address: '10.30.2.2/24', gateway: true })]);
  await lab.host.forwarding(true);
  const set = (ports: number[]) => `{ ${portRanges(ports)} }`;
  const reject = c.rejected.length ? `${c.protocol} dport ${set(c.rejected)} ${c.protocol === 'tcp' ? 'reject with tcp reset' : 'reject'}; ` : '';
  const hook = c.where === 'input' ? 'input' : 'forward';
  const rules =
    c.where === 'dnat'
      ? `table ip gen {\n chain pre { type nat hook prerouting priority dstnat; policy accept; ip daddr 10.30.1.1 ${c.protocol} dport ${set(c.accepted)} dnat to 10.30.2.2; }\n chain in { type filter hook input priority 0; policy drop; ct state established,related accept; ${reject}}\n}\n`
      : `table inet gen {\n chain f { type filter hook ${hook} priority 0; policy drop; ct state established,related accept; ${reject}${c.protocol} dport ${set(c.accepted)} accept; }\n}\n`;
  await (c.where === 'input' ? b : lab.host).exec('nft', ['-f', '-'], { input: rules });
  const accepted = new Set(c.accepted);
  // the address swept: the target's, or (dnat) the router's, whose accepted ports land in the target
  const address = c.where === 'dnat' ? '10.30.1.1' : '10.30.2.2';
  t.tries++;
  let found: Set<number>;
  try {
    const s = await sweepPorts(a, { address, family: 4 }, { protocol: c.protocol });
    // every port found must have landed in the target (dnat: never in the router itself)
    found = new Set(s.exposed.filter((e) => e.ns === 'b' && e.address === '10.30.2.2' && e.landedPort === e.port).map((e) => e.port));
    for (const e of s.exposed) if (!found.has(e.port)) found.add(-e.port); // landed elsewhere: counted as extra below
  } catch (error) {
    if (!(error instanceof ProbeError)) throw error;
    t.noVerdict++;
    return undefined;
  }
  const missed = c.accepted.filter((p) => !found.has(p));
  const extra = [...found].filter((p) => p < 0 || !accepted.has(p));
  // the independent probe: the range's edges and just outside them, a few single ports, the rejected ones, random others
  const [lo, hi] = c.range;
  const r = rng(c.seed ^ 0x5eed);
  const sample = [...new Set([...c.accepted.slice(0, 3), lo, hi, lo - 1, hi + 1, ...c.rejected, ...Array.from({ length: 4 }, () => 1 + Math.floor(r() * 65535))])].filter((p) => p >= 1 && p <= 65535);
  const listeners = new Listeners();
  const missedByProbe: number[] = [];
  const extraByProbe: number[] = [];
  const oracleDisagrees: number[] = [];
  try {
    await listeners.start([b], sample);
    // four sampled ports at a time: each probe is told apart by its nonce (its answer and its arrival), and a dropped
    // TCP port waits 1.5 s, so one after another this loop was most of the case's 12 s (all at once, eight cases of a
    // file made ~100 socat processes on 2 cores)
    const seen: Awaited<ReturnType<typeof observe>>[] = [];
    for (let i = 0; i < sample.length; i += 4) seen.push(...(await Promise.all(sample.slice(i, i + 4).map((port) => observe(a, listeners, address, c.protocol, port)))));
    sample.forEach((port, i) => {
      const o = seen[i]!;
      if (o.reached && !found.has(port)) missedByProbe.push(port);
      if (!o.reached && found.has(port)) extraByProbe.push(port);
      if (o.reached !== accepted.has(port)) oracleDisagrees.push(port);
    });
  } finally {
    await listeners.stop();
    listeners.cleanup();
  }
  t.falsePasses += missed.length + missedByProbe.length;
  t.falseFails += extra.length + extraByProbe.length;
  return { case: c, missed, extra, missedByProbe, extraByProbe, oracleDisagrees, sampled: sample };
}
