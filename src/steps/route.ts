/** Route steps (`ip route …`): the one place routes are added and deleted. */
import { InvalidInputError } from '../errors.js';
import { parseAddress, parseCidr, parsePrefix, type Family } from '../address.js';
import { checkIfname } from '../names.js';
import { type StepIn, checkStepOptions } from './step.js';

/** Route types `ip route add TYPE …` takes; `blackhole`, `unreachable`, `prohibit` and `throw` need no gateway or device. */
export const ROUTE_TYPES = ['unicast', 'local', 'broadcast', 'multicast', 'anycast', 'blackhole', 'unreachable', 'prohibit', 'throw'] as const;
export type RouteType = (typeof ROUTE_TYPES)[number];
/** The types that lead nowhere: the kernel drops (blackhole) or refuses (unreachable, prohibit) or leaves the table (throw). */
const REJECT_TYPES: readonly string[] = ['blackhole', 'unreachable', 'prohibit', 'throw'];

/** A routing table: a number (1 … 2³²−1) or one of the names every kernel has. */
export type RouteTable = number | 'main' | 'local' | 'default';

/** One path of a multipath route (`nexthop via A dev X weight W`). */
export interface RouteNexthop {
  via?: string;
  dev?: string;
  /** 1 … 256 (the kernel's default is 1). */
  weight?: number;
  onlink?: boolean;
}

export interface RouteOptions {
  via?: string;
  dev?: string;
  /** The route's priority: of two routes to one prefix, the lower metric wins (IPv4's default is 0, IPv6's 1024). */
  metric?: number;
  /** `onlink`: the gateway is on the link even if no prefix says so. */
  onlink?: boolean;
  /** The table (`main` when not given); a number, or `main`, `local`, `default`. */
  table?: RouteTable;
  /** The route's type (`unicast` when not given); `blackhole`, `unreachable`, `prohibit`, `throw` take no via/dev. */
  type?: RouteType;
  /** The preferred source address of packets this route sends (`src`, shown as `prefsrc`). */
  src?: string;
  /** A multipath route: its paths, each with a gateway and/or device and a weight. */
  nexthops?: RouteNexthop[];
  /** The route uses a nexthop object (`ip nexthop add id N …`, see Netns.addNexthop) instead of via/dev/nexthops. */
  nhid?: number;
}

/** A route destination as iproute2 takes it: a canonical prefix, `default` (IPv4) or `::/0` (`default6`). */
export function routeDestination(destination: string): string {
  if (destination === 'default') return 'default';
  if (destination === 'default6') return '::/0';
  return parsePrefix(destination, 'route destination').text;
}

/** A table as iproute2 takes it: `main`, `local`, `default` or a whole number 1 … 2³²−1 (InvalidInputError otherwise). */
export function routeTable(value: unknown, input = 'table'): string {
  if (value === 'main' || value === 'local' || value === 'default') return value;
  if (typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= 0xffffffff) return String(value);
  if (typeof value === 'string' && /^\d{1,10}$/.test(value) && Number(value) >= 1 && Number(value) <= 0xffffffff) return String(Number(value));
  throw new InvalidInputError(input, value, 'expected a table number from 1 to 4294967295, or "main", "local" or "default"');
}

/** A whole number in [min, max], or an InvalidInputError naming the input. */
export function wholeNumber(value: unknown, input: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) throw new InvalidInputError(input, value, `expected a whole number from ${min} to ${max}`);
  return value;
}

/** `via GW` of a route to `family` (`undefined`: take the gateway's), checked; the family it makes the route. */
function gatewayWords(via: unknown, family: Family | undefined, destination: string, input = 'gateway (via)'): { words: string[]; family: Family } {
  const gw = parseAddress(via, input);
  if (family !== undefined && gw.family !== family) throw new InvalidInputError(input, via, `it is IPv${gw.family} but the destination ${destination} is IPv${family}`);
  return { words: ['via', gw.address], family: gw.family };
}

