/**
 * The one parser of `iptables-save [-c]` output (ARCHITECTURE.md, "Commands are argument arrays, output is JSON": the
 * one text format netspec still reads). State dumps, diagnoses, the picture and the probes' DNAT lookup all read rules
 * through this module, so they cannot disagree about a chain's policy, a negated match or a rule's table.
 *
 * Over 300 lines on purpose: one format, one file: the line grammar, the option model (negation, counters) and the DNAT walk from PREROUTING are the same grammar.
 */
import { contains, parseCidr } from '../address.js';
import { unreadable } from './ip.js';

/** One option of a rule as iptables-save prints it: `! -s 10.0.0.0/8` is `{ name: '-s', values: ['10.0.0.0/8'], negated: true }`. */
export interface IptablesOption {
  readonly name: string;
  readonly values: readonly string[];
  readonly negated: boolean;
}

export interface IptablesRule {
  readonly table: string;
  readonly chain: string;
  /** `-A CHAIN …` as iptables-save printed it, without its counter. */
  readonly text: string;
  /** The rule's counter (`iptables-save -c`), else undefined. */
  readonly packets?: number;
  readonly bytes?: number;
  /** Every option, in order (`-m` modules included). */
  readonly options: readonly IptablesOption[];
  /** `-j TARGET` (or `-g CHAIN`), if any. */
  readonly target?: string;
  /** `-g` rather than `-j`. */
  readonly goto?: boolean;
}

export interface IptablesChain {
  readonly table: string;
  readonly name: string;
  /** `ACCEPT`/`DROP` for a built-in chain; undefined for a user chain (`-`). */
  readonly policy?: string;
  /** The policy's counter (`iptables-save -c`). */
  readonly packets?: number;
  readonly bytes?: number;
}

export interface IptablesRuleset {
  /** Table names, in the order printed. */
  readonly tables: readonly string[];
  readonly chains: readonly IptablesChain[];
  readonly rules: readonly IptablesRule[];
}

export const EMPTY_IPTABLES: IptablesRuleset = { tables: [], chains: [], rules: [] };

/** Long option names as their short form, so a rule is asked for one name only. */
const SHORT: Record<string, string> = {
  '--source': '-s',
  '--src': '-s',
  '--destination': '-d',
  '--dst': '-d',
  '--protocol': '-p',
  '--in-interface': '-i',
  '--out-interface': '-o',
  '--jump': '-j',
  '--goto': '-g',
  '--match': '-m',
  '--source-port': '--sport',
  '--destination-port': '--dport',
  '--append': '-A',
};

/** Words of a rule line; `"…"` (a comment, a log prefix) is one word, unquoted. */
function words(line: string): string[] {
  const out: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|(\S+)/g;
  for (let m = re.exec(line); m; m = re.exec(line)) out.push(m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : m[2]!);
  return out;
}

function parseRule(table: string, text: string, packets?: number, bytes?: number): IptablesRule {
  const w = words(text);
  const options: IptablesOption[] = [];
  let negated = false;
  for (let i = 0; i < w.length; i++) {
    const word = w[i]!;
    if (word === '!') {
      negated = true;
      continue;
    }
    if (!word.startsWith('-')) continue; // a stray value: belongs to the option before it (read below)
    const values: string[] = [];
    // an option's values run up to the next option or `!` (a value never starts with `-` in iptables-save output)
    while (i + 1 < w.length && w[i + 1] !== '!' && !/^-[-A-Za-z]/.test(w[i + 1]!)) values.push(w[++i]!);
    options.push({ name: SHORT[word] ?? word, values, negated });
    negated = false;
  }
  const chain = options.find((o) => o.name === '-A')?.values[0] ?? '';
  const jump = options.find((o) => o.name === '-j' || o.name === '-g');
  return { table, chain, text, packets, bytes, options: options.filter((o) => o.name !== '-A'), target: jump?.values[0], ...(jump?.name === '-g' ? { goto: true } : {}) };
}

