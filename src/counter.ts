/**
 * Packet counters at a point of a namespace (issue 27): what upstream suites assert with nft named counters ("this
 * many packets of this kind crossed here"). `ns.counter(filter, options)` adds a table of netspec's own
 * (`netspec_count_…`, like the landing watch and the trace table: never shown as the user's rules) with one named
 * counter and a base chain per hook, at a priority before every other chain of that hook (raw, conntrack, NAT and
 * filters: a packet a filter drops later is still counted); `expect(counter).toCount({ exactly })` reads it.
 * Every word of the table is netspec's own: fixed keywords, canonical addresses, integers, checked interface names.
 */
import { canonical, networkOf, parseCidr, type Family } from './address.js';
import { InvalidInputError, ProbeError } from './errors.js';
import { checkIfname } from './names.js';
import type { Netns } from './netns.js';
import { counterValue } from './parse/nft.js';

/** The ICMP / ICMPv6 message types a filter may name (nft's words). */
export const ICMP_TYPES = ['echo-request', 'echo-reply', 'destination-unreachable', 'time-exceeded', 'parameter-problem', 'redirect'] as const;
export const ICMPV6_TYPES = ['echo-request', 'echo-reply', 'destination-unreachable', 'time-exceeded', 'parameter-problem', 'packet-too-big', 'nd-neighbor-solicit', 'nd-neighbor-advert', 'nd-router-solicit', 'nd-router-advert'] as const;
export type IcmpType = (typeof ICMP_TYPES)[number] | (typeof ICMPV6_TYPES)[number];

/** Which packets a counter counts: every field given must match (none: every packet of the hooks). */
export interface PacketFilter {
  /** 4 or 6; implied by an address or by `protocol: 'icmpv6'`. */
  family?: 4 | 6;
  /** `tcp`, `udp`, `icmp` (IPv4) or `icmpv6`. */
  protocol?: 'tcp' | 'udp' | 'icmp' | 'icmpv6';
  /** Source address or prefix (`10.0.0.1`, `10.0.0.0/24`), as the packet has it at the counter's hook. */
  src?: string;
  /** Destination address or prefix, as the packet has it at the counter's hook (before any NAT of that hook). */
  dst?: string;
  /** TCP/UDP source port. */
  sport?: number;
  /** TCP/UDP destination port. */
  dport?: number;
  /** The interface the packet came in on (prerouting, input, forward). */
  iif?: string;
  /** The interface the packet leaves by (forward, output, postrouting). */
  oif?: string;
  /** ICMP / ICMPv6 message type (nft's words: `echo-request`, `destination-unreachable`, `packet-too-big`, …). */
  icmpType?: IcmpType;
  /** ICMP / ICMPv6 code (0-255), e.g. 4 with `destination-unreachable`: fragmentation needed (PMTU). */
  icmpCode?: number;
}

/** A netfilter hook of the `inet` family. */
export type CountHook = 'prerouting' | 'input' | 'forward' | 'output' | 'postrouting';
const HOOKS: readonly CountHook[] = ['prerouting', 'input', 'forward', 'output', 'postrouting'];

export interface CounterOptions {
  /**
   * Where to count. Default: `prerouting` and `output` (every packet that arrives at the namespace or that it sends,
   * each once); with only `iif`, `prerouting`; with only `oif`, `postrouting`; with both, `forward`.
   */
  hook?: CountHook | readonly CountHook[];
}

/** What a counter has counted so far. */
export interface CounterValue {
  packets: number;
  bytes: number;
}

/** The priority of a counter's chains: before raw (-300), conntrack (-200), DNAT (-100) and every filter. */
const PRIORITY = -400;

let counters = 0;

/** A counter of packets at a point of a namespace (`ns.counter(filter)`); read it with `expect(counter).toCount(…)`. */
export class PacketCounter {
  /** @internal use ns.counter() */
  constructor(
    /** The namespace it counts in. */
    readonly ns: Netns,
    /** The filter, as given. */
    readonly filter: Readonly<PacketFilter>,
    /** The hooks it counts at. */
    readonly hooks: readonly CountHook[],
    /** The match in nft's words (`meta l4proto tcp th dport 80`, or empty for every packet). */
    readonly match: string,
    /** The table of netspec's own that holds it. */
    readonly table: string,
  ) {}

  /** `counter in red: tcp dport 80 at prerouting+output` */
  toString(): string {
    return `counter in ${this.ns.name}: ${this.match || 'every packet'} at ${this.hooks.join('+')}`;
  }

  /** The argv that reads it. */
  get readArgv(): string[] {
    return ['nft', '-j', 'list', 'counter', 'inet', this.table, 'c'];
  }

