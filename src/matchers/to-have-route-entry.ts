/**
 * `expect(ns).toHaveRouteEntry({ destination, gateway?, dev?, table?, type?, metric?, src?, nhid?, nexthops?, flags? })`:
 * what is in the table (not what a lookup picks).
 */
import { InvalidInputError } from '../errors.js';
import { canonical, parseAddress, parsePrefix } from '../address.js';
import { checkIfname } from '../names.js';
import type { RouteInfo } from '../netns.js';
import { describeRoute } from '../diagnose/index.js';
import { ROUTE_TYPES, routeTable, wholeNumber, type RouteTable, type RouteType } from '../steps/route.js';
import { bullet, checkOptions, describe, hint, receivedNetns, type MatcherContext, type MatcherResult } from './format.js';

/** One path of a multipath route as toHaveRouteEntry matches it. */
export interface RouteEntryNexthop {
  via?: string;
  dev?: string;
  weight?: number;
  /** Flags the path must have, e.g. `['dead', 'linkdown']`. */
  flags?: string[];
}

export interface RouteEntry {
  /** A prefix, or `default`. */
  destination: string;
  /** One path of the route has this gateway (and `dev`, when given). */
  gateway?: string;
  dev?: string;
  /** The table to look in (main when not given): a number, or `main`, `local`, `default`. */
  table?: RouteTable | `${number}`;
  /** `unicast` (the default), `blackhole`, `unreachable`, `prohibit`, `local`, `throw`, … */
  type?: RouteType;
  /** The route's metric (IPv4's default is 0, IPv6's 1024). */
  metric?: number;
  /** The preferred source address (`src`, shown by iproute2 as prefsrc). */
  src?: string;
  /** The nexthop object the route uses. */
  nhid?: number;
  /** Every path of the route, in any order, and no other (a single-path route is one path). */
  nexthops?: RouteEntryNexthop[];
  /** Flags the route has (`linkdown`, `onlink`, …; on a multipath route, on the path `gateway`/`dev` name, or any path). */
  flags?: string[];
}

interface Path {
  gateway?: string;
  dev?: string;
  weight?: number;
  flags?: string[];
}

export async function toHaveRouteEntry(this: MatcherContext, received: unknown, entry: unknown): Promise<MatcherResult> {
  const ns = receivedNetns(received, 'toHaveRouteEntry');
  if (entry === null || typeof entry !== 'object') throw new InvalidInputError('route entry', entry, 'expected { destination, gateway?, dev?, table?, type?, metric?, src?, nhid?, nexthops?, flags? }');
  const e = checkOptions<RouteEntry>(entry, 'toHaveRouteEntry', {
    destination: 'string', gateway: 'string', dev: 'string', table: 'string|number', type: 'string', metric: 'number', src: 'string', nhid: 'number', nexthops: 'array', flags: 'array',
  });
  if (e.destination === undefined) throw new InvalidInputError('route entry destination', undefined, 'give a prefix such as "192.168.15.0/24" or "default"');
  const hops = (e.nexthops ?? []).map((h, i) => checkPath(h, `route entry nexthops[${i}]`));
  const six = e.destination === 'default6' || e.destination.includes(':') || (e.gateway?.includes(':') ?? false) || hops.some((h) => h.gateway?.includes(':'));
  const dst = e.destination === 'default' || e.destination === 'default6' ? 'default' : canonicalPrefix(e.destination);
  const gateway = e.gateway === undefined ? undefined : parseAddress(e.gateway, 'gateway').address;
  if (e.dev !== undefined) checkIfname(e.dev, 'dev');
  const table = e.table === undefined ? undefined : routeTable(e.table, 'route entry table');
  if (e.type !== undefined && !(ROUTE_TYPES as readonly string[]).includes(e.type)) throw new InvalidInputError('route entry type', e.type, `expected one of ${ROUTE_TYPES.join(', ')}`);
  if (e.metric !== undefined) wholeNumber(e.metric, 'route entry metric', 0, 0xffffffff);
  if (e.nhid !== undefined) wholeNumber(e.nhid, 'route entry nhid', 1, 0xffffffff);
  const src = e.src === undefined ? undefined : parseAddress(e.src, 'route entry src').address;
  const flags = checkFlags(e.flags, 'route entry flags');
  const routes = await ns.routes({ family: six ? 6 : 4, table });
  const paths = (r: RouteInfo): Path[] => r.nexthops ?? [{ gateway: r.gateway, dev: r.dev, flags: r.flags }];
  const samePath = (h: Path, want: Path) =>
    (want.gateway === undefined || (h.gateway !== undefined && canonical(h.gateway) === canonical(want.gateway))) &&
    (want.dev === undefined || h.dev === want.dev) &&
    (want.weight === undefined || (h.weight ?? 1) === want.weight) &&
    (want.flags ?? []).every((f) => (h.flags ?? []).includes(f));
  const matches = (r: RouteInfo) => {
    if (!(r.dst === dst || (r.dst !== 'default' && dst !== 'default' && canonicalPrefix(r.dst) === dst))) return false;
    if (e.type !== undefined && (r.type ?? 'unicast') !== e.type) return false;
    if (e.metric !== undefined && (r.metric ?? 0) !== e.metric) return false;
    if (src !== undefined && (r.prefsrc === undefined || canonical(r.prefsrc) !== src)) return false;
    if (e.nhid !== undefined && r.nhid !== e.nhid) return false;
    // one path of the route (a multipath route's nexthops each count) has the gateway and the device (and the flags)
    const named = paths(r).filter((h) => samePath(h, { gateway, dev: e.dev }));
    if ((gateway !== undefined || e.dev !== undefined) && named.length === 0) return false;
    if (flags.length && !flags.every((f) => (r.flags ?? []).includes(f) || (named.length ? named : paths(r)).some((h) => (h.flags ?? []).includes(f)))) return false;
    if (e.nexthops !== undefined && !sameSet(paths(r), hops, samePath)) return false;
    return true;
  };
  const pass = routes.some(matches);
  const where = table === undefined ? 'main table' : `table ${table}`;
  return {
    pass,
    actual: routes.map(routeRow),
    expected: describe(entry),
    message: () =>
      pass
        ? `${hint(ns, 'toHaveRouteEntry', true, describe(entry))}\n\n${ns.name}'s table${table === undefined ? '' : ` ${table}`} has ${routeRow(routes.find(matches)!)}`
        : `${hint(ns, 'toHaveRouteEntry', false, describe(entry))}\n\n${ns.name}'s ${where} has no such route; it has:\n${bullet(routes.map(routeRow)) || '  (no routes)'}`,
  };
}