/**
 * The lines of iptables-save output, as iptables prints them: a quoted word (a comment, a log prefix) runs on to its
 * closing quote, across line breaks (`--comment "a\nb"` prints a raw line break inside the quotes), so a comment's
 * second line is never read as a rule of its own. Each with the character offset it starts at.
 */
function logicalLines(text: string, command: string): { line: string; at: number }[] {
  const out: { line: string; at: number }[] = [];
  let start = 0;
  let quoted = -1;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted >= 0) {
      if (c === '\\') i++;
      else if (c === '"') quoted = -1;
    } else if (c === '"') quoted = i;
    else if (c === '\n') {
      out.push({ line: text.slice(start, i), at: start });
      start = i + 1;
    }
  }
  if (quoted >= 0) throw unreadable(command, text, quoted, 'a quoted word that never ends');
  if (start < text.length) out.push({ line: text.slice(start), at: start });
  return out;
}

/**
 * Parse `iptables-save` or `iptables-save -c` output (IPv4 or IPv6). A line that is none of iptables-save's (a
 * comment, `*table`, `:chain policy`, a rule, `COMMIT`) is a ProbeError naming `command` and the byte offset: never
 * skipped, never read as something else.
 */
export function parseIptablesSave(text: string, command = 'iptables-save'): IptablesRuleset {
  const tables: string[] = [];
  const chains: IptablesChain[] = [];
  const rules: IptablesRule[] = [];
  let table = '';
  for (const { line, at } of logicalLines(text, command)) {
    if (line.trim() === '' || line.startsWith('#') || line === 'COMMIT') continue;
    if (line.startsWith('*')) {
      table = line.slice(1).trim();
      tables.push(table);
      continue;
    }
    const chain = /^:(\S+) (\S+)(?: \[(\d+):(\d+)\])?\s*$/.exec(line);
    if (chain) {
      const [, name, policy, packets, bytes] = chain;
      chains.push({ table, name: name!, policy: policy === '-' ? undefined : policy, packets: packets === undefined ? undefined : Number(packets), bytes: bytes === undefined ? undefined : Number(bytes) });
      continue;
    }
    const rule = /^(?:\[(\d+):(\d+)\] )?(-A \S+[^]*)$/.exec(line);
    if (rule && table) {
      rules.push(parseRule(table, rule[3]!.trimEnd(), rule[1] === undefined ? undefined : Number(rule[1]), rule[2] === undefined ? undefined : Number(rule[2])));
      continue;
    }
    throw unreadable(command, text, at, rule ? 'a rule before any `*table` line' : 'a line that is not a table, a chain, a rule or COMMIT');
  }
  return { tables, chains, rules };
}

/** The option `name` of a rule (short or long name), if it has it. */
export function option(rule: IptablesRule, name: string): IptablesOption | undefined {
  const want = SHORT[name] ?? name;
  return rule.options.find((o) => o.name === want);
}

/** The policy of a built-in chain (default: the filter table's), or undefined when the table or chain is not there. */
export function policyOf(ruleset: IptablesRuleset, chain: string, table = 'filter'): string | undefined {
  return ruleset.chains.find((c) => c.table === table && c.name === chain)?.policy;
}

export interface Counter {
  table: string;
  chain: string;
  /** The rule (`-A …`), or `policy DROP` for a chain's policy. */
  rule: string;
  packets: number;
  /** A chain policy rather than a rule. */
  policy?: string;
  /** The parsed rule (not for a policy). */
  parsed?: IptablesRule;
}

/** Packet counters of every rule and built-in chain policy (from `iptables-save -c`). */
export function counters(ruleset: IptablesRuleset): Counter[] {
  const out: Counter[] = [];
  for (const table of ruleset.tables) {
    for (const c of ruleset.chains) if (c.table === table && c.policy && c.packets !== undefined) out.push({ table, chain: c.name, rule: `policy ${c.policy}`, packets: c.packets, policy: c.policy });
    for (const r of ruleset.rules) if (r.table === table && r.packets !== undefined) out.push({ table, chain: r.chain, rule: r.text, packets: r.packets, parsed: r });
  }
  return out;
}