  /** Packets and bytes counted so far. */
  async read(): Promise<CounterValue> {
    const argv = this.readArgv;
    const r = await this.ns.lab.run(this.ns.name, argv, { intent: `read ${this}`, reject: false });
    if (r.exitCode !== 0) throw new ProbeError(`could not read ${this}: \`${argv.join(' ')}\` exited ${r.exitCode}: ${r.stderr.trim().split('\n')[0] ?? ''} (was it removed, or the namespace deleted?); no count`);
    return counterValue(r.stdout, 'c', `${this.ns.name}$ ${argv.join(' ')}`);
  }

  /** Set it back to zero (`nft reset counter`). */
  async reset(): Promise<void> {
    await this.ns.lab.run(this.ns.name, ['nft', 'reset', 'counter', 'inet', this.table, 'c'], { intent: `reset ${this}` });
  }

  /** Take its table away. */
  async remove(): Promise<void> {
    await this.ns.lab.run(this.ns.name, ['nft', 'delete', 'table', 'inet', this.table], { intent: `remove ${this}` });
  }
}

const FILTER_KEYS = ['family', 'protocol', 'src', 'dst', 'sport', 'dport', 'iif', 'oif', 'icmpType', 'icmpCode'] as const;

function port(value: unknown, key: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 65535) throw new InvalidInputError(`counter filter ${key}`, value, 'expected a whole number from 1 to 65535');
  return value;
}

