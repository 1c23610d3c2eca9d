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

/**
 * Where JSON.parse failed in `text`: the position V8 names, else (`Unexpected token 'l', "…" is not valid JSON` names
 * none) the first offset whose prefix is no longer the start of any JSON text, found by a small syntax scan.
 */
export function jsonErrorOffset(text: string, error: unknown): number {
  const named = /position (\d+)/.exec(error instanceof Error ? error.message : '');
  if (named) return Number(named[1]);
  let i = 0;
  const ws = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i]!)) i++;
  };
  const value = (): boolean => {
    ws();
    const c = text[i];
    if (c === '{' || c === '[') {
      const close = c === '{' ? '}' : ']';
      i++;
      ws();
      if (text[i] === close) return (i++, true);
      for (;;) {
        if (c === '{') {
          ws();
          if (text[i] !== '"' || !string()) return false;
          ws();
          if (text[i] !== ':') return false;
          i++;
        }
        if (!value()) return false;
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === close) return (i++, true);
        else return false;
      }
    }
    if (c === '"') return string();
    const m = /^(?:-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null)/.exec(text.slice(i));
    if (!m) return false;
    i += m[0].length;
    return true;
  };
  const string = (): boolean => {
    for (i++; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c === 0x22) return (i++, true);
      if (c < 0x20) return false;
      if (c === 0x5c) i++;
    }
    return false;
  };
  value();
  return Math.min(i, text.length);
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
          throw unreadable(command, text, start + jsonErrorOffset(slice, error), (error as Error).message);
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

/** `ip -6 -json -batch -` of `route show table all`, `rule show`, in that order. */
export function parseIp6Batch(text: string, command = 'ip -6 -json -batch - (route show table all, rule show)'): { routes: RouteInfo[]; rules: IpRule[] } {
  const [routes = [], rules = []] = splitJsonArrays(text, command);
  return { routes: routes as RouteInfo[], rules: rules as IpRule[] };
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

/** The dsfield names of iproute2's rt_dsfield, which `ip rule` prints instead of the number (`tos AF11`). */
const DSFIELD_NAMES: Readonly<Record<string, number>> = {
  default: 0, AF11: 0x28, AF12: 0x30, AF13: 0x38, AF21: 0x48, AF22: 0x50, AF23: 0x58, AF31: 0x68, AF32: 0x70, AF33: 0x78, AF41: 0x88, AF42: 0x90, AF43: 0x98,
  CS0: 0, CS1: 0x20, CS2: 0x40, CS3: 0x60, CS4: 0x80, CS5: 0xa0, CS6: 0xc0, CS7: 0xe0, EF: 0xb8,
};

/** IP protocol numbers by the names `ip rule` prints (from /etc/protocols; `ipproto-N` for one without a name). */
export const IP_PROTOCOLS: Readonly<Record<string, number>> = {
  icmp: 1, igmp: 2, ipencap: 4, tcp: 6, udp: 17, ipv6: 41, gre: 47, esp: 50, ah: 51, 'ipv6-icmp': 58, icmpv6: 58, ospf: 89, sctp: 132, udplite: 136,
};

/**
 * A policy rule's selectors beyond prefixes and interfaces, as numbers and ranges (`ip -j rule` prints them in several
 * spellings): negation, dsfield, IP protocol, port and uid ranges (`lo-hi`, or one number), mark and mask (a mask left
 * out is all ones). `unreadable` lists the ones printed in a spelling netspec cannot turn into a number.
 */
export interface RuleSelectors {
  not: boolean;
  tos?: number;
  ipproto?: number;
  sport?: string;
  dport?: string;
  uidrange?: string;
  fwmark?: number;
  fwmask?: number;
  unreadable: string[];
}

const range = (lo: unknown, hi: unknown) => (lo === hi || hi === undefined ? String(lo) : `${String(lo)}-${String(hi)}`);

export function ruleSelectors(x: IpRule): RuleSelectors {
  const out: RuleSelectors = { not: Object.hasOwn(x, 'not'), unreadable: [] };
  if (x.tos !== undefined) {
    const t = String(x.tos);
    const n = /^(0x[0-9a-f]+|\d+)$/i.test(t) ? Number(t) : DSFIELD_NAMES[t];
    if (n === undefined) out.unreadable.push(`tos ${t}`);
    else out.tos = n;
  }
  if (x.ipproto !== undefined) {
    const p = String(x.ipproto);
    const n = /^\d+$/.test(p) ? Number(p) : /^ipproto-(\d+)$/.exec(p)?.[1] ?? IP_PROTOCOLS[p];
    if (n === undefined) out.unreadable.push(`ipproto ${p}`);
    else out.ipproto = Number(n);
  }
  if (x.sport !== undefined || x.sport_start !== undefined) out.sport = x.sport !== undefined ? String(x.sport) : range(x.sport_start, x.sport_end);
  if (x.dport !== undefined || x.dport_start !== undefined) out.dport = x.dport !== undefined ? String(x.dport) : range(x.dport_start, x.dport_end);
  if (x.uid_start !== undefined) out.uidrange = range(x.uid_start, x.uid_end);
  if (x.fwmark !== undefined) {
    out.fwmark = Number(x.fwmark);
    out.fwmask = x.fwmask === undefined ? 0xffffffff : Number(x.fwmask);
  }
  return out;
}

/** Keys of an `ip -j rule` row that ruleSelectors and the prefix, interface, table and action fields cover. */
const RULE_KEYS = new Set([
  'priority', 'src', 'srclen', 'dst', 'dstlen', 'iif', 'oif', 'table', 'action', 'not', 'tos', 'ipproto', 'sport', 'sport_start', 'sport_end',
  'dport', 'dport_start', 'dport_end', 'uid_start', 'uid_end', 'fwmark', 'fwmask', 'goto', 'nop',
  // who installed the rule, and whether its interface exists now: neither changes what it selects
  'protocol', 'iif_detached', 'oif_detached',
]);

/** What a rule selects or does beyond the fields above (`tun_id 5`, `l3mdev`, `suppress_prefixlen 0`, `realms` …), as `ip rule` words. */
export function ruleExtras(x: IpRule): string[] {
  const word: Record<string, string> = { suppress_prefixlen: 'suppress_prefixlength', flow_to: 'realms', flow_from: 'realms from' };
  return Object.entries(x)
    .filter(([k]) => !RULE_KEYS.has(k))
    .map(([k, v]) => (v === null || v === true ? (word[k] ?? k) : `${word[k] ?? k} ${String(v)}`));
}

/** A rule's action: `lookup` (a table), `goto`, `nop`, or one that refuses (`blackhole`, `unreachable`, `prohibit`). */
export function ruleAction(x: IpRule): string {
  return x.action ?? (x.goto !== undefined ? 'goto' : Object.hasOwn(x, 'nop') ? 'nop' : 'lookup');
}
