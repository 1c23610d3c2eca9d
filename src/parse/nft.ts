/**
 * The one parser of `nft -j list …` output: tables, chains (with hook, priority and policy) and rules (their
 * expressions, a readable nft-syntax text and their counters). State dumps, diagnoses, the picture and the probes'
 * DNAT lookup read native nftables rules through this module; rules that iptables-nft wrote are shown once, in
 * iptables form (src/parse/iptables.ts), and netspec's own tables (traces, witnesses) never.
 *
 * Over 300 lines on purpose: one format, one file: nft's JSON expressions, their rendering as nft syntax, and the NAT and witness readers are one grammar.
 */
import { canonical, contains, parseCidr } from '../address.js';
import { interfaceMatches, type PacketFacts } from './iptables.js';
import { jsonErrorOffset, unreadable } from './ip.js';

export interface NftTable {
  readonly family: string;
  readonly name: string;
}

export interface NftChain {
  readonly family: string;
  readonly table: string;
  readonly name: string;
  /** A base chain's type, hook, priority and policy; undefined for a regular chain. */
  readonly type?: string;
  readonly hook?: string;
  readonly prio?: number;
  readonly policy?: string;
}

/** One expression of a rule, as nft's JSON has it (`{ match: … }`, `{ counter: … }`, `{ dnat: … }`, …). */
export type NftExpr = Record<string, unknown>;

export interface NftRule {
  readonly family: string;
  readonly table: string;
  readonly chain: string;
  readonly handle?: number;
  readonly expr: readonly NftExpr[];
  /** The rule in nft syntax, as close to `nft list ruleset` as netspec renders it (counters included). */
  readonly text: string;
  /** Its counter's packets, when it has a `counter`. */
  readonly packets?: number;
}

export interface NftRuleset {
  readonly tables: readonly NftTable[];
  readonly chains: readonly NftChain[];
  readonly rules: readonly NftRule[];
}

export const EMPTY_NFT: NftRuleset = { tables: [], chains: [], rules: [] };

/** `nft -j …` output as JSON: empty output is no items; unreadable output is a ProbeError naming the command and the byte offset. */
function nftItems<T>(text: string, command: string): T[] {
  if (!text.trim()) return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw unreadable(command, text, jsonErrorOffset(text, error), (error as Error).message);
  }
  const items = (parsed as { nftables?: unknown } | null)?.nftables;
  if (!Array.isArray(items)) throw unreadable(command, text, 0, 'no `nftables` array in it');
  return items as T[];
}

/** Parse `nft -j list ruleset` (or `list table …`). Empty output is an empty ruleset; unreadable output a ProbeError. */
export function parseNftJson(text: string, command = 'nft -j list ruleset'): NftRuleset {
  const items = nftItems<Record<string, Record<string, unknown>>>(text, command);
  const tables: NftTable[] = [];
  const chains: NftChain[] = [];
  const rules: NftRule[] = [];
  for (const item of items) {
    if (item.table) tables.push({ family: String(item.table.family), name: String(item.table.name) });
    else if (item.chain) {
      const c = item.chain;
      chains.push({
        family: String(c.family),
        table: String(c.table),
        name: String(c.name),
        ...(c.hook !== undefined ? { type: String(c.type), hook: String(c.hook), prio: Number(c.prio), policy: String(c.policy ?? 'accept') } : {}),
      });
    } else if (item.rule) {
      const r = item.rule;
      const expr = (Array.isArray(r.expr) ? r.expr : []) as NftExpr[];
      const counter = expr.find((e) => e.counter)?.counter as { packets?: number } | undefined;
      rules.push({ family: String(r.family), table: String(r.table), chain: String(r.chain), handle: r.handle as number | undefined, expr, text: renderRule(expr), packets: counter?.packets });
    }
  }
  return { tables, chains, rules };
}

/** The elements of a set (`nft -j list set …`), as strings: addresses canonical. */
export function setElements(text: string, command = 'nft -j list set'): string[] {
  const items = nftItems<{ set?: { elem?: unknown[] } }>(text, command);
  const elems = items.find((x) => x.set)?.set?.elem ?? [];
  return elems.map((e) => canonical(typeof e === 'string' ? e : String((e as { elem?: { val?: unknown } }).elem?.val ?? e)));
}

