/** The kernel's /proc text this library reads: the neighbor tables' statistics (`/proc/net/stat/arp_cache`, `ndisc_cache`). */

export interface NeighborTableStat {
  /** Entries in the table now: one count for every network namespace of the machine (the table is shared). */
  entries: number;
  /** How often the table was full when an entry was wanted ("neighbor table overflow"), summed over CPUs. */
  tableFulls: number;
}

/**
 * `/proc/net/stat/arp_cache` (or `ndisc_cache`): a header line of column names, then one line of hexadecimal counters
 * per CPU. `entries` is the table's (the same on every line); the other counters are per CPU and are summed.
 */
export function parseNeighborTableStat(text: string): NeighborTableStat | undefined {
  const [head, ...rows] = text.trim().split('\n');
  const names = head?.trim().split(/\s+/) ?? [];
  const col = (name: string) => names.indexOf(name);
  const entries = col('entries');
  const fulls = col('table_fulls');
  if (entries < 0 || fulls < 0 || rows.length === 0) return undefined;
  const cells = rows.map((r) => r.trim().split(/\s+/).map((h) => Number.parseInt(h, 16)));
  if (cells.some((c) => c.length !== names.length || c.some((n) => !Number.isFinite(n)))) return undefined;
  return { entries: cells[0]![entries]!, tableFulls: cells.reduce((sum, c) => sum + c[fulls]!, 0) };
}