/**
 * `ip route add [TYPE] DEST [table T] [metric N] [src A] (via GW | dev DEV | onlink | nexthop … | nhid N)`, every input
 * checked (InvalidInputError naming it); nothing from the caller reaches ip's syntax unparsed.
 */
export function routeStep(destination: unknown, options: RouteOptions, intent?: string): StepIn {
  if (typeof destination !== 'string') throw new InvalidInputError('route destination', destination, 'expected a prefix such as "10.0.0.0/8" or "default"');
  let dst = routeDestination(destination);
  checkStepOptions(options, 'route', ['via', 'dev', 'metric', 'onlink', 'table', 'type', 'src', 'nexthops', 'nhid'], 'a route', 'expected an object such as { via: "192.168.15.3" }');
  // `default` is IPv4 until a gateway or source says IPv6
  let family: Family | undefined = dst === 'default' ? undefined : dst === '::/0' ? 6 : parseCidr(dst, 'route destination').family;
  const type = options.type ?? 'unicast';
  if (!(ROUTE_TYPES as readonly string[]).includes(type)) throw new InvalidInputError('route type', options.type, `expected one of ${ROUTE_TYPES.join(', ')}`);
  const reject = REJECT_TYPES.includes(type);
  const tail: string[] = [];
  if (options.table !== undefined) tail.push('table', routeTable(options.table));
  if (options.metric !== undefined) tail.push('metric', String(wholeNumber(options.metric, 'metric', 0, 0xffffffff)));
  if (options.src !== undefined) {
    const src = parseAddress(options.src, 'src (preferred source)');
    if (family !== undefined && src.family !== family) throw new InvalidInputError('src (preferred source)', options.src, `it is IPv${src.family} but the destination ${destination} is IPv${family}`);
    family = src.family;
    tail.push('src', src.address);
  }
  const paths = [options.via, options.dev, options.nexthops, options.nhid].filter((x) => x !== undefined).length;
  if (options.nhid !== undefined) {
    if (options.via !== undefined || options.dev !== undefined || options.nexthops !== undefined || options.onlink) {
      throw new InvalidInputError('route options', options, 'a route with a nexthop object (`nhid`) takes its gateway and device from the object: drop via, dev, nexthops and onlink');
    }
    tail.push('nhid', String(wholeNumber(options.nhid, 'nhid (nexthop id)', 1, 0xffffffff)));
  } else if (options.nexthops !== undefined) {
    if (options.via !== undefined || options.dev !== undefined || options.onlink) {
      throw new InvalidInputError('route options', options, 'a multipath route gives each path its own via/dev/onlink in `nexthops`: drop the top-level via, dev and onlink');
    }
    if (!Array.isArray(options.nexthops) || options.nexthops.length === 0) throw new InvalidInputError('nexthops', options.nexthops, 'expected a non-empty array such as [{ via: "10.1.0.1", weight: 2 }, { via: "10.2.0.1" }]');
    options.nexthops.forEach((hop: unknown, i) => {
      const input = `nexthops[${i}]`;
      if (hop === null || typeof hop !== 'object' || Array.isArray(hop)) throw new InvalidInputError(input, hop, 'expected { via?, dev?, weight?, onlink? }');
      const h = hop as Record<string, unknown>;
      for (const key of Object.keys(h)) if (!['via', 'dev', 'weight', 'onlink'].includes(key)) throw new InvalidInputError(`${input} option`, key, 'unknown option; a path takes via, dev, weight, onlink');
      if (h.via === undefined && h.dev === undefined) throw new InvalidInputError(input, hop, 'give the path a gateway (`via`), a device (`dev`), or both');
      tail.push('nexthop');
      if (h.via !== undefined) {
        const gw = gatewayWords(h.via, family, destination, `${input}.via`);
        family = gw.family;
        tail.push(...gw.words);
      }
      if (h.dev !== undefined) tail.push('dev', checkIfname(h.dev, `${input}.dev`));
      if (h.weight !== undefined) tail.push('weight', String(wholeNumber(h.weight, `${input}.weight`, 1, 256)));
      if (h.onlink !== undefined && typeof h.onlink !== 'boolean') throw new InvalidInputError(`${input}.onlink`, h.onlink, 'expected true or false');
      if (h.onlink) tail.push('onlink');
    });
  } else {
    if (options.via !== undefined) {
      const gw = gatewayWords(options.via, family, destination);
      family = gw.family;
      tail.push(...gw.words);
    }
    if (options.dev !== undefined) tail.push('dev', checkIfname(options.dev, 'device'));
    if (options.onlink !== undefined && typeof options.onlink !== 'boolean') throw new InvalidInputError('onlink', options.onlink, 'expected true or false');
    if (options.onlink) tail.push('onlink');
  }
  if (reject && (options.via !== undefined || options.nexthops !== undefined || options.nhid !== undefined)) {
    throw new InvalidInputError('route type', type, `a ${type} route has no next hop: drop via, nexthops and nhid (a device is allowed)`);
  }
  if (!reject && paths === 0) throw new InvalidInputError('route options', options, 'give a gateway (`via`), a device (`dev`), or both (or a multipath route\'s `nexthops`, or a nexthop object\'s `nhid`); only blackhole, unreachable, prohibit and throw routes take none');
  if (dst === 'default' && family === 6) dst = '::/0';
  const words = ['route', 'add', ...(options.type !== undefined && type !== 'unicast' ? [type] : []), dst, ...tail];
  const hop = options.nhid !== undefined ? ` nhid ${options.nhid}` : options.nexthops ? ` over ${options.nexthops.length} nexthops` : `${options.via ? ` via ${options.via}` : ''}${options.dev ? ` dev ${options.dev}` : ''}`;
  const what = `${type !== 'unicast' ? `${type} ` : ''}route ${destination}`;
  return { kind: 'ip', words, intent: intent ?? `add ${what}${hop}${options.table !== undefined ? ` (table ${options.table})` : ''}` };
}

