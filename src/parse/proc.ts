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

/** A namespace's UDP counters: datagrams its kernel delivered to UDP sockets, and datagrams UDP sockets sent. */
export interface UdpCounters {
  inDatagrams: number;
  outDatagrams: number;
}

/**
 * `/proc/net/snmp` (IPv4: a `Udp:` line of names, then one of values) or `/proc/net/snmp6` (IPv6: `Udp6InDatagrams N`
 * lines). Undefined when the counters are not there.
 */
export function parseUdpCounters(text: string, family: 4 | 6): UdpCounters | undefined {
  if (family === 6) {
    const get = (name: string) => Number(new RegExp(`^${name}\\s+(\\d+)\\s*$`, 'm').exec(text)?.[1] ?? NaN);
    const inDatagrams = get('Udp6InDatagrams');
    const outDatagrams = get('Udp6OutDatagrams');
    return Number.isFinite(inDatagrams) && Number.isFinite(outDatagrams) ? { inDatagrams, outDatagrams } : undefined;
  }
  const [names, values] = text.split('\n').filter((l) => l.startsWith('Udp: '));
  if (!names || !values) return undefined;
  const n = names.trim().split(/\s+/);
  const v = values.trim().split(/\s+/).map(Number);
  const inDatagrams = v[n.indexOf('InDatagrams')];
  const outDatagrams = v[n.indexOf('OutDatagrams')];
  return inDatagrams !== undefined && outDatagrams !== undefined && Number.isFinite(inDatagrams) && Number.isFinite(outDatagrams) ? { inDatagrams, outDatagrams } : undefined;
}

/** The ICMP redirects received, from /proc/net/snmp (`Icmp: … InRedirects …`) or /proc/net/snmp6 (`Icmp6InRedirects`). */
export function parseIcmpRedirects(text: string, family: 4 | 6): number | undefined {
  if (family === 6) {
    const n = Number(/^Icmp6InRedirects\s+(\d+)\s*$/m.exec(text)?.[1] ?? NaN);
    return Number.isFinite(n) ? n : undefined;
  }
  const [names, values] = text.split('\n').filter((l) => l.startsWith('Icmp: '));
  if (!names || !values) return undefined;
  const v = Number(values.trim().split(/\s+/)[names.trim().split(/\s+/).indexOf('InRedirects')]);
  return names.includes(' InRedirects') && Number.isFinite(v) ? v : undefined;
}

/**
 * `grep -r '' /proc/sys/net/…` output (`/proc/sys/net/ipv4/conf/eth0/forwarding:1`, one file a line) as a map from the
 * key in slash form (`net/ipv4/conf/eth0/forwarding`: an interface name may hold a dot, so the slash form is the
 * unambiguous one) to its value. Lines of another shape (an unreadable file's error) are skipped.
 */
export function parseProcSys(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^\/proc\/sys\/([^:]+):(.*)$/.exec(line);
    if (m) out.set(m[1]!, m[2]!.trim());
  }
  return out;
}

/** A listening (TCP) or bound (UDP) socket, from `ss -Hlntu`. */
export interface Listener {
  protocol: 'tcp' | 'udp';
  /** The bound address (`0.0.0.0`, `::` or `*` for any), without brackets or a `%dev` suffix. */
  address: string;
  port: number;
  /** `%dev` of a socket bound to an interface. */
  dev?: string;
}

/** `ss -Hlntu` lines: `tcp LISTEN 0 4096 127.0.0.1:80 0.0.0.0:*`, `udp UNCONN 0 0 [::]:53 [::]:*`. */
export function parseListeners(text: string): Listener[] {
  const out: Listener[] = [];
  for (const line of text.split('\n')) {
    const cols = line.trim().split(/\s+/);
    if (cols.length < 5 || (cols[0] !== 'tcp' && cols[0] !== 'udp')) continue;
    const m = /^\[?([^\]%]*?)(?:%([^\]]+))?\]?:(\d+|\*)$/.exec(cols[4]!);
    if (!m || m[3] === '*') continue;
    out.push({ protocol: cols[0], address: m[1] || '*', port: Number(m[3]), ...(m[2] ? { dev: m[2] } : {}) });
  }
  return out;
}