/** Rules and policies whose counters rose between two reads of the same rules (matched by table, chain and text). */
export function risenCounters(before: IptablesRuleset, after: IptablesRuleset): Counter[] {
  const seen = new Map<string, number[]>();
  for (const c of counters(before)) {
    const key = `${c.table} ${c.chain} ${c.rule}`;
    seen.set(key, [...(seen.get(key) ?? []), c.packets]);
  }
  const used = new Map<string, number>();
  return counters(after).filter((c) => {
    const key = `${c.table} ${c.chain} ${c.rule}`;
    const n = used.get(key) ?? 0;
    used.set(key, n + 1);
    const prev = seen.get(key)?.[n];
    return prev !== undefined && c.packets > prev;
  });
}

/**
 * Does the rule have option `name` with `value` (and the same negation)? An address option matches its host prefix
 * too: nft prints `ip daddr 172.18.0.2` where iptables-save prints `-d 172.18.0.2/32`.
 */
export function hasOption(rule: IptablesRule, name: string, value: string, negated = false): boolean {
  const o = option(rule, name);
  if (!o || o.negated !== negated) return false;
  return o.values.some((v) => v === value || v === `${value}/32` || v === `${value}/128`);
}

/** Does an address match a `-s`/`-d` option (negation included)? Undefined option: any address matches. */
export function addressMatches(opt: IptablesOption | undefined, address: string): boolean {
  if (!opt) return true;
  const hit = opt.values.some((v) => v.split(',').some((cidr) => cidrContains(cidr, address)));
  return opt.negated ? !hit : hit;
}

function cidrContains(cidr: string, address: string): boolean {
  try {
    return contains(parseCidr(cidr.includes('/') ? cidr : `${cidr}/${cidr.includes(':') ? 128 : 32}`), address);
  } catch {
    return false;
  }
}

/** Does a port match `--dport`/`--dports` (`80`, `8000:8080`, `80,443`), negation included? Undefined option: any port. */
export function portMatches(opt: IptablesOption | undefined, port: number): boolean {
  if (!opt) return true;
  const hit = opt.values.some((v) =>
    v.split(',').some((p) => {
      const [lo, hi] = p.split(':').map(Number);
      return hi === undefined ? lo === port : port >= lo! && port <= hi;
    }),
  );
  return opt.negated ? !hit : hit;
}

/** A packet as far as netspec knows it before it is sent: what rules are judged on. */
export interface PacketFacts {
  protocol: 'icmp' | 'tcp' | 'udp';
  destination: string;
  port?: number;
  /** The source address, if known. */
  source?: string;
  /** The destination is an address of the namespace whose rules these are (`-m addrtype --dst-type LOCAL`). */
  local: boolean;
  /** The interface the packet comes in on, where known (the rules' namespace's route back to the source). */
  iif?: string;
  /** The interface the packet goes out on, where known (the kernel's route for it). */
  oif?: string;
}

/** An interface name against a rule's (`br-+` in iptables, `br-*` in nft: a prefix). */
export function interfaceMatches(pattern: string, ifname: string): boolean {
  return /[+*]$/.test(pattern) ? ifname.startsWith(pattern.slice(0, -1)) : pattern === ifname;
}

/**
 * Does `rule` match `packet`, as far as netspec can tell? `yes`/`no` from the matches it judges (`-p`, `-s`, `-d`,
 * `-i`/`-o` when the packet's interfaces are known, `--dport(s)`, `addrtype --dst-type LOCAL`); `maybe` when the rule also
 * has a match it cannot judge before the packet is sent (conntrack state, marks …).
 */