/**
 * The elements of every set of one table (`nft -j list table …`), each a list of its concatenated values (addresses
 * canonical, ports as numbers): what netspec's landing watch recorded (src/landing.ts). Output that is not nft's JSON
 * of one table, or an element of another shape, is an error naming the command and the byte offset: a watch read
 * wrong would place a probe's landing wrong.
 */
export function tableSetElements(text: string, command: string): Map<string, (string | number)[][]> {
  if (!text.trim()) throw unreadable(command, text, 0, 'no output');
  const items = nftItems<{ set?: { name?: unknown; elem?: unknown[] } }>(text, command);
  const out = new Map<string, (string | number)[][]>();
  for (const item of items) {
    if (!item.set) continue;
    const name = String(item.set.name);
    const elems: (string | number)[][] = [];
    for (const e of item.set.elem ?? []) {
      const value = (e as { elem?: { val?: unknown } }).elem?.val ?? e;
      const parts = (value as { concat?: unknown[] }).concat ?? [value];
      elems.push(
        parts.map((v) => {
          if (typeof v === 'number') return v;
          if (typeof v === 'string') return canonical(v);
          throw unreadable(command, text, 0, `a set element netspec cannot read: ${JSON.stringify(e)}`);
        }),
      );
    }
    out.set(name, elems);
  }
  return out;
}

const IPTABLES_TABLE_NAMES = new Set(['filter', 'nat', 'mangle', 'raw', 'security']);

/**
 * A table iptables-nft made (shown in iptables form, from iptables-save): one of its families and names. A native
 * table given one of those names is not told apart: iptables-nft and nft share the kernel's tables, and nft 1.0.6
 * marks iptables-nft's only in a warning on stderr.
 */
export function isIptablesTable(table: NftTable): boolean {
  return ['ip', 'ip6', 'arp', 'bridge'].includes(table.family) && IPTABLES_TABLE_NAMES.has(table.name);
}

/** netspec's own tables (trace and witness tables): never shown as the user's rules. */
export function isNetspecTable(table: { name: string }): boolean {
  return table.name.startsWith('netspec_');
}

/** The rules a user wrote with nft: every table neither iptables-nft's nor netspec's. */
export function nativeOnly(ruleset: NftRuleset): NftRuleset {
  const keep = (t: { family: string; name?: string; table?: string }) => {
    const table = { family: t.family, name: t.name ?? t.table ?? '' };
    return !isIptablesTable(table) && !isNetspecTable(table);
  };
  return { tables: ruleset.tables.filter(keep), chains: ruleset.chains.filter((c) => keep({ family: c.family, table: c.table })), rules: ruleset.rules.filter((r) => keep({ family: r.family, table: r.table })) };
}

const PRIORITY_NAMES: [number, string, string?][] = [
  [-300, 'raw'],
  [-150, 'mangle'],
  [-100, 'dstnat', 'prerouting'],
  [0, 'filter'],
  [50, 'security'],
  [100, 'srcnat', 'postrouting'],
];

function priorityName(prio: number, hook: string): string {
  const named = PRIORITY_NAMES.find(([p, , only]) => p === prio && (!only || only === hook));
  return named ? named[1] : String(prio);
}

/** A ruleset as `nft list ruleset` prints it (tabs, one rule per line), for state dumps. */
export function formatNft(ruleset: NftRuleset): string {
  const out: string[] = [];
  for (const t of ruleset.tables) {
    out.push(`table ${t.family} ${t.name} {`);
    const chains = ruleset.chains.filter((c) => c.family === t.family && c.table === t.name);
    chains.forEach((c, i) => {
      if (i > 0) out.push('');
      out.push(`\tchain ${c.name} {`);
      if (c.hook) out.push(`\t\ttype ${c.type} hook ${c.hook} priority ${priorityName(c.prio ?? 0, c.hook)}; policy ${c.policy};`);
      for (const r of ruleset.rules) if (r.family === t.family && r.table === t.name && r.chain === c.name) out.push(`\t\t${r.text}`);
      out.push('\t}');
    });
    out.push('}');
  }
  return out.join('\n');
}

// --- rendering expressions as nft syntax --------------------------------------------------------------------------