/** A filter checked and written in nft's words, with its family (if it has one) and the hooks it counts at. */
export function counterMatch(filter: unknown, options: unknown = {}): { match: string; hooks: CountHook[]; family?: Family } {
  if (filter === null || typeof filter !== 'object' || Array.isArray(filter)) {
    throw new InvalidInputError('counter filter', filter, `expected an object with some of: ${FILTER_KEYS.join(', ')} (e.g. { protocol: 'tcp', dport: 80 })`);
  }
  for (const key of Object.keys(filter)) {
    if (!(FILTER_KEYS as readonly string[]).includes(key)) {
      const hint = key === 'port' ? ' (say sport or dport)' : key === 'source' || key === 'from' ? ' (say src)' : key === 'destination' || key === 'to' ? ' (say dst)' : key === 'proto' ? ' (say protocol)' : '';
      throw new InvalidInputError('counter filter key', key, `unknown key${hint}; a filter takes ${FILTER_KEYS.join(', ')}`);
    }
  }
  const f = filter as PacketFilter;
  if (options === null || typeof options !== 'object' || Array.isArray(options)) throw new InvalidInputError('counter options', options, 'expected an object such as { hook: "forward" }');
  for (const key of Object.keys(options)) if (key !== 'hook') throw new InvalidInputError('counter option', key, 'unknown option; a counter takes hook');
  const words: string[] = [];
  let family: Family | undefined;
  const setFamily = (fam: Family, why: string) => {
    if (family !== undefined && family !== fam) throw new InvalidInputError('counter filter', why, `it is IPv${fam}, but the filter is IPv${family} already (${JSON.stringify(f)}); a packet has one family`);
    family = fam;
  };
  if (f.family !== undefined) {
    if (f.family !== 4 && f.family !== 6) throw new InvalidInputError('counter filter family', f.family, 'expected 4 or 6');
    setFamily(f.family, `family ${f.family}`);
  }
  if (f.protocol !== undefined && !['tcp', 'udp', 'icmp', 'icmpv6'].includes(f.protocol)) throw new InvalidInputError('counter filter protocol', f.protocol, 'expected "tcp", "udp", "icmp" (IPv4) or "icmpv6"');
  if (f.protocol === 'icmp') setFamily(4, 'protocol icmp');
  if (f.protocol === 'icmpv6') setFamily(6, 'protocol icmpv6');
  const address = (value: unknown, key: 'src' | 'dst'): string | undefined => {
    if (value === undefined) return undefined;
    const cidr = parseCidr(value, `counter filter ${key}`, false);
    setFamily(cidr.family, `${key} ${String(value)}`);
    const net = networkOf(cidr);
    if (canonical(net) !== canonical(cidr.address)) throw new InvalidInputError(`counter filter ${key}`, value, `host bits are set; the network is ${net}/${cidr.prefixLength}`);
    const full = cidr.prefixLength === (cidr.family === 4 ? 32 : 128);
    return full ? canonical(cidr.address) : `${canonical(cidr.address)}/${cidr.prefixLength}`;
  };
  const src = address(f.src, 'src');
  const dst = address(f.dst, 'dst');
  const sport = port(f.sport, 'sport');
  const dport = port(f.dport, 'dport');
  if ((sport !== undefined || dport !== undefined) && f.protocol !== 'tcp' && f.protocol !== 'udp') {
    throw new InvalidInputError('counter filter', sport !== undefined ? `sport ${sport}` : `dport ${dport}`, 'ports need { protocol: "tcp" } or "udp"');
  }
  let icmp: 'icmp' | 'icmpv6' | undefined = f.protocol === 'icmp' || f.protocol === 'icmpv6' ? f.protocol : undefined;
  if (f.icmpType !== undefined || f.icmpCode !== undefined) {
    if (f.protocol !== undefined && !icmp) throw new InvalidInputError('counter filter', `icmpType ${String(f.icmpType ?? f.icmpCode)}`, `an ICMP type or code needs protocol icmp or icmpv6, not ${f.protocol}`);
    icmp ??= family === 6 ? 'icmpv6' : 'icmp';
    if (icmp === 'icmp') setFamily(4, 'icmp');
  }
  if (f.icmpType !== undefined) {
    const known: readonly string[] = icmp === 'icmpv6' ? ICMPV6_TYPES : ICMP_TYPES;
    if (typeof f.icmpType !== 'string' || !known.includes(f.icmpType)) throw new InvalidInputError('counter filter icmpType', f.icmpType, `expected one of ${known.join(', ')} (${icmp === 'icmpv6' ? 'ICMPv6' : 'ICMP'})`);
  }
  if (f.icmpCode !== undefined && (typeof f.icmpCode !== 'number' || !Number.isInteger(f.icmpCode) || f.icmpCode < 0 || f.icmpCode > 255)) {
    throw new InvalidInputError('counter filter icmpCode', f.icmpCode, 'expected a whole number from 0 to 255');
  }
  const iif = f.iif === undefined ? undefined : checkIfname(f.iif, 'counter filter iif');
  const oif = f.oif === undefined ? undefined : checkIfname(f.oif, 'counter filter oif');
  // the match, in nft's words
  if (family !== undefined) words.push(`meta nfproto ${family === 6 ? 'ipv6' : 'ipv4'}`);
  const ip = family === 6 ? 'ip6' : 'ip';
  if (src) words.push(`${ip} saddr ${src}`);
  if (dst) words.push(`${ip} daddr ${dst}`);
  if (f.protocol === 'tcp' || f.protocol === 'udp') words.push(`meta l4proto ${f.protocol}`);
  if (icmp) words.push(`meta l4proto ${icmp === 'icmpv6' ? 'ipv6-icmp' : 'icmp'}`);
  if (sport !== undefined) words.push(`th sport ${sport}`);
  if (dport !== undefined) words.push(`th dport ${dport}`);
  if (f.icmpType !== undefined) words.push(`${icmp} type ${f.icmpType}`);
  if (f.icmpCode !== undefined) words.push(`${icmp} code ${f.icmpCode}`);
  if (iif) words.push(`iifname "${iif}"`);
  if (oif) words.push(`oifname "${oif}"`);
  // the hooks
  const given = (options as CounterOptions).hook;
  let hooks: CountHook[];
  if (given === undefined) hooks = iif && oif ? ['forward'] : iif ? ['prerouting'] : oif ? ['postrouting'] : ['prerouting', 'output'];
  else {
    const list = typeof given === 'string' ? [given] : Array.isArray(given) ? [...given] : undefined;
    if (!list || list.length === 0 || list.some((h) => !HOOKS.includes(h))) throw new InvalidInputError('counter option hook', given, `expected one of ${HOOKS.join(', ')}, or a list of them`);
    if (new Set(list).size !== list.length) throw new InvalidInputError('counter option hook', given, 'a hook is named twice: a packet would be counted twice');
    hooks = list;
  }
  for (const h of hooks) {
    if (iif && h !== 'prerouting' && h !== 'input' && h !== 'forward') throw new InvalidInputError('counter filter iif', iif, `the ${h} hook has no input interface (a packet there was sent by the namespace itself); count at prerouting, input or forward`);
    if (oif && h !== 'forward' && h !== 'output' && h !== 'postrouting') throw new InvalidInputError('counter filter oif', oif, `the ${h} hook has no output interface yet (routing decides it after); count at forward, output or postrouting`);
  }
  return { match: words.join(' '), hooks, family };
}

/** Add a counter to `ns`: a table of netspec's own, one named counter, one base chain per hook. */
export async function createCounter(ns: Netns, filter: PacketFilter, options: CounterOptions = {}): Promise<PacketCounter> {
  const { match, hooks } = counterMatch(filter, options);
  const refused = ns.lab.refusesTables();
  if (refused) throw new InvalidInputError('counter', String(ns), `${refused}: netspec cannot add its counter table there; count in a lab`);
  const table = `netspec_count_${process.pid}_${++counters}`;
  const chains = hooks.map((h) => `chain ${h} { type filter hook ${h} priority ${PRIORITY}; policy accept; ${match ? `${match} ` : ''}counter name "c"; }`).join('; ');
  const ruleset = `table inet ${table} { counter c { }; ${chains}; }`;
  const counter = new PacketCounter(ns, { ...filter }, hooks, match, table);
  await ns.lab.run(ns.name, ['nft', ruleset], { intent: `add ${counter}` });
  return counter;
}
