/**
 * The one parser of iproute2's JSON (`ip -json …`): links, addresses, routes (multipath nexthops and the table
 * included), neighbors, policy rules, nexthop objects and namespace ids, alone or as the back-to-back arrays of `ip -json -batch`.
 * The row types are defined here and exported by the public API through src/netns.ts.
 */
import { ProbeError, escapeControl } from '../errors.js';

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

/**
 * iproute2's JSON writer escapes `"`, `\\` and \b \f \n \r \t in strings, but writes every other control byte (ESC,
 * \x01 …) raw, which JSON forbids: a link named `a\x1bb` or an alias with \x01 makes the whole table unparseable. Such
 * a byte inside a string is written `\u00XX`, so the name reads back exactly as the kernel has it (never as "no links").
 */
export function escapeRawControlBytes(text: string): string {
  let out = '';
  let last = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
      else if (c < 0x20) {
        out += `${text.slice(last, i)}\\u${c.toString(16).padStart(4, '0')}`;
        last = i + 1;
      }
    } else if (c === 0x22) inString = true;
  }
  return last === 0 ? text : out + text.slice(last);
}

/** Output netspec could not read: a ProbeError naming the command and the byte offset (never "nothing there"). */
export function unreadable(command: string, text: string, charOffset: number, why: string): ProbeError {
  const byte = Buffer.byteLength(text.slice(0, charOffset), 'utf8');
  const around = escapeControl(text.slice(Math.max(0, charOffset - 30), charOffset + 30));
  return new ProbeError(`could not read the output of \`${command}\` at byte ${byte} (${why}; around it: ${around}); netspec reads nothing it cannot parse as empty, so there is no verdict`);
}

/**
 * `ip -json -batch` (and `ip -all netns exec ip -json …`) print one JSON array per command, back to back. Output that
 * is not that (cut short, or anything else) is a ProbeError naming `command` and the byte offset.
 */
export function splitJsonArrays(text: string, command = 'ip -json'): unknown[][] {
  text = escapeRawControlBytes(text);
  const out: unknown[][] = [];
  let depth = 0;
  let start = -1;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
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
      if (depth < 0) throw unreadable(command, text, i, 'a `]` that closes nothing');
      if (depth === 0 && start >= 0) {
        const slice = text.slice(start, i + 1);
        try {
          out.push(JSON.parse(slice) as unknown[]);
        } catch (error) {
          const at = /position (\d+)/.exec((error as Error).message);
          throw unreadable(command, text, start + Number(at?.[1] ?? 0), (error as Error).message);
        }
        start = -1;
      }
    } else if (depth === 0 && !/\s/.test(c)) throw unreadable(command, text, i, 'text outside the JSON arrays');
  }
  if (depth > 0 || inString) throw unreadable(command, text, text.length, 'the output ends inside a JSON array (cut short?)');
  return out;
}

/** The first JSON array of `ip -json …` output ([] when it printed none); unreadable output is a ProbeError. */
export function firstArray(text: string, command = 'ip -json'): unknown[] {
  return rows<unknown>(text, command);
}

/** The first JSON array of `ip -json …` output ([] when it printed none). */
function rows<T>(text: string, command: string): T[] {
  return (splitJsonArrays(text, command)[0] ?? []) as T[];
}

export const parseLinks = (text: string, command = 'ip -json link show'): LinkInfo[] => rows<LinkInfo>(text, command);
export const parseAddresses = (text: string, command = 'ip -json addr show'): AddrInfo[] => rows<AddrInfo>(text, command);
export const parseNeighbors = (text: string, command = 'ip -json neigh show'): NeighInfo[] => rows<NeighInfo>(text, command);
export const parseIpRules = (text: string, command = 'ip -json rule show'): IpRule[] => rows<IpRule>(text, command);

const DEFAULT_RULES = new Set(['0 local', '32766 main', '32767 default']);

/** Policy rules but the ones every namespace starts with (0: lookup local, 32766: lookup main, 32767: lookup default). */
export function userRules(rules: readonly IpRule[]): IpRule[] {
  // (`ip -details` adds `protocol: kernel` to them)
  const plain = (x: IpRule) => Object.entries(x).every(([k, v]) => ['priority', 'src', 'table'].includes(k) || (k === 'protocol' && v === 'kernel'));
  return rules.filter((x) => !DEFAULT_RULES.has(`${x.priority} ${x.table}`) || !plain(x) || x.src !== 'all');
}
export const parseNexthops = (text: string, command = 'ip -json nexthop show'): NexthopInfo[] => rows<NexthopInfo>(text, command);

/** `ip -j route show …` rows; a route of a table other than main carries `table` (iproute2 prints it then). */
export function parseRoutes(text: string, command = 'ip -json route show'): RouteInfo[] {
  return rows<RouteInfo>(text, command);
}

/** `ip -json -batch` of `link show`, `addr show`, `neigh show`, `rule show`, in that order (routes are read per family, every table: src/state.ts). */
export function parseIpBatch(text: string, command = 'ip -json -batch - (link, addr, neigh, rule show)'): { links: LinkInfo[]; addresses: AddrInfo[]; neighbors: NeighInfo[]; ipRules: IpRule[] } {
  const arrays = splitJsonArrays(text, command);
  const [links, addresses, neighbors, ipRules] = [0, 1, 2, 3].map((i) => arrays[i] ?? []);
  return { links: links as LinkInfo[], addresses: addresses as AddrInfo[], neighbors: neighbors as NeighInfo[], ipRules: ipRules as IpRule[] };
}

/** `ip -j netns list-id`: the name of the namespace of each nsid, where the reading namespace's /run/netns has one. */
export function parseNsIds(text: string, command = 'ip -json netns list-id'): Map<number, string | undefined> {
  const m = new Map<number, string | undefined>();
  for (const e of rows<{ nsid: number; name?: string }>(text, command)) m.set(e.nsid, e.name);
  return m;
}

/** Global addresses of `ip -j addr show` rows; those on `lo` last (the link address is the one a neighbor reaches first). */
export function globalAddresses(links: readonly AddrInfo[]): { address: string; prefixLength: number }[] {
  return links
    .flatMap((l) => (l.addr_info ?? []).filter((a) => a.scope === 'global').map((a) => ({ address: a.local, prefixLength: a.prefixlen, lo: l.ifname === 'lo' })))
    .sort((a, b) => Number(a.lo) - Number(b.lo))
    .map(({ address, prefixLength }) => ({ address, prefixLength }));
}