function value(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return v.map(value).join(',');
  const o = v as Record<string, unknown>;
  if (o.prefix) {
    const p = o.prefix as { addr: unknown; len: unknown };
    return `${value(p.addr)}/${value(p.len)}`;
  }
  if (o.range) return (o.range as unknown[]).map(value).join('-');
  if (o.set) return `{ ${(Array.isArray(o.set) ? o.set : [o.set]).map(value).join(', ')} }`;
  if (o.payload) {
    const p = o.payload as { protocol?: string; field?: string; base?: string; offset?: number; len?: number };
    return p.protocol ? `${p.protocol} ${p.field}` : `@${p.base},${p.offset},${p.len}`;
  }
  if (o.meta) {
    const key = String((o.meta as { key: string }).key);
    return ['iifname', 'oifname', 'iif', 'oif', 'mark', 'nftrace'].includes(key) ? key : `meta ${key}`;
  }
  if (o.ct) {
    const c = o.ct as { key: string; dir?: string; family?: string };
    return `ct${c.dir ? ` ${c.dir}` : ''}${c.family ? ` ${c.family}` : ''} ${c.key}`;
  }
  if (o.fib) {
    const f = o.fib as { result: string; flags?: string[] };
    return `fib ${(f.flags ?? []).join(' . ')} ${f.result}`;
  }
  if (o['&']) return (o['&'] as unknown[]).map(value).join(' & ');
  if (o['|']) return (o['|'] as unknown[]).map(value).join(' | ');
  if (o.concat) return (o.concat as unknown[]).map(value).join(' . ');
  return JSON.stringify(o);
}

function stringValue(left: string, right: unknown): string {
  // interface names are quoted by nft; keywords (ct state, l4proto names) are not
  return /(^|\s)(iifname|oifname)$/.test(left) && typeof right === 'string' ? `"${right}"` : value(right);
}

function renderExpr(e: NftExpr): string {
  const [key, body] = Object.entries(e)[0] ?? ['', undefined];
  const b = (body ?? {}) as Record<string, unknown>;
  switch (key) {
    case 'match': {
      const left = value(b.left);
      const op = b.op === '==' || b.op === 'in' ? '' : `${String(b.op)} `;
      return `${left} ${op}${stringValue(left, b.right)}`;
    }
    case 'counter':
      return `counter packets ${b.packets ?? 0} bytes ${b.bytes ?? 0}`;
    case 'accept':
    case 'drop':
    case 'continue':
    case 'return':
    case 'masquerade':
    case 'notrack':
      return body && Object.keys(b).length ? `${key} ${Object.entries(b).map(([k, v]) => `${k} ${value(v)}`).join(' ')}` : key;
    case 'jump':
    case 'goto':
      return `${key} ${String(b.target)}`;
    case 'reject':
      return b.type && b.type !== 'icmpx' ? `reject with ${String(b.type)} ${value(b.expr)}` : 'reject';
    case 'dnat':
    case 'snat':
    case 'redirect': {
      const port = b.port !== undefined ? `:${value(b.port)}` : '';
      const addr = b.addr !== undefined ? value(b.addr) : '';
      const to = addr || port ? ` to ${addr.includes(':') && port ? `[${addr}]` : addr}${port}` : '';
      return `${key}${b.family ? ` ${String(b.family)}` : ''}${to}`;
    }
    case 'log':
      return `log${b.prefix ? ` prefix "${String(b.prefix)}"` : ''}`;
    case 'limit':
      return `limit rate ${value(b.rate)}/${value(b.per)}`;
    case 'mangle':
      return `${value(b.key)} set ${value(b.value)}`;
    case 'xt':
      return `xt ${String(b.type)} ${String(b.name)}`;
    default:
      return JSON.stringify(e);
  }
}

/** A rule's expressions in nft syntax. */
export function renderRule(expr: readonly NftExpr[]): string {
  return expr.map(renderExpr).join(' ');
}

// --- judging a packet against native rules -------------------------------------------------------------------------

/** What netspec knows of a packet before it is sent: the same facts iptables rules are judged on. */
export type NftPacket = PacketFacts;

function inValue(right: unknown, test: (v: unknown) => boolean): boolean {
  const o = right as Record<string, unknown> | null;
  if (o && typeof o === 'object' && !Array.isArray(o) && o.set) return (Array.isArray(o.set) ? o.set : [o.set]).some((x) => inValue(x, test));
  if (Array.isArray(right)) return right.some((x) => inValue(x, test));
  return test(right);
}

