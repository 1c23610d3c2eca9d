/** `expect(ns).toRouteVia(destination, gateway?, { dev?, src?, from? })`: the kernel's route lookup (`ip route get`). */
import { InvalidInputError } from '../errors.js';
import { canonical, parseAddress } from '../address.js';
import { describeRoute } from '../diagnose.js';
import { checkIfname } from '../names.js';
import { checkOptions, describe, hint, receivedNetns, type MatcherContext, type MatcherResult } from './format.js';

export interface ToRouteViaOptions {
  dev?: string;
  /** The source address the kernel picks. */
  src?: string;
  /** Look the route up as if from this source address. */
  from?: string;
}

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
  const opts = checkOptions<ToRouteViaOptions>(options, 'toRouteVia', { dev: 'string', src: 'string', from: 'string' });
  if (opts.dev !== undefined) checkIfname(opts.dev, 'dev');
  if (opts.src !== undefined) parseAddress(opts.src, 'src');
  if (gateway === undefined && opts.dev === undefined && opts.src === undefined) {
    throw new InvalidInputError('toRouteVia', 'no gateway', 'give a gateway, or { dev } for an on-link route');
  }
  const route = await ns.routeGet(address, opts.from ? { from: parseAddress(opts.from, 'from').address } : {});
  const problems: string[] = [];
  if (!route) problems.push(`there is no route to ${address} (Network is unreachable)`);
  else {
    if (gateway !== undefined && (route.gateway === undefined || canonical(route.gateway) !== canonical(gateway))) {
      problems.push(route.gateway ? `the gateway is ${route.gateway}, not ${gateway}` : `the route is on-link (no gateway), not via ${gateway}`);
    }
    if (opts.dev !== undefined && route.dev !== opts.dev) problems.push(`the device is ${route.dev}, not ${opts.dev}`);
    if (opts.src !== undefined && (!route.prefsrc || canonical(route.prefsrc) !== canonical(opts.src))) problems.push(`the source address is ${route.prefsrc ?? 'none'}, not ${opts.src}`);
  }
  const pass = problems.length === 0;
  const args = [describe(destination), gateway ? describe(gateway) : undefined, options ? describe(options) : undefined].filter(Boolean).join(', ');
  const actual = route ? describeRoute(route) : 'no route';
  return {
    pass,
    actual,
    expected: [gateway ? `via ${gateway}` : '', opts.dev ? `dev ${opts.dev}` : '', opts.src ? `src ${opts.src}` : ''].filter(Boolean).join(' '),
    message: () =>
      pass
        ? `${hint(ns, 'toRouteVia', true, args)}\n\n${ns.name} routes ${address} ${actual} (ip route get ${address})`
        : `${hint(ns, 'toRouteVia', false, args)}\n\n${ns.name}: ${problems.join('; ')}\n  ip route get ${address} → ${actual}`,
  };
}