/** A route as the failure message lists it: destination, type, paths (weights, flags), metric, nexthop object, table. */
function routeRow(r: RouteInfo): string {
  const single = !r.nexthops?.length && r.flags?.length ? ` ${r.flags.join(' ')}` : '';
  return `${r.dst} ${describeRoute(r)}${single}${r.metric !== undefined ? ` metric ${r.metric}` : ''}${r.nhid !== undefined ? ` nhid ${r.nhid}` : ''}`;
}

/** Every expected path matches a different actual path, and there are as many. */
function sameSet(actual: Path[], expected: Path[], same: (a: Path, e: Path) => boolean): boolean {
  if (actual.length !== expected.length) return false;
  const used = new Set<number>();
  const assign = (i: number): boolean => {
    if (i === expected.length) return true;
    for (let j = 0; j < actual.length; j++) {
      if (used.has(j) || !same(actual[j]!, expected[i]!)) continue;
      used.add(j);
      if (assign(i + 1)) return true;
      used.delete(j);
    }
    return false;
  };
  return assign(0);
}

function checkPath(hop: unknown, input: string): Path {
  if (hop === null || typeof hop !== 'object' || Array.isArray(hop)) throw new InvalidInputError(input, hop, 'expected { via?, dev?, weight?, flags? }');
  const h = checkOptions<RouteEntryNexthop>(hop, input, { via: 'string', dev: 'string', weight: 'number', flags: 'array' });
  return {
    gateway: h.via === undefined ? undefined : parseAddress(h.via, `${input}.via`).address,
    dev: h.dev === undefined ? undefined : checkIfname(h.dev, `${input}.dev`),
    weight: h.weight === undefined ? undefined : wholeNumber(h.weight, `${input}.weight`, 1, 256),
    flags: checkFlags(h.flags, `${input}.flags`),
  };
}

function checkFlags(flags: unknown, input: string): string[] {
  if (flags === undefined) return [];
  if (!Array.isArray(flags) || flags.some((f) => typeof f !== 'string' || !/^[a-z]+$/.test(f))) throw new InvalidInputError(input, flags, 'expected an array of flag words such as ["dead", "linkdown"] or ["onlink"]');
  return flags as string[];
}

function canonicalPrefix(text: string): string {
  const p = parsePrefix(text.includes('/') ? text : `${text}/${text.includes(':') ? 128 : 32}`, 'route destination');
  const full = p.family === 4 ? 32 : 128;
  return p.prefixLength === full ? canonical(p.address) : `${canonical(p.address)}/${p.prefixLength}`;
}
