/** The one place a diagnosis becomes text: its lines, steps met by many packets once with their count. */
import { sightings, type Trace, type TraceStep } from '../trace.js';

/** Lines that differ only in a packet's ports (one per probe, one per TCP segment) are one line with ×N. */
export function dedupe(lines: readonly string[]): string[] {
  const key = (l: string) => l.replace(/(\d+\.\d+\.\d+\.\d+|[0-9a-f:]*:[0-9a-f]*):\d+/gi, '$1:#').replace(/tcp \S+ /, 'tcp ');
  const counts = new Map<string, { first: string; n: number }>();
  for (const l of lines) {
    const k = key(l);
    const c = counts.get(k);
    if (c) c.n++;
    else counts.set(k, { first: l, n: 1 });
  }
  return [...counts.values()].map((c) => (c.n > 1 ? `${c.first} (×${c.n})` : c.first));
}

/** The kernel trace's sightings of the probe's packets, as one line (the path they took). */
export function tracedPath(trace: Trace): string | undefined {
  const seen = sightings(trace).slice(0, 8);
  if (!seen.length) return undefined;
  return `kernel trace: ${seen.map((s) => `${s.ns} ${s.chain === 'output' ? 'sent' : 'received'} ${s.packet}`).join('; ')}`;
}

/** A traced rewrite (DNAT, SNAT…), one line. */
export const rewriteLine = (r: TraceStep, rule: string): string => `${r.ns}: ${r.chain}: \`${rule}\` rewrites ${r.packet} (kernel trace)`;
