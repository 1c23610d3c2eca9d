/**
 * `expect(ns).toHaveRule({ from?, to?, iif?, oif?, fwmark?, fwmask?, table?, priority?, action?, family?, not?, tos?,
 * ipproto?, sport?, dport?, uidrange? })`: a policy rule. Every field given must match; `not` always counts (a rule
 * `not from X` is never the rule `from X`); a mark given without a mask means the whole mark. A rule that matches every
 * field given but also selects on something the expectation does not name (a dsfield, protocol, port or uid range, a
 * narrower mark mask, or a selector netspec does not compare, such as tun_id) is no verdict: an InvalidInputError says
 * which, unless another rule matches cleanly.
 */
import { InvalidInputError } from '../errors.js';
import { canonical, parsePrefix } from '../address.js';
import { checkIfname } from '../names.js';
import type { IpRule } from '../netns.js';
import { routeTable, wholeNumber } from '../steps/route.js';
import { RULE_ACTIONS, RULE_OPTION_KEYS, checkIpproto, checkRange, checkTos, type RuleOptions } from '../steps/ip-rule.js';
import { ruleAction, ruleExtras, ruleSelectors } from '../parse/ip.js';
import { describeRule } from '../diagnose/index.js';
import { bullet, checkOptions, describe, hint, receivedNetns, type MatcherContext, type MatcherResult } from './format.js';

/** The rule's fields, as addRule takes them (`from: 'all'` too: a rule that matches every source); any subset matches. */
export type ToHaveRuleOptions = RuleOptions;

export async function toHaveRule(this: MatcherContext, received: unknown, rule: unknown): Promise<MatcherResult> {
  const ns = receivedNetns(received, 'toHaveRule');
  if (rule === null || typeof rule !== 'object') throw new InvalidInputError('rule', rule, `expected an object with some of ${RULE_OPTION_KEYS.join(', ')}`);
  const r = checkOptions<ToHaveRuleOptions>(rule, 'toHaveRule', {
    from: 'string', to: 'string', iif: 'string', oif: 'string', fwmark: 'number', fwmask: 'number', table: 'string|number', priority: 'number', action: 'string', family: 'number',
    not: 'boolean', tos: 'number', ipproto: 'string|number', sport: 'string|number', dport: 'string|number', uidrange: 'string|number',
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
  if (r.fwmask !== undefined && r.fwmark === undefined) throw new InvalidInputError('toHaveRule fwmask', r.fwmask, 'a mask masks a mark: give `fwmark` with it');
  const tos = r.tos === undefined ? undefined : checkTos(r.tos, 'toHaveRule tos');
  const ipproto = r.ipproto === undefined ? undefined : checkIpproto(r.ipproto, 'toHaveRule ipproto');
  const sport = r.sport === undefined ? undefined : checkRange(r.sport, 'toHaveRule sport', 65535);
  const dport = r.dport === undefined ? undefined : checkRange(r.dport, 'toHaveRule dport', 65535);
  const uidrange = r.uidrange === undefined ? undefined : checkRange(r.uidrange, 'toHaveRule uidrange', 0xffffffff);
  if (r.priority !== undefined) wholeNumber(r.priority, 'toHaveRule priority', 0, 0xffffffff);
  const table = r.table === undefined ? undefined : routeTable(r.table, 'toHaveRule table');
  if (r.action !== undefined && !(RULE_ACTIONS as readonly string[]).includes(r.action)) throw new InvalidInputError('toHaveRule action', r.action, `expected one of ${RULE_ACTIONS.join(', ')}`);
  const rules = await ns.rules({ family: six ? 6 : 4 });
  // the fields given, each compared; `not` always (a rule `not from X` is not the rule `from X`)
  const matches = (x: IpRule) => {
    const sel = ruleSelectors(x);
    return (
      (from === undefined || rowPrefix(x.src, x.srclen, six) === from) &&
      (to === undefined || rowPrefix(x.dst, x.dstlen, six) === to) &&
      (r.iif === undefined || x.iif === r.iif) &&
      (r.oif === undefined || x.oif === r.oif) &&
      (r.fwmark === undefined || sel.fwmark === r.fwmark) &&
      (r.fwmask === undefined || sel.fwmask === r.fwmask) &&
      (table === undefined || x.table === table) &&
      (r.priority === undefined || x.priority === r.priority) &&
      (r.action === undefined || ruleAction(x) === r.action) &&
      sel.not === (r.not ?? false) &&
      (tos === undefined || sel.tos === tos) &&
      (ipproto === undefined || sel.ipproto === ipproto) &&
      (sport === undefined || sel.sport === sport) &&
      (dport === undefined || sel.dport === dport) &&
      (uidrange === undefined || sel.uidrange === uidrange)
    );
  };
  // what a rule selects on that the expectation does not name (and that narrows or changes what it matches)
  const unnamed = (x: IpRule): string[] => {
    const sel = ruleSelectors(x);
    const out = [...sel.unreadable.map((w) => `${w} (a spelling netspec cannot compare)`)];
    if (tos === undefined && sel.tos !== undefined && sel.tos !== 0) out.push(`tos 0x${sel.tos.toString(16)}`);
    if (ipproto === undefined && sel.ipproto !== undefined) out.push(`ipproto ${sel.ipproto}`);
    if (sport === undefined && sel.sport !== undefined) out.push(`sport ${sel.sport}`);
    if (dport === undefined && sel.dport !== undefined) out.push(`dport ${sel.dport}`);
    if (uidrange === undefined && sel.uidrange !== undefined) out.push(`uidrange ${sel.uidrange}`);
    if (r.fwmark !== undefined && r.fwmask === undefined && sel.fwmask !== 0xffffffff) out.push(`fwmask 0x${sel.fwmask!.toString(16)}`);
    out.push(...ruleExtras(x).map((w) => `${w} (toHaveRule does not compare it)`));
    return out;
  };
  const clean = rules.filter((x) => matches(x) && unnamed(x).length === 0);
  const pass = clean.length > 0;
  const partial = pass ? undefined : rules.find(matches);
  if (partial) {
    throw new InvalidInputError(
      'toHaveRule rule',
      rule,
      `${ns.name}'s rule ${describeRule(partial)} matches every field given, but also selects on ${unnamed(partial).join(', ')}, which the expectation does not name: netspec cannot tell whether that is the rule you mean, so it gives no verdict. Name ${unnamed(partial).length === 1 ? 'it' : 'them'} in the expectation (toHaveRule takes ${RULE_OPTION_KEYS.join(', ')})`,
    );
  }
  return {
    pass,
    actual: rules.map(describeRule),
    expected: describe(rule),
    message: () =>
      pass
        ? `${hint(ns, 'toHaveRule', true, describe(rule))}\n\n${ns.name} has the rule ${describeRule(clean[0]!)}`
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
