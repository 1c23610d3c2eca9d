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
  /**
   * Conntrack state(s) (`new`, `established`, `related`, `invalid`, `untracked`): the counter's chains then run just
   * after conntrack (priority -150: before DNAT and every filter), not before it.
   */
  ct?: CtState | readonly CtState[];
  /** Source MAC address of the frame (`ether saddr`). */
  srcMac?: string;
  /** Destination MAC address of the frame (`ether daddr`): e.g. an unknown unicast MAC, to see flooding. */
  dstMac?: string;
}

/** A conntrack state, in nft's words. */
export type CtState = 'new' | 'established' | 'related' | 'invalid' | 'untracked';
const CT_STATES: readonly CtState[] = ['new', 'established', 'related', 'invalid', 'untracked'];

/**
 * A netfilter hook of the `inet` family, or `ingress`: the device's own ingress (a `netdev` table bound to `iif`),
 * which sees every frame the device receives, frames for other MACs included (a flooded frame: the IP layer drops those
 * before prerouting).
 */
export type CountHook = 'prerouting' | 'input' | 'forward' | 'output' | 'postrouting' | 'ingress';
const HOOKS: readonly CountHook[] = ['prerouting', 'input', 'forward', 'output', 'postrouting', 'ingress'];

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
/** With a `ct` state: after conntrack (-200) has set it, still before DNAT (-100) and every filter. */
const CT_PRIORITY = -150;

let counters = 0;

/** A counter of packets at a point of a namespace (`ns.counter(filter)`); read it with `expect(counter).toCount(…)`. */
export class PacketCounter {
  /** @internal use ns.counter() */
  constructor(
    /** The namespace it counts in. */
    readonly ns: Netns,
    /** The filter, as given. */
    readonly filter: Readonly<PacketFilter>,
    /** The hooks it counts at (none for a counter of the user's own: `ns.nftCounter`). */
    readonly hooks: readonly CountHook[],
    /** The match in nft's words (`meta l4proto tcp th dport 80`, or empty for every packet). */
    readonly match: string,
    /** The table that holds it: netspec's own, or the user's (`ns.nftCounter`). */
    readonly table: string,
    /** The table's family. */
    readonly family: NftFamily = 'inet',
    /** The counter's name in its table. */
    readonly name = 'c',
    /** A named counter of the user's own ruleset, which netspec only reads. */
    readonly own = false,
  ) {}

  /** `counter in red: tcp dport 80 at prerouting+output`, or `nft counter inet filter related in r1` */
  toString(): string {
    if (this.own) return `nft counter ${this.family} ${this.table} ${this.name} in ${this.ns.name}`;
    return `counter in ${this.ns.name}: ${this.match || 'every packet'} at ${this.hooks.join('+')}${this.family === 'netdev' ? ` of ${this.filter.iif}` : ''}`;
  }

  /** The argv that reads it. */
  get readArgv(): string[] {
    return ['nft', '-j', 'list', 'counter', this.family, this.table, this.name];
  }

  /** Packets and bytes counted so far. */
  async read(): Promise<CounterValue> {
    const argv = this.readArgv;
    const r = await this.ns.lab.run(this.ns.name, argv, { intent: `read ${this}`, reject: false });
    if (r.exitCode !== 0) throw new ProbeError(`could not read ${this}: \`${argv.join(' ')}\` exited ${r.exitCode}: ${r.stderr.trim().split('\n')[0] ?? ''} (was it removed, or the namespace deleted?); no count`);
    return counterValue(r.stdout, this.name, `${this.ns.name}$ ${argv.join(' ')}`);
  }

  /** Set it back to zero (`nft reset counter`). */
  async reset(): Promise<void> {
    await this.ns.lab.run(this.ns.name, ['nft', 'reset', 'counter', this.family, this.table, this.name], { intent: `reset ${this}` });
  }

  /** Take its table away (netspec's own counters only: a counter of the user's ruleset is theirs). */
  async remove(): Promise<void> {
    if (this.own) throw new InvalidInputError('counter', String(this), "it is a counter of the namespace's own ruleset, not netspec's: delete it with nft if you mean to");
    await this.ns.lab.run(this.ns.name, ['nft', 'delete', 'table', this.family, this.table], { intent: `remove ${this}` });
  }
}

