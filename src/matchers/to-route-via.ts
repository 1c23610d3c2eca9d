/**
 * `expect(ns).toRouteVia(destination, gateway?, { dev?, src?, from?, iif?, oif?, mark?, table?, fibmatch?, prefix?, type? })`:
 * the kernel's route lookup (`ip route get DEST [from] [iif] [oif] [mark]`, or `ip route get fibmatch …`).
 */
import { InvalidInputError } from '../errors.js';
import { canonical, parseAddress, parsePrefix } from '../address.js';
import { describeRoute } from '../diagnose/index.js';
import { checkIfname } from '../names.js';
import { ROUTE_TYPES, routeTable, type RouteTable, type RouteType } from '../steps/route.js';
import type { RouteInfo, RouteLookup } from '../netns.js';
import { checkOptions, describe, hint, receivedNetns, type MatcherContext, type MatcherResult } from './format.js';

export interface ToRouteViaOptions {
  dev?: string;
  /** The source address the kernel picks. */
  src?: string;
  /** Look the route up as if from this source address (source policy rules see it). */
  from?: string;
  /** …as a packet that came in on this interface (a forward lookup: needs `from`, and forwarding on to succeed). */
  iif?: string;
  /** …as a packet that must leave by this interface. */
  oif?: string;
  /** …as a packet with this firewall mark (fwmark rules see it). */
  mark?: number;
  /** The table the answer came from (policy routing): a number, or `main`, `local`, `default`. */
  table?: RouteTable;
  /** Check the FIB entry the lookup matched (`ip route get fibmatch`): its `prefix`, gateways (any path), device. */
  fibmatch?: boolean;
  /** With `fibmatch`: the matched entry's prefix, e.g. `10.0.0.0/8` (or `default`). */
  prefix?: string;
  /**
   * The route's type: `unicast`, `local`, … or what the kernel's refusal says: `blackhole` (it drops), `unreachable`,
   * `prohibit` (it refuses); `toRouteVia(dest, { type: 'blackhole' })` passes on a blackholed destination.
   */
  type?: RouteType;
}

const REFUSED_WORDS: Record<string, (address: string) => string> = {
  blackhole: (a) => `a blackhole route (or rule) drops packets to ${a}: the kernel answers "Invalid argument"`,
  unreachable: (a) => `an unreachable route refuses packets to ${a}: the kernel answers "No route to host"`,
  prohibit: (a) => `a prohibit route refuses packets to ${a}: the kernel answers "Permission denied"`,
  none: (a) => `there is no route to ${a} (Network is unreachable)`,
};

