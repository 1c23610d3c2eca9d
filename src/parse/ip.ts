/**
 * The one parser of iproute2's JSON (`ip -json …`): links, addresses, routes (multipath nexthops and the table
 * included), neighbors, policy rules, nexthop objects and namespace ids, alone or as the back-to-back arrays of `ip -json -batch`.
 * The row types are defined here and exported by the public API through src/netns.ts.
 */

/** `ip -j link` row (the fields netspec uses; iproute2 prints more). */
export interface LinkInfo {
  ifindex: number;
  ifname: string;
  flags: string[];
  mtu: number;
  operstate: string;
  link_type: string;
  address?: string;
  master?: string;
  link?: string;
  linkinfo?: { info_kind?: string; info_slave_kind?: string };
  [key: string]: unknown;
}

export interface AddrInfo {
  ifindex: number;
  ifname: string;
  operstate: string;
  master?: string;
  addr_info: { family: 'inet' | 'inet6'; local: string; prefixlen: number; scope: string; tentative?: boolean; dadfailed?: boolean }[];
  [key: string]: unknown;
}

export interface RouteInfo {
  dst: string;
  gateway?: string;
  dev?: string;
  prefsrc?: string;
  protocol?: string;
  scope?: string;
  type?: string;
  metric?: number;
  flags?: string[];
  /** The table, when it is not main (iproute2 prints it then; `ip route get` too, for the table that answered). */
  table?: string;
  /** The nexthop object the route uses (`nhid`); its paths are in `nexthops` (a group) or `gateway`/`dev`. */
  nhid?: number;
  /** A multipath route's paths (`ip route add … nexthop via A dev X nexthop via B dev Y`). */
  nexthops?: { gateway?: string; dev?: string; weight?: number; flags?: string[] }[];
  [key: string]: unknown;
}

export interface NeighInfo {
  dst: string;
  dev: string;
  lladdr?: string;
  state: string[];
  router?: null;
  [key: string]: unknown;
}


/** `ip -j rule show` row. */
export interface IpRule {
  priority: number;
  src?: string;
  srclen?: number;
  dst?: string;
  dstlen?: number;
  iif?: string;
  oif?: string;
  fwmark?: string;
  fwmask?: string;
  /** `main`, `local`, `default` or a table number as text. */
  table?: string;
  action?: string;
  [key: string]: unknown;
}

/** `ip -j nexthop show` row: a gateway/device, a blackhole, or a group of other ids (a member's weight absent = 1). */
export interface NexthopInfo {
  id: number;
  gateway?: string;
  dev?: string;
  /** Present (null) on a blackhole nexthop. */
  blackhole?: null;
  group?: { id: number; weight?: number }[];
  flags?: string[];
  [key: string]: unknown;
}

/** `ip -json -batch` (and `ip -all netns exec ip -json …`) print one JSON array per command, back to back. */
export function splitJsonArrays(text: string): unknown[][] {
  const out: unknown[][] = [];
  let depth = 0;
  let start = -1;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') inString = true;
    else if (c === '[') {
      if (depth === 0) start = i;
      depth++;
    } else if (c === ']') {
      depth--;
      if (depth === 0 && start >= 0) {
        out.push(JSON.parse(text.slice(start, i + 1)) as unknown[]);
        start = -1;
      }
    }
  }
  return out;
}

/** The first JSON array of `ip -json …` output ([] when it printed none, or was cut short). */
export function firstArray(text: string): unknown[] {
  return rows<unknown>(text);
}

/** The first JSON array of `ip -json …` output ([] when it printed none). */
function rows<T>(text: string): T[] {
  try {
    return (splitJsonArrays(text)[0] ?? []) as T[];
  } catch {
    return []; // cut short (a namespace that vanished mid-read): nothing read, as when the command failed
  }
}

export const parseLinks = (text: string): LinkInfo[] => rows<LinkInfo>(text);
export const parseAddresses = (text: string): AddrInfo[] => rows<AddrInfo>(text);
export const parseNeighbors = (text: string): NeighInfo[] => rows<NeighInfo>(text);
export const parseIpRules = (text: string): IpRule[] => rows<IpRule>(text);

const DEFAULT_RULES = new Set(['0 local', '32766 main', '32767 default']);

/** Policy rules but the ones every namespace starts with (0: lookup local, 32766: lookup main, 32767: lookup default). */
export function userRules(rules: readonly IpRule[]): IpRule[] {
  // (`ip -details` adds `protocol: kernel` to them)
  const plain = (x: IpRule) => Object.entries(x).every(([k, v]) => ['priority', 'src', 'table'].includes(k) || (k === 'protocol' && v === 'kernel'));
  return rules.filter((x) => !DEFAULT_RULES.has(`${x.priority} ${x.table}`) || !plain(x) || x.src !== 'all');
}
export const parseNexthops = (text: string): NexthopInfo[] => rows<NexthopInfo>(text);

/** `ip -j route show …` rows; a route of a table other than main carries `table` (iproute2 prints it then). */
export function parseRoutes(text: string): RouteInfo[] {
  return rows<RouteInfo>(text);
}

/** `ip -json -batch` of `link show`, `addr show`, `neigh show`, `rule show`, in that order (routes are read per family, every table: src/state.ts). */
export function parseIpBatch(text: string): { links: LinkInfo[]; addresses: AddrInfo[]; neighbors: NeighInfo[]; ipRules: IpRule[] } {
  let arrays: unknown[][] = [];
  try {
    arrays = splitJsonArrays(text);
  } catch {
    /* cut short: nothing read */
  }
  const [links, addresses, neighbors, ipRules] = [0, 1, 2, 3].map((i) => arrays[i] ?? []);
  return { links: links as LinkInfo[], addresses: addresses as AddrInfo[], neighbors: neighbors as NeighInfo[], ipRules: ipRules as IpRule[] };
}

/** `ip -j netns list-id`: the name of the namespace of each nsid, where the reading namespace's /run/netns has one. */
export function parseNsIds(text: string): Map<number, string | undefined> {
  const m = new Map<number, string | undefined>();
  for (const e of rows<{ nsid: number; name?: string }>(text)) m.set(e.nsid, e.name);
  return m;
}

/** Global addresses of `ip -j addr show` rows; those on `lo` last (the link address is the one a neighbor reaches first). */
export function globalAddresses(links: readonly AddrInfo[]): { address: string; prefixLength: number }[] {
  return links
    .flatMap((l) => (l.addr_info ?? []).filter((a) => a.scope === 'global').map((a) => ({ address: a.local, prefixLength: a.prefixlen, lo: l.ifname === 'lo' })))
    .sort((a, b) => Number(a.lo) - Number(b.lo))
    .map(({ address, prefixLength }) => ({ address, prefixLength }));
}