/** An nftables family. */
export type NftFamily = 'inet' | 'ip' | 'ip6' | 'arp' | 'bridge' | 'netdev';
const NFT_FAMILIES: readonly NftFamily[] = ['inet', 'ip', 'ip6', 'arp', 'bridge', 'netdev'];
/** An nft identifier (a table or counter name): a letter, then letters, digits, `_`, `.`, `/`, `-`. */
const NFT_NAME = /^[A-Za-z][A-Za-z0-9_./-]{0,63}$/;

/**
 * A named counter of the namespace's own ruleset (`counter NAME { }` in its table), read as netspec reads its own:
 * `expect(await r1.nftCounter('filter', 'related')).toCount({ exactly: 1, bytes: 576 })`. It must exist.
 */
export async function ownCounter(ns: Netns, table: string, name: string, options: { family?: NftFamily } = {}): Promise<PacketCounter> {
  if (typeof table !== 'string' || !NFT_NAME.test(table)) throw new InvalidInputError('nft table name', table, 'expected an nft identifier (a letter, then letters, digits, _ . / -)');
  if (typeof name !== 'string' || !NFT_NAME.test(name)) throw new InvalidInputError('nft counter name', name, 'expected an nft identifier (a letter, then letters, digits, _ . / -)');
  if (options === null || typeof options !== 'object') throw new InvalidInputError('nftCounter options', options, 'expected { family }');
  for (const key of Object.keys(options)) if (key !== 'family') throw new InvalidInputError('nftCounter option', key, 'unknown option; nftCounter takes family');
  const family = options.family ?? 'inet';
  if (!NFT_FAMILIES.includes(family)) throw new InvalidInputError('nft family', family, `expected one of ${NFT_FAMILIES.join(', ')}`);
  const counter = new PacketCounter(ns, {}, [], '', table, family, name, true);
  await counter.read(); // there now, or a ProbeError naming the command
  return counter;
}

const FILTER_KEYS = ['family', 'protocol', 'src', 'dst', 'sport', 'dport', 'iif', 'oif', 'icmpType', 'icmpCode', 'ct', 'srcMac', 'dstMac'] as const;

function port(value: unknown, key: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 65535) throw new InvalidInputError(`counter filter ${key}`, value, 'expected a whole number from 1 to 65535');
  return value;
}

