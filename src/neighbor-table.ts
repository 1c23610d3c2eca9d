/**
 * The kernel's neighbor tables (ARP for IPv4, NDISC for IPv6) are one per machine, shared by every network namespace,
 * and hold at most `gc_thresh3` entries (1,024 by default; only the machine's root can raise it). A lab whose pairs need
 * more entries at once loses packets to "neighbor table overflow": that is the machine's limit, never a verdict about
 * the lab's network. Read-only: netspec never changes these settings.
 */
import { readFileSync } from 'node:fs';
import { parseNeighborTableStat } from './parse/proc.js';

export interface NeighborTable {
  family: 4 | 6;
  entries: number;
  /** `net.ipv4.neigh.default.gc_thresh3` (IPv6: `net.ipv6.…`) of the machine: the most entries the table holds. */
  limit: number;
  tableFulls: number;
}

/** The machine's neighbor table for `family` now, or undefined where the kernel does not say. */
export function neighborTable(family: 4 | 6): NeighborTable | undefined {
  try {
    const stat = parseNeighborTableStat(readFileSync(`/proc/net/stat/${family === 4 ? 'arp_cache' : 'ndisc_cache'}`, 'utf8'));
    const limit = Number(readFileSync(`/proc/sys/net/ipv${family === 6 ? 6 : 4}/neigh/default/gc_thresh3`, 'utf8').trim());
    if (!stat || !Number.isInteger(limit) || limit <= 0) return undefined;
    return { family, limit, ...stat };
  } catch {
    return undefined;
  }
}

/** The setting that bounds the table, and how the machine's root raises it (netspec itself never does). */
export function neighborLimitFix(family: 4 | 6, needed: number): string {
  const key = `net.ipv${family}.neigh.default.gc_thresh3`;
  const value = 2 ** Math.ceil(Math.log2(Math.max(needed * 2, 2048)));
  return `${key} bounds it, for every namespace of the machine at once; as root on the machine: \`sysctl -w ${key}=${value}\` (and gc_thresh2 near it), or check fewer pairs at once`;
}