export async function toRouteVia(
  this: MatcherContext,
  received: unknown,
  destination: unknown,
  gatewayOrOptions?: string | ToRouteViaOptions,
  maybeOptions?: ToRouteViaOptions,
): Promise<MatcherResult> {
  const ns = receivedNetns(received, 'toRouteVia');
  const { address } = parseAddress(destination, 'destination');
  let gateway: string | undefined;
  let options: unknown = maybeOptions;
  if (typeof gatewayOrOptions === 'string') gateway = parseAddress(gatewayOrOptions, 'gateway').address;
  else if (gatewayOrOptions !== undefined) {
    if (maybeOptions !== undefined) throw new InvalidInputError('toRouteVia gateway', gatewayOrOptions, 'expected a gateway address as the second argument when options follow');
    options = gatewayOrOptions;
  }
  const opts = checkOptions<ToRouteViaOptions>(options, 'toRouteVia', {
    dev: 'string', src: 'string', from: 'string', iif: 'string', oif: 'string', mark: 'number', table: 'string|number', fibmatch: 'boolean', prefix: 'string', type: 'string',
  });
  if (opts.dev !== undefined) checkIfname(opts.dev, 'dev');
  if (opts.src !== undefined) parseAddress(opts.src, 'src');
  const table = opts.table === undefined ? undefined : routeTable(opts.table, 'toRouteVia table');
  if (opts.type !== undefined && !(ROUTE_TYPES as readonly string[]).includes(opts.type)) throw new InvalidInputError('toRouteVia type', opts.type, `expected one of ${ROUTE_TYPES.join(', ')}`);
  if (opts.prefix !== undefined && !opts.fibmatch) throw new InvalidInputError('toRouteVia prefix', opts.prefix, 'the matched prefix is what `ip route get fibmatch` reports: add { fibmatch: true }');
  const prefix = opts.prefix === undefined ? undefined : opts.prefix === 'default' ? 'default' : canonicalPrefix(opts.prefix);
  if (gateway === undefined && opts.dev === undefined && opts.src === undefined && table === undefined && prefix === undefined && opts.type === undefined) {
    throw new InvalidInputError('toRouteVia', 'no gateway', 'give a gateway, or { dev } for an on-link route (or src, table, type, or fibmatch with prefix)');
  }
  const lookup = await ns.lookupRoute(address, { from: opts.from, iif: opts.iif, oif: opts.oif, mark: opts.mark, fibmatch: opts.fibmatch });
  const route = lookup.route;
  const problems: string[] = [];
  if (!route) {
    const refusedBy = lookup.refusedBy;
    const why = refusedBy ? REFUSED_WORDS[refusedBy]!(address) : `the kernel refused the lookup of ${address}: ${lookup.refusal}${opts.iif ? ' (a lookup with iif is a forward: is forwarding on in this namespace, and does `from` pass rp_filter?)' : ''}`;
    if (opts.type === undefined || opts.type !== refusedBy) problems.push(`${why}${opts.type !== undefined ? `, not a ${opts.type} route` : ''}`);
    else if (gateway !== undefined || opts.dev !== undefined || opts.src !== undefined || table !== undefined || prefix !== undefined) {
      problems.push(`${why}, so there is no gateway, device, source, table or entry to check`);
    }
  } else {
    const paths = [{ gateway: route.gateway, dev: route.dev }, ...(route.nexthops ?? [])];
    if (gateway !== undefined && !paths.some((h) => h.gateway !== undefined && canonical(h.gateway) === canonical(gateway))) {
      const gws = paths.map((h) => h.gateway).filter(Boolean);
      problems.push(gws.length ? `the gateway is ${gws.join(' or ')}, not ${gateway}` : `the route is on-link (no gateway), not via ${gateway}`);
    }
    if (opts.dev !== undefined && !paths.some((h) => h.dev === opts.dev)) problems.push(`the device is ${paths.map((h) => h.dev).filter(Boolean).join(' or ') || 'none'}, not ${opts.dev}`);
    if (opts.src !== undefined && (!route.prefsrc || canonical(route.prefsrc) !== canonical(opts.src))) problems.push(`the source address is ${route.prefsrc ?? 'none'}, not ${opts.src}`);
    // iproute2 names the table that answered when it is not main
    if (table !== undefined && (route.table ?? 'main') !== table) problems.push(`the answer came from table ${route.table ?? 'main'}, not ${table}`);
    if (prefix !== undefined && route.dst !== prefix && (route.dst === 'default' || canonicalPrefix(route.dst) !== prefix)) problems.push(`the matched entry is ${route.dst}, not ${prefix}`);
    if (opts.type !== undefined && (route.type ?? 'unicast') !== opts.type) problems.push(`the route is ${route.type ?? 'unicast'}, not ${opts.type}`);
  }
  const pass = problems.length === 0;
  const args = [describe(destination), gateway ? describe(gateway) : undefined, options ? describe(options) : undefined].filter(Boolean).join(', ');
  const actual = shown(lookup, route);
  return {
    pass,
    actual,
    expected: [gateway ? `via ${gateway}` : '', opts.dev ? `dev ${opts.dev}` : '', opts.src ? `src ${opts.src}` : '', table ? `table ${table}` : '', prefix ? `entry ${prefix}` : '', opts.type ?? ''].filter(Boolean).join(' '),
    message: () =>
      pass
        ? `${hint(ns, 'toRouteVia', true, args)}\n\n${ns.name} routes ${address} ${actual} (${lookup.command})`
        : `${hint(ns, 'toRouteVia', false, args)}\n\n${ns.name}: ${problems.join('; ')}\n  ${lookup.command} → ${actual}`,
  };
}

function shown(lookup: RouteLookup, route: RouteInfo | undefined): string {
  if (!route) return lookup.refusedBy && lookup.refusedBy !== 'none' ? `${lookup.refusedBy} (${lookup.refusal})` : `no route (${lookup.refusal})`;
  const entry = route.dst !== undefined && /\/|default/.test(route.dst) ? `${route.dst} ` : '';
  return `${entry}${describeRoute(route)}`;
}

function canonicalPrefix(text: string): string {
  const p = parsePrefix(text.includes('/') ? text : `${text}/${text.includes(':') ? 128 : 32}`, 'prefix');
  const full = p.family === 4 ? 32 : 128;
  return p.prefixLength === full ? canonical(p.address) : `${canonical(p.address)}/${p.prefixLength}`;
}