/** `ip route replace DEST …`: the same checks as routeStep; the route is added, or changed where one is there. */
export function routeReplaceStep(destination: unknown, options: RouteOptions, intent?: string): StepIn {
  const step = routeStep(destination, options, intent);
  return { ...step, words: ['route', 'replace', ...step.words.slice(2)], intent: intent ?? step.intent.replace(/^add /, 'replace ') };
}

/** Which of several routes to one destination `deleteRoute` removes (the first the kernel finds when not given). */
export interface RouteDeleteOptions {
  table?: RouteTable;
  metric?: number;
  type?: RouteType;
  via?: string;
  dev?: string;
}

/** `ip route del [TYPE] DEST [table T] [metric N] [via GW] [dev DEV]` */
export function routeDelStep(destination: string, options: RouteDeleteOptions = {}): StepIn {
  checkStepOptions(options, 'route', ['table', 'metric', 'type', 'via', 'dev'], 'deleteRoute', 'expected an object such as { table: 100 }');
  let dst = routeDestination(destination);
  const words: string[] = [];
  if (options.type !== undefined) {
    if (!(ROUTE_TYPES as readonly string[]).includes(options.type)) throw new InvalidInputError('route type', options.type, `expected one of ${ROUTE_TYPES.join(', ')}`);
    words.push(options.type);
  }
  const tail: string[] = [];
  if (options.table !== undefined) tail.push('table', routeTable(options.table));
  if (options.metric !== undefined) tail.push('metric', String(wholeNumber(options.metric, 'metric', 0, 0xffffffff)));
  if (options.via !== undefined) {
    const gw = gatewayWords(options.via, dst === 'default' ? undefined : dst === '::/0' ? 6 : parseCidr(dst, 'route destination').family, destination);
    if (dst === 'default' && gw.family === 6) dst = '::/0';
    tail.push(...gw.words);
  }
  if (options.dev !== undefined) tail.push('dev', checkIfname(options.dev, 'device'));
  return { kind: 'ip', words: ['route', 'del', ...words, dst, ...tail], intent: `delete route ${destination}${options.table !== undefined ? ` (table ${options.table})` : ''}` };
}