export function judge(rule: IptablesRule, packet: PacketFacts): 'yes' | 'no' | 'maybe' {
  let unknown = false;
  for (const o of rule.options) {
    switch (o.name) {
      case '-p': {
        const hit = o.values[0] === packet.protocol || o.values[0] === 'all';
        if (hit === o.negated) return 'no';
        break;
      }
      case '-s':
        if (packet.source === undefined) unknown = true;
        else if (!addressMatches(o, packet.source)) return 'no';
        break;
      case '-d':
        if (!addressMatches(o, packet.destination)) return 'no';
        break;
      case '-i':
        if (packet.iif === undefined) unknown = true;
        else if (interfaceMatches(o.values[0] ?? '', packet.iif) === o.negated) return 'no';
        break;
      case '-o':
        if (packet.oif === undefined) unknown = true;
        else if (interfaceMatches(o.values[0] ?? '', packet.oif) === o.negated) return 'no';
        break;
      case '--dport':
      case '--dports':
        if (packet.port === undefined || !portMatches(o, packet.port)) return 'no';
        break;
      case '--dst-type': {
        const hit = o.values[0] === 'LOCAL' ? packet.local : undefined;
        if (hit === undefined) unknown = true;
        else if (hit === o.negated) return 'no';
        break;
      }
      case '-j':
      case '-g':
      case '-m':
      case '--to-destination':
      case '--to-source':
      case '--to-ports':
      case '--comment':
      case '--random':
      case '--persistent':
      case '--fully-random':
        break;
      default:
        unknown = true;
    }
  }
  return unknown ? 'maybe' : 'yes';
}

/** A DNAT a packet meets: the rule and where it sends the packet. */
export interface IptablesDnat {
  rule: IptablesRule;
  address: string;
  port?: number;
}

/**
 * The DNAT rule of the nat table that a packet arriving from outside meets first: PREROUTING is walked in order,
 * jumps into user chains followed, a RETURN taken only when it surely matches, and a DNAT taken when it matches or may
 * (a match netspec cannot judge, such as `! -i docker0`, is assumed to let the packet through: Docker's published
 * ports are written so).
 */
export function dnatFor(ruleset: IptablesRuleset, packet: PacketFacts): IptablesDnat | undefined {
  const walk = (chain: string, depth: number): IptablesDnat | 'return' | undefined => {
    if (depth > 16) return undefined;
    for (const rule of ruleset.rules) {
      if (rule.table !== 'nat' || rule.chain !== chain) continue;
      const verdict = judge(rule, packet);
      if (verdict === 'no') continue;
      if (rule.target === 'DNAT') {
        const to = option(rule, '--to-destination')?.values[0];
        const m = to ? /^\[?([0-9a-fA-F.:]+?)\]?(?::(\d+)(?:-\d+)?)?$/.exec(to) : null;
        if (m) return { rule, address: m[1]!, port: m[2] ? Number(m[2]) : undefined };
        continue;
      }
      if (rule.target === 'RETURN' || rule.target === 'ACCEPT') {
        if (verdict === 'yes') return 'return';
        continue;
      }
      if (rule.target && ruleset.chains.some((c) => c.table === 'nat' && c.name === rule.target && !c.policy)) {
        const inner = walk(rule.target, depth + 1);
        if (inner && inner !== 'return') return inner;
        if (rule.goto && verdict === 'yes') return 'return';
      }
    }
    return undefined;
  };
  const found = walk('PREROUTING', 0);
  return found === 'return' ? undefined : found;
}

/** `-j MASQUERADE` rules of the nat table, and whether each covers `source` (its `-s`, negation included). */
export function masquerades(ruleset: IptablesRuleset): IptablesRule[] {
  return ruleset.rules.filter((r) => r.table === 'nat' && r.target === 'MASQUERADE');
}

/** How a MASQUERADE rule's source reads in a picture: `172.18.0.0/16`, `! 10.99.0.0/16`, or `any`. */
export function masqueradeSource(rule: IptablesRule): string {
  const s = option(rule, '-s');
  return s ? `${s.negated ? '! ' : ''}${s.values.join(',')}` : 'any';
}
