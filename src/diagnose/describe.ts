/** Routes and policy rules as iproute2 prints them: the words every diagnosis, report and matcher message uses. */
import type { IpRule, RouteInfo } from '../netns.js';
import { ruleAction, ruleExtras, ruleSelectors } from '../parse/ip.js';

/** A route of a type that fails the lookup itself: the kernel drops or refuses what it would carry. */
export const isReject = (type: string | undefined): type is 'unreachable' | 'blackhole' | 'prohibit' => type === 'unreachable' || type === 'blackhole' || type === 'prohibit';

export const article = (word: string): string => (/^[aeiou]/.test(word) ? 'an' : 'a');

export function describeRoute(route: RouteInfo): string {
  const parts: string[] = [];
  if (route.type && route.type !== 'unicast') parts.push(route.type);
  if (route.gateway) parts.push(`via ${route.gateway}`);
  if (route.dev) parts.push(`dev ${route.dev}`);
  if (route.prefsrc) parts.push(`src ${route.prefsrc}`);
  // policy routing: the table the route is in (or, from `ip route get`, the table that answered)
  if (route.table && route.table !== 'main') parts.push(`table ${route.table}`);
  if (route.nexthops?.length) {
    const hops = route.nexthops.map((h) => [h.gateway && `via ${h.gateway}`, h.dev && `dev ${h.dev}`, h.weight !== undefined && `weight ${h.weight}`, h.flags?.length && h.flags.join(' ')].filter(Boolean).join(' '));
    parts.push(`nexthops: ${hops.join(', ')}`);
  }
  // a route the kernel learned from an ICMP redirect (`ip route get` prints `cache <redirected> expires 298sec`): the
  // path a packet takes now, which its first packets may not have taken
  if (Array.isArray(route.cache) && route.cache.includes('redirected')) {
    parts.push(`(learned from an ICMP redirect${typeof route.expires === 'number' ? `, for ${route.expires} s more` : ''}: earlier packets went by the gateway the routing table names)`);
  }
  return parts.join(' ') || 'unknown';
}

/**
 * A rule as `ip rule show` prints it, every selector included: `100: not from 10.1.0.2 tos 0x10 fwmark 0x5/0xff
 * ipproto 6 dport 53 lookup 100`. Selectors netspec does not model are printed as iproute2 words, never dropped.
 */
export function describeRule(x: IpRule): string {
  const s = ruleSelectors(x);
  const parts = [`${x.priority}:`];
  if (s.not) parts.push('not');
  parts.push(`from ${x.src === 'all' || x.src === undefined ? 'all' : `${x.src}${x.srclen !== undefined ? `/${x.srclen}` : ''}`}`);
  if (x.dst !== undefined) parts.push(`to ${x.dst}${x.dstlen !== undefined ? `/${x.dstlen}` : ''}`);
  if (x.tos !== undefined) parts.push(`tos ${s.tos === undefined ? String(x.tos) : `0x${s.tos.toString(16).padStart(2, '0')}`}`);
  if (s.fwmark !== undefined) parts.push(`fwmark 0x${s.fwmark.toString(16)}${s.fwmask !== 0xffffffff ? `/0x${s.fwmask!.toString(16)}` : ''}`);
  if (x.iif !== undefined) parts.push(`iif ${x.iif}`);
  if (x.oif !== undefined) parts.push(`oif ${x.oif}`);
  if (s.uidrange !== undefined) parts.push(`uidrange ${s.uidrange}`);
  if (x.ipproto !== undefined) parts.push(`ipproto ${String(x.ipproto)}`);
  if (s.sport !== undefined) parts.push(`sport ${s.sport}`);
  if (s.dport !== undefined) parts.push(`dport ${s.dport}`);
  const action = ruleAction(x);
  parts.push(action === 'lookup' ? `lookup ${x.table ?? '?'}` : action === 'goto' ? `goto ${String(x.goto)}` : action);
  parts.push(...ruleExtras(x));
  return parts.join(' ');
}
