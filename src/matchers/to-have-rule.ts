/** `expect(ns).toHaveRule({ from?, to?, iif?, oif?, fwmark?, fwmask?, table?, priority?, action?, family? })`: a policy rule. */
import { InvalidInputError } from '../errors.js';
import { canonical, parsePrefix } from '../address.js';
import { checkIfname } from '../names.js';
import type { IpRule } from '../netns.js';
import { routeTable, wholeNumber } from '../steps/route.js';
import { RULE_ACTIONS, type RuleOptions } from '../steps/ip-rule.js';
import { describeRule } from '../diagnose.js';
import { bullet, checkOptions, describe, hint, receivedNetns, type MatcherContext, type MatcherResult } from './format.js';

/** The rule's fields, as addRule takes them (`from: 'all'` too: a rule that matches every source); any subset matches. */
export type ToHaveRuleOptions = RuleOptions;

export async function toHaveRule(this: MatcherContext, received: unknown, rule: unknown): Promise<MatcherResult> {
  const ns = receivedNetns(received, 'toHaveRule');
  if (rule === null || typeof rule !== 'object') throw new InvalidInputError('rule', rule, 'expected { from?, to?, iif?, oif?, fwmark?, table?, priority?, action? }');
  const r = checkOptions<ToHaveRuleOptions>(rule, 'toHaveRule', {
    from: 'string', to: 'string', iif: 'string', oif: 'string', fwmark: 'number', fwmask: 'number', table: 'string|number', priority: 'number', action: 'string', family: 'number',
  });
  if (r.family !== undefined && r.family !== 4 && r.family !== 6) throw new InvalidInputError('toHaveRule family', r.family, 'expected 4 or 6');
  const prefixSix = [r.from, r.to].filter((p) => p !== undefined && p !== 'all').map((p) => p!.includes(':'));
  if (r.family !== undefined && prefixSix.some((v) => v !== (r.family === 6))) {
    throw new InvalidInputError('toHaveRule family', r.family, `it contradicts the rule's own prefix (${[r.from, r.to].filter((p) => p !== undefined && p !== 'all').join(', ')}): leave family out, or give prefixes of IPv${r.family}`);
  }
  if (prefixSix.length === 2 && prefixSix[0] !== prefixSix[1]) throw new InvalidInputError('toHaveRule to', r.to, `it is not of the family of from (${r.from}): a rule is IPv4 or IPv6`);
  const six = r.family === 6 || prefixSix.some(Boolean);
  // "all" is the zero-length prefix of the family: `from: 'all'` and `from: '0.0.0.0/0'` are the same rule
  const from = r.from === undefined ? undefined : r.from === 'all' ? anyPrefix(six) : prefix(r.from, 'toHaveRule from');
  const to = r.to === undefined ? undefined : r.to === 'all' ? anyPrefix(six) : prefix(r.to, 'toHaveRule to');
  if (r.iif !== undefined) checkIfname(r.iif, 'toHaveRule iif');
  if (r.oif !== undefined) checkIfname(r.oif, 'toHaveRule oif');
  if (r.fwmark !== undefined) wholeNumber(r.fwmark, 'toHaveRule fwmark', 0, 0xffffffff);
  if (r.fwmask !== undefined) wholeNumber(r.fwmask, 'toHaveRule fwmask', 0, 0xffffffff);
  if (r.priority !== undefined) wholeNumber(r.priority, 'toHaveRule priority', 0, 0xffffffff);
  const table = r.table === undefined ? undefined : routeTable(r.table, 'toHaveRule table');
  if (r.action !== undefined && !(RULE_ACTIONS as readonly string[]).includes(r.action)) throw new InvalidInputError('toHaveRule action', r.action, `expected one of ${RULE_ACTIONS.join(', ')}`);
  const rules = await ns.rules({ family: six ? 6 : 4 });
  const matches = (x: IpRule) =>
    (from === undefined || rowPrefix(x.src, x.srclen, six) === from) &&
    (to === undefined || rowPrefix(x.dst, x.dstlen, six) === to) &&
    (r.iif === undefined || x.iif === r.iif) &&
    (r.oif === undefined || x.oif === r.oif) &&
    (r.fwmark === undefined || (x.fwmark !== undefined && Number(x.fwmark) === r.fwmark)) &&
    (r.fwmask === undefined || Number(x.fwmask ?? 0xffffffff) === r.fwmask) &&
    (table === undefined || x.table === table) &&
    (r.priority === undefined || x.priority === r.priority) &&
    (r.action === undefined || (x.action ?? 'lookup') === r.action);
  const pass = rules.some(matches);
  return {
    pass,
    actual: rules.map(describeRule),
    expected: describe(rule),
    message: () =>
      pass
        ? `${hint(ns, 'toHaveRule', true, describe(rule))}\n\n${ns.name} has the rule ${describeRule(rules.find(matches)!)}`
        : `${hint(ns, 'toHaveRule', false, describe(rule))}\n\n${ns.name} has no such IPv${six ? 6 : 4} rule; its rules (ip rule show):\n${bullet(rules.map(describeRule))}`,
  };
}

function prefix(text: string, input: string): string {
  const p = parsePrefix(text, input);
  return `${canonical(p.address)}/${p.prefixLength}`;
}

/** The prefix of every address of the family, which `ip rule` prints as "all" (or, for `to`, leaves out). */
const anyPrefix = (six: boolean) => (six ? '::/0' : '0.0.0.0/0');

/** A row's `src`/`srclen` (or dst) as a canonical prefix; iproute2 leaves out the length of a host prefix. */
function rowPrefix(address: string | undefined, length: number | undefined, six: boolean): string {
  if (address === undefined || address === 'all') return anyPrefix(six);
  return `${canonical(address)}/${length ?? (six ? 128 : 32)}`;
}
