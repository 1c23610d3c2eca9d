/** `expect(ns).toHaveRouteEntry({ destination, gateway?, dev?, table? })`: what is in the table (not what a lookup picks). */
import { InvalidInputError } from '../errors.js';
import { canonical, parseAddress, parsePrefix } from '../address.js';
import { checkIfname } from '../names.js';
import type { RouteInfo } from '../netns.js';
import { describeRoute } from '../diagnose.js';
import { bullet, checkOptions, describe, hint, receivedNetns, type MatcherContext, type MatcherResult } from './format.js';

export interface RouteEntry {
  /** A prefix, or `default`. */
  destination: string;
  gateway?: string;
  dev?: string;
  table?: string;
}

export async function toHaveRouteEntry(this: MatcherContext, received: unknown, entry: unknown): Promise<MatcherResult> {
  const ns = receivedNetns(received, 'toHaveRouteEntry');
  if (entry === null || typeof entry !== 'object') throw new InvalidInputError('route entry', entry, 'expected { destination, gateway?, dev?, table? }');
  const e = checkOptions<RouteEntry>(entry, 'toHaveRouteEntry', { destination: 'string', gateway: 'string', dev: 'string', table: 'string' });
  if (e.destination === undefined) throw new InvalidInputError('route entry destination', undefined, 'give a prefix such as "192.168.15.0/24" or "default"');
  const six = e.destination === 'default6' || e.destination.includes(':') || (e.gateway?.includes(':') ?? false);
  const dst = e.destination === 'default' || e.destination === 'default6' ? 'default' : canonicalPrefix(e.destination);
  const gateway = e.gateway === undefined ? undefined : parseAddress(e.gateway, 'gateway').address;
  if (e.dev !== undefined) checkIfname(e.dev, 'dev');
  if (e.table !== undefined && !/^[A-Za-z0-9_]+$/.test(e.table)) throw new InvalidInputError('table', e.table, 'expected a table name or number');
  const routes = await ns.routes({ family: six ? 6 : 4, table: e.table });
  const matches = (r: RouteInfo) =>
    (r.dst === dst || (r.dst !== 'default' && dst !== 'default' && canonicalPrefix(r.dst) === dst)) &&
    // one path of the route (a multipath route's nexthops each count) has the gateway and the device
    [{ gateway: r.gateway, dev: r.dev }, ...(r.nexthops ?? [])].some(
      (h) => (gateway === undefined || (h.gateway !== undefined && canonical(h.gateway) === canonical(gateway))) && (e.dev === undefined || h.dev === e.dev),
    );
  const pass = routes.some(matches);
  const row = (r: RouteInfo) => `${r.dst} ${describeRoute(r)}`;
  return {
    pass,
    actual: routes.map(row),
    expected: describe(entry),
    message: () =>
      pass
        ? `${hint(ns, 'toHaveRouteEntry', true, describe(entry))}\n\n${ns.name}'s table has ${row(routes.find(matches)!)}`
        : `${hint(ns, 'toHaveRouteEntry', false, describe(entry))}\n\n${ns.name}'s ${e.table ? `table ${e.table}` : 'main table'} has no such route; it has:\n${bullet(routes.map(row)) || '  (no routes)'}`,
  };
}

function canonicalPrefix(text: string): string {
  const p = parsePrefix(text.includes('/') ? text : `${text}/${text.includes(':') ? 128 : 32}`, 'route destination');
  const full = p.family === 4 ? 32 : 128;
  return p.prefixLength === full ? canonical(p.address) : `${canonical(p.address)}/${p.prefixLength}`;
}
