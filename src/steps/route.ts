/** Route steps (`ip route …`): the one place routes are added and deleted. */
import { InvalidInputError } from '../errors.js';
import { parseAddress, parseCidr, parsePrefix } from '../address.js';
import { checkIfname } from '../names.js';
import type { StepIn } from './step.js';

export interface RouteOptions {
  via?: string;
  dev?: string;
  metric?: number;
  /** `onlink`: the gateway is on the link even if no prefix says so. */
  onlink?: boolean;
}

/** A route destination as iproute2 takes it: a canonical prefix, `default` (IPv4) or `::/0` (`default6`). */
export function routeDestination(destination: string): string {
  if (destination === 'default') return 'default';
  if (destination === 'default6') return '::/0';
  return parsePrefix(destination, 'route destination').text;
}

/** `ip route add DEST [via GW] [dev DEV] [metric N] [onlink]`, every input checked (InvalidInputError). */
export function routeStep(destination: unknown, options: RouteOptions, intent?: string): StepIn {
  if (typeof destination !== 'string') throw new InvalidInputError('route destination', destination, 'expected a prefix such as "10.0.0.0/8" or "default"');
  const dst = routeDestination(destination);
  if (options === null || typeof options !== 'object') throw new InvalidInputError('route options', options, 'expected an object such as { via: "192.168.15.3" }');
  const words = ['route', 'add', dst];
  let family = dst === 'default' ? 4 : dst === '::/0' ? 6 : parseCidr(dst, 'route destination').family;
  if (options.via !== undefined) {
    const via = parseAddress(options.via, 'gateway (via)');
    if (dst === 'default' && via.family === 6) {
      words[2] = '::/0';
      family = 6;
    }
    if (via.family !== family) throw new InvalidInputError('gateway (via)', options.via, `it is IPv${via.family} but the destination ${destination} is IPv${family}`);
    words.push('via', via.address);
  }
  if (options.dev !== undefined) words.push('dev', checkIfname(options.dev, 'device'));
  if (options.via === undefined && options.dev === undefined) {
    throw new InvalidInputError('route options', options, 'give a gateway (`via`), a device (`dev`), or both');
  }
  if (options.metric !== undefined) {
    if (!Number.isInteger(options.metric) || options.metric < 0) throw new InvalidInputError('metric', options.metric, 'expected a whole number ≥ 0');
    words.push('metric', String(options.metric));
  }
  if (options.onlink) words.push('onlink');
  return { kind: 'ip', words, intent: intent ?? `add route ${destination}${options.via ? ` via ${options.via}` : ''}${options.dev ? ` dev ${options.dev}` : ''}` };
}

/** `ip route replace DEST …`: the same checks as routeStep; the route is added, or changed where one is there. */
export function routeReplaceStep(destination: unknown, options: RouteOptions, intent?: string): StepIn {
  const step = routeStep(destination, options, intent);
  return { ...step, words: ['route', 'replace', ...step.words.slice(2)], intent: intent ?? step.intent.replace(/^add route/, 'replace route') };
}

/** `ip route del DEST` */
export function routeDelStep(destination: string): StepIn {
  return { kind: 'ip', words: ['route', 'del', routeDestination(destination)], intent: `delete route ${destination}` };
}
