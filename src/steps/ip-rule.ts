/** Policy routing rule steps (`ip rule …`): which table a packet's route is looked up in, by source, mark, interface. */
import { InvalidInputError } from '../errors.js';
import { parsePrefix, type Family } from '../address.js';
import { checkIfname } from '../names.js';
import { IP_PROTOCOLS } from '../parse/ip.js';
import { routeTable, wholeNumber, type RouteTable } from './route.js';
import { type StepIn, checkStepOptions } from './step.js';

/** What a rule does with a packet it matches: look the route up in `table` (the default), or refuse/drop it. */
export const RULE_ACTIONS = ['lookup', 'blackhole', 'unreachable', 'prohibit'] as const;
export type RuleAction = (typeof RULE_ACTIONS)[number];

export interface RuleOptions {
  /** Source prefix (or address) the rule matches. */
  from?: string;
  /** Destination prefix (or address) the rule matches. */
  to?: string;
  /** Packets that came in on this interface (`lo` for the namespace's own packets). */
  iif?: string;
  /** Packets bound to this interface (a socket's SO_BINDTODEVICE, `ping -I dev`). */
  oif?: string;
  /** Packets with this firewall mark (a number; `fwmask` masks it). */
  fwmark?: number;
  fwmask?: number;
  /** The table to look the route up in (action `lookup`). */
  table?: RouteTable;
  /** The rule's place: rules are tried from the lowest priority up (0 is the `local` table's rule). */
  priority?: number;
  action?: RuleAction;
  /** 4 or 6: inferred from `from`/`to` when they are given; IPv4 otherwise. */
  family?: Family;
  /** The rule matches every packet its selectors do NOT match (`ip rule add not …`). */
  not?: boolean;
  /** The dsfield (TOS byte) packets must carry, 0–255 (`tos`/`dsfield`; iproute2 prints `tos 0x10`, or a name such as AF11). */
  tos?: number;
  /** The IP protocol: a name (`tcp`, `udp`, `icmp`, `ipv6-icmp`, …) or a number 0–255. */
  ipproto?: string | number;
  /** Source port, or an inclusive range `"1000-2000"`. */
  sport?: number | string;
  /** Destination port, or an inclusive range `"1000-2000"`. */
  dport?: number | string;
  /** The uid of the socket's owner, or an inclusive range `"1000-1999"` (in a user namespace, only uids it maps). */
  uidrange?: number | string;
}

/** The selector fields of a rule beyond from/to/iif/oif/fwmark, in the order `ip rule` prints them. */
export const RULE_OPTION_KEYS = ['from', 'to', 'iif', 'oif', 'fwmark', 'fwmask', 'table', 'priority', 'action', 'family', 'not', 'tos', 'ipproto', 'sport', 'dport', 'uidrange'] as const;

/** `tos`: a whole number 0–255. */
export function checkTos(value: unknown, input: string): number {
  return wholeNumber(value as number, input, 0, 255);
}

/** `ipproto`: a protocol number 0–255, from a name iproute2 knows or a number. */
export function checkIpproto(value: unknown, input: string): number {
  if (typeof value === 'number') return wholeNumber(value, input, 0, 255);
  if (typeof value === 'string' && Object.hasOwn(IP_PROTOCOLS, value)) return IP_PROTOCOLS[value]!;
  throw new InvalidInputError(input, value, `expected a protocol number 0–255 or one of ${Object.keys(IP_PROTOCOLS).join(', ')}`);
}

/** A port or uid, or an inclusive range of them (`"1000-2000"`), as `lo-hi` (`N` for one). */
export function checkRange(value: unknown, input: string, max: number): string {
  if (typeof value === 'number') return String(wholeNumber(value, input, 0, max));
  const m = typeof value === 'string' ? /^(\d+)(?:-(\d+))?$/.exec(value) : null;
  const lo = m ? Number(m[1]) : NaN;
  const hi = m?.[2] === undefined ? lo : Number(m[2]);
  if (!m || lo > max || hi > max || hi < lo) throw new InvalidInputError(input, value, `expected a whole number from 0 to ${max}, or a range "LOW-HIGH" of them`);
  return lo === hi ? String(lo) : `${lo}-${hi}`;
}

