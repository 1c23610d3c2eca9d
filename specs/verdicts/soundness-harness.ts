// The soundness harness's shared part (specs/verdicts/soundness.spec.ts, saturated; soundness-slow.spec.ts, slow
// answers): the cases, the tally, the tries, and the figures each file writes.
import { writeFileSync, mkdirSync } from 'node:fs';
import { expect } from '../../src/vitest.js';
import { ProbeError, type Lab, type Netns } from '../../src/index.js';
import { probe, resolveTarget } from '../../src/probe.js';
import { bridgeNetwork } from '../../fixtures/index.js';

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