function addressIn(right: unknown, address: string): boolean {
  return inValue(right, (v) => {
    const o = v as Record<string, unknown> | null;
    try {
      if (typeof v === 'string') return contains(parseCidr(v.includes('/') ? v : `${v}/${v.includes(':') ? 128 : 32}`), address);
      if (o?.prefix) {
        const p = o.prefix as { addr: string; len: number };
        return contains(parseCidr(`${p.addr}/${p.len}`), address);
      }
      if (o?.range) {
        const [lo, hi] = o.range as [string, string];
        return canonical(address) === canonical(lo) || canonical(address) === canonical(hi);
      }
    } catch {
      return false;
    }
    return false;
  });
}

function portIn(right: unknown, port: number): boolean {
  return inValue(right, (v) => {
    const o = v as Record<string, unknown> | null;
    if (typeof v === 'number') return v === port;
    if (o?.range) {
      const [lo, hi] = o.range as [number, number];
      return port >= lo && port <= hi;
    }
    return false;
  });
}

/** `yes`/`no`/`maybe`: does one `match` expression hold for the packet? */
function judgeMatch(m: Record<string, unknown>, packet: NftPacket): 'yes' | 'no' | 'maybe' {
  const left = m.left as Record<string, Record<string, string>> | undefined;
  const negate = m.op === '!=';
  const result = (hit: boolean) => (hit !== negate ? 'yes' : 'no');
  if (left?.payload) {
    const { protocol, field } = left.payload;
    if ((protocol === 'ip' || protocol === 'ip6') && field === 'daddr') return result(addressIn(m.right, packet.destination));
    if ((protocol === 'ip' || protocol === 'ip6') && field === 'saddr') return packet.source === undefined ? 'maybe' : result(addressIn(m.right, packet.source));
    if ((protocol === 'tcp' || protocol === 'udp' || protocol === 'th') && field === 'dport') {
      if (protocol !== 'th' && protocol !== packet.protocol) return 'no';
      return packet.port === undefined ? 'no' : result(portIn(m.right, packet.port));
    }
    if (protocol === 'tcp' || protocol === 'udp') return protocol === packet.protocol ? 'maybe' : 'no';
    if (protocol === 'icmp' || protocol === 'icmpv6') return packet.protocol === 'icmp' ? 'maybe' : 'no';
    return 'maybe';
  }
  if (left?.meta?.key === 'l4proto' || left?.meta?.key === 'protocol') {
    if (left.meta.key === 'protocol') return 'maybe';
    return result(inValue(m.right, (v) => v === packet.protocol || (packet.protocol === 'icmp' && v === 'ipv6-icmp')));
  }
  if (left?.meta?.key === 'iifname' && typeof m.right === 'string') return packet.iif === undefined ? 'maybe' : result(interfaceMatches(m.right, packet.iif));
  if (left?.fib && (left.fib as unknown as { result: string }).result === 'type') return result(inValue(m.right, (v) => (v === 'local') === packet.local));
  return 'maybe';
}

/** Do a rule's matches hold for the packet (`maybe`: one of them cannot be judged before sending)? */
export function judgeRule(rule: NftRule, packet: NftPacket): 'yes' | 'no' | 'maybe' {
  let verdict: 'yes' | 'maybe' = 'yes';
  for (const e of rule.expr) {
    if (!e.match) continue;
    const j = judgeMatch(e.match as Record<string, unknown>, packet);
    if (j === 'no') return 'no';
    if (j === 'maybe') verdict = 'maybe';
  }
  return verdict;
}

/** Native rules that rewrite the source (`masquerade`, `snat`) in chains hooked at postrouting, that may apply to `packet`. */
export function nftSourceNat(ruleset: NftRuleset, packet: NftPacket): NftRule[] {
  const hooked = ruleset.chains.filter((c) => c.type === 'nat' && c.hook === 'postrouting');
  return ruleset.rules.filter(
    (r) => hooked.some((c) => c.family === r.family && c.table === r.table && c.name === r.chain) && r.expr.some((e) => 'masquerade' in e || 'snat' in e) && judgeRule(r, packet) !== 'no',
  );
}