/** `ip rule add|del [from P] [to P] [iif I] [oif O] [fwmark M[/MASK]] [priority N] (table T | ACTION)`, input checked. */
export function ruleStep(verb: 'add' | 'del', options: RuleOptions): StepIn {
  checkStepOptions(options, 'rule', RULE_OPTION_KEYS, 'a rule', 'expected an object such as { from: "10.0.0.0/24", table: 100 }');
  if (options.not !== undefined && typeof options.not !== 'boolean') throw new InvalidInputError('rule not', options.not, 'expected true or false');
  if (options.family !== undefined && options.family !== 4 && options.family !== 6) throw new InvalidInputError('rule family', options.family, 'expected 4 or 6');
  let family = options.family;
  const words: string[] = [];
  for (const key of ['from', 'to'] as const) {
    if (options[key] === undefined) continue;
    const p = parsePrefix(options[key], `rule ${key}`);
    if (family !== undefined && p.family !== family) throw new InvalidInputError(`rule ${key}`, options[key], `it is IPv${p.family} but the rule is IPv${family}`);
    family = p.family;
    words.push(key, p.text);
  }
  if (options.iif !== undefined) words.push('iif', checkIfname(options.iif, 'rule iif'));
  if (options.oif !== undefined) words.push('oif', checkIfname(options.oif, 'rule oif'));
  if (options.fwmask !== undefined && options.fwmark === undefined) throw new InvalidInputError('rule fwmask', options.fwmask, 'a mask needs a `fwmark` to mask');
  if (options.fwmark !== undefined) {
    const mark = wholeNumber(options.fwmark, 'rule fwmark', 0, 0xffffffff);
    const mask = options.fwmask === undefined ? undefined : wholeNumber(options.fwmask, 'rule fwmask', 0, 0xffffffff);
    words.push('fwmark', `0x${mark.toString(16)}${mask === undefined ? '' : `/0x${mask.toString(16)}`}`);
  }
  if (options.tos !== undefined) words.push('tos', `0x${checkTos(options.tos, 'rule tos').toString(16)}`);
  if (options.uidrange !== undefined) {
    const r = checkRange(options.uidrange, 'rule uidrange', 0xffffffff);
    words.push('uidrange', r.includes('-') ? r : `${r}-${r}`);
  }
  if (options.ipproto !== undefined) words.push('ipproto', String(checkIpproto(options.ipproto, 'rule ipproto')));
  if (options.sport !== undefined) words.push('sport', checkRange(options.sport, 'rule sport', 65535));
  if (options.dport !== undefined) words.push('dport', checkRange(options.dport, 'rule dport', 65535));
  if (options.not) words.unshift('not');
  if (options.priority !== undefined) words.push('priority', String(wholeNumber(options.priority, 'rule priority', 0, 0xffffffff)));
  const action = options.action ?? 'lookup';
  if (!(RULE_ACTIONS as readonly string[]).includes(action)) throw new InvalidInputError('rule action', options.action, `expected one of ${RULE_ACTIONS.join(', ')}`);
  if (action === 'lookup') {
    if (options.table === undefined) {
      if (verb === 'add') throw new InvalidInputError('rule table', undefined, 'a rule looks its routes up in a table: give `table` (a number, or "main"), or an action such as "unreachable"');
    } else words.push('table', routeTable(options.table, 'rule table'));
  } else {
    if (options.table !== undefined) throw new InvalidInputError('rule table', options.table, `a rule with action ${action} looks nothing up: drop the table`);
    words.push(action);
  }
  // iproute2 takes an `ip rule` for IPv4 unless told `-6`, even with IPv6 addresses in it: IPv6 rules run in `ip -6 -batch`
  return { kind: family === 6 ? 'ip6' : 'ip', words: ['rule', verb, ...words], intent: `${verb === 'add' ? 'add' : 'delete'} rule ${words.join(' ')}` };
}