/** A filter checked and written in nft's words, with its family (if it has one) and the hooks it counts at. */
export function counterMatch(filter: unknown, options: unknown = {}): { match: string; hooks: CountHook[]; family?: Family; priority: number; device?: string } {
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
  let ct: CtState[] | undefined;
  if (f.ct !== undefined) {
    const list = typeof f.ct === 'string' ? [f.ct] : Array.isArray(f.ct) ? [...(f.ct as CtState[])] : undefined;
    if (!list || !list.length || list.some((c) => !CT_STATES.includes(c))) throw new InvalidInputError('counter filter ct', f.ct, `expected one of ${CT_STATES.join(', ')}, or a list of them`);
    ct = [...new Set(list)];
  }
  const mac = (value: unknown, key: string): string | undefined => {
    if (value === undefined) return undefined;
    if (typeof value !== 'string' || !/^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/.test(value)) throw new InvalidInputError(`counter filter ${key}`, value, 'expected a MAC address such as "de:ad:be:ef:13:37"');
    return value.toLowerCase();
  };
  const srcMac = mac(f.srcMac, 'srcMac');
  const dstMac = mac(f.dstMac, 'dstMac');
  const iif = f.iif === undefined ? undefined : checkIfname(f.iif, 'counter filter iif');
  const oif = f.oif === undefined ? undefined : checkIfname(f.oif, 'counter filter oif');
  const given = (options as CounterOptions).hook;
  const ingress = given === 'ingress' || (Array.isArray(given) && given.includes('ingress'));
  // the match, in nft's words (a netdev table has no nfproto: the frame's ethertype says the family)
  if (family !== undefined) words.push(ingress ? `meta protocol ${family === 6 ? 'ip6' : 'ip'}` : `meta nfproto ${family === 6 ? 'ipv6' : 'ipv4'}`);
  if (srcMac) words.push(`ether saddr ${srcMac}`);
  if (dstMac) words.push(`ether daddr ${dstMac}`);
  const ip = family === 6 ? 'ip6' : 'ip';
  if (src) words.push(`${ip} saddr ${src}`);
  if (dst) words.push(`${ip} daddr ${dst}`);
  if (f.protocol === 'tcp' || f.protocol === 'udp') words.push(`meta l4proto ${f.protocol}`);
  if (icmp) words.push(`meta l4proto ${icmp === 'icmpv6' ? 'ipv6-icmp' : 'icmp'}`);
  if (sport !== undefined) words.push(`th sport ${sport}`);
  if (dport !== undefined) words.push(`th dport ${dport}`);
  if (f.icmpType !== undefined) words.push(`${icmp} type ${f.icmpType}`);
  if (f.icmpCode !== undefined) words.push(`${icmp} code ${f.icmpCode}`);
  if (ct) words.push(`ct state ${ct.length === 1 ? ct[0] : `{ ${ct.join(', ')} }`}`);
  if (iif && !ingress) words.push(`iifname "${iif}"`);
  if (oif) words.push(`oifname "${oif}"`);
  // the hooks
  let hooks: CountHook[];
  if (given === undefined) hooks = iif && oif ? ['forward'] : iif ? ['prerouting'] : oif ? ['postrouting'] : ['prerouting', 'output'];
  else {
    const list = typeof given === 'string' ? [given] : Array.isArray(given) ? [...given] : undefined;
    if (!list || list.length === 0 || list.some((h) => !HOOKS.includes(h))) throw new InvalidInputError('counter option hook', given, `expected one of ${HOOKS.join(', ')}, or a list of them`);
    if (new Set(list).size !== list.length) throw new InvalidInputError('counter option hook', given, 'a hook is named twice: a packet would be counted twice');
    hooks = list;
  }
  if (ingress) {
    if (hooks.length > 1) throw new InvalidInputError('counter option hook', given, 'ingress is a hook of its own (a netdev table on one device): count there alone, and at the other hooks with another counter');
    if (!iif) throw new InvalidInputError('counter option hook', 'ingress', 'the ingress hook is bound to one device: give the filter an iif');
    if (oif) throw new InvalidInputError('counter filter oif', oif, 'a frame at a device\'s ingress has no output interface');
    if (ct) throw new InvalidInputError('counter filter ct', f.ct, 'conntrack has not seen a frame at the device\'s ingress yet: count ct states at an inet hook');
    return { match: words.join(' '), hooks, family, priority: -500, device: iif };
  }
  for (const h of hooks) {
    if (iif && h !== 'prerouting' && h !== 'input' && h !== 'forward') throw new InvalidInputError('counter filter iif', iif, `the ${h} hook has no input interface (a packet there was sent by the namespace itself); count at prerouting, input or forward`);
    if (oif && h !== 'forward' && h !== 'output' && h !== 'postrouting') throw new InvalidInputError('counter filter oif', oif, `the ${h} hook has no output interface yet (routing decides it after); count at forward, output or postrouting`);
  }
  return { match: words.join(' '), hooks, family, priority: ct ? CT_PRIORITY : PRIORITY };
}

/** Add a counter to `ns`: a table of netspec's own, one named counter, one base chain per hook. */
export async function createCounter(ns: Netns, filter: PacketFilter, options: CounterOptions = {}): Promise<PacketCounter> {
  const { match, hooks, priority, device } = counterMatch(filter, options);
  const refused = ns.lab.refusesTables();
  if (refused) throw new InvalidInputError('counter', String(ns), `${refused}: netspec cannot add its counter table there; count in a lab`);
  const table = `netspec_count_${process.pid}_${++counters}`;
  const family: NftFamily = device ? 'netdev' : 'inet';
  const chains = hooks.map((h) => `chain ${h} { type filter hook ${h}${device ? ` device "${device}"` : ''} priority ${priority}; policy accept; ${match ? `${match} ` : ''}counter name "c"; }`).join('; ');
  const ruleset = `table ${family} ${table} { counter c { }; ${chains}; }`;
  const counter = new PacketCounter(ns, { ...filter }, hooks, match, table, family);
  await ns.lab.run(ns.name, ['nft', ruleset], { intent: `add ${counter}` });
  return counter;
}
