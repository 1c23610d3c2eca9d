/** Policy routing rule steps (`ip rule …`): which table a packet's route is looked up in, by source, mark, interface. */
import { InvalidInputError } from '../errors.js';
import { parsePrefix, type Family } from '../address.js';
import { checkIfname } from '../names.js';
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
}

/** `ip rule add|del [from P] [to P] [iif I] [oif O] [fwmark M[/MASK]] [priority N] (table T | ACTION)`, input checked. */
export function ruleStep(verb: 'add' | 'del', options: RuleOptions): StepIn {
  checkStepOptions(options, 'rule', ['from', 'to', 'iif', 'oif', 'fwmark', 'fwmask', 'table', 'priority', 'action', 'family'], 'a rule', 'expected an object such as { from: "10.0.0.0/24", table: 100 }');
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