/** Where a native nft `dnat` sends a packet, with the rule. */
export interface NftDnat {
  rule: NftRule;
  address: string;
  port?: number;
}

/**
 * The first native `dnat` a packet arriving from outside meets in the `nat` base chains hooked at prerouting (lowest
 * priority first), jumps followed; a `return`/`accept` is taken only when every match surely holds, a `dnat` when
 * they hold or may (a match netspec cannot judge before sending, such as `iifname`).
 */
export function nftDnatFor(ruleset: NftRuleset, packet: NftPacket, chains = ruleset.chains.filter((c) => c.type === 'nat' && c.hook === 'prerouting').sort((a, b) => (a.prio ?? 0) - (b.prio ?? 0))): { dnat?: NftDnat; prio?: number } {
  const walk = (family: string, table: string, chain: string, depth: number): NftDnat | 'stop' | undefined => {
    if (depth > 16) return undefined;
    for (const rule of ruleset.rules) {
      if (rule.family !== family || rule.table !== table || rule.chain !== chain) continue;
      let verdict: 'yes' | 'maybe' = 'yes';
      let no = false;
      for (const e of rule.expr) {
        if (e.match) {
          const j = judgeMatch(e.match as Record<string, unknown>, packet);
          if (j === 'no') no = true;
          if (j === 'maybe') verdict = 'maybe';
        } else if (e.dnat && !no) {
          const d = e.dnat as { addr?: unknown; port?: unknown; family?: string };
          if (typeof d.addr === 'string' && (!d.family || d.family === fam)) return { rule, address: canonical(d.addr), port: typeof d.port === 'number' ? d.port : undefined };
        } else if (('jump' in e || 'goto' in e) && !no) {
          const inner = walk(family, table, ((e.jump ?? e.goto) as { target: string }).target, depth + 1);
          if (inner) return inner;
          if ('goto' in e && verdict === 'yes') return 'stop';
        } else if (('accept' in e || 'return' in e || 'drop' in e) && !no) {
          if (verdict === 'yes') return 'stop';
        }
        if (no) break;
      }
    }
    return undefined;
  };
  const fam = packet.destination.includes(':') ? 'ip6' : 'ip';
  for (const c of chains) {
    if (c.family !== 'inet' && c.family !== fam) continue;
    const found = walk(c.family, c.table, c.name, 0);
    if (found && found !== 'stop') return { dnat: found, prio: c.prio };
  }
  return {};
}

/** Base chains whose policy is `drop`, by hook (`forward`, `input`, …). */
export function dropPolicies(ruleset: NftRuleset, hook?: string): NftChain[] {
  return ruleset.chains.filter((c) => c.policy === 'drop' && (!hook || c.hook === hook));
}

/** Rules whose counters rose between two reads (matched by family, table, chain and handle). */
export function risenNft(before: NftRuleset, after: NftRuleset): NftRule[] {
  const prev = new Map(before.rules.filter((r) => r.packets !== undefined).map((r) => [`${r.family} ${r.table} ${r.chain} ${r.handle}`, r.packets!]));
  return after.rules.filter((r) => r.packets !== undefined && r.packets > (prev.get(`${r.family} ${r.table} ${r.chain} ${r.handle}`) ?? Infinity));
}

/**
 * The value of one named counter (`nft -j list counter FAMILY TABLE NAME`): packets and bytes. Output without that
 * counter, or with values that are not whole numbers, is an error naming the command: a count read wrong would pass
 * or fail an assertion about traffic that never happened.
 */
export function counterValue(text: string, name: string, command: string): { packets: number; bytes: number } {
  const items = nftItems<{ counter?: { name?: unknown; packets?: unknown; bytes?: unknown } }>(text, command);
  const c = items.find((x) => x.counter && x.counter.name === name)?.counter;
  if (!c) throw unreadable(command, text, 0, `no counter named ${name} in it`);
  const { packets, bytes } = c;
  if (!Number.isSafeInteger(packets) || !Number.isSafeInteger(bytes) || (packets as number) < 0 || (bytes as number) < 0) {
    throw unreadable(command, text, 0, `the counter's packets/bytes are not whole numbers: ${JSON.stringify(c)}`);
  }
  return { packets: packets as number, bytes: bytes as number };
}
