/**
 * netspec's matchers as plain functions (`netspec/matchers`), for `expect.extend` in any Vitest or Jest set-up. Importing
 * this module alone also brings their types to Vitest's `expect` (the `declare module 'vitest'` block below).
 */
import { toReach, DEFAULT_NOT_WINDOW_MS, DEFAULT_REACH_TIMEOUT_MS, type ToReachOptions } from './to-reach.js';
import { learnerHeadline, MAX_MS, type MatcherContext, type MatcherResult } from './format.js';
import { escapeControlInText } from '../errors.js';
import { toHaveArpEntry, type ToHaveArpEntryOptions } from './to-have-arp-entry.js';
import { toRouteVia, type ToRouteViaOptions } from './to-route-via.js';
import { toHaveAddress } from './to-have-address.js';
import { SETTLE_MS, toHaveLink, type ToHaveLinkOptions } from './to-have-link.js';
import { toForward } from './to-forward.js';
import { toHaveRouteEntry, type RouteEntry } from './to-have-route-entry.js';
import { toHaveRule, type ToHaveRuleOptions } from './to-have-rule.js';
import { toHaveReachability, type ReachabilityExpectation } from './to-have-reachability.js';
import { toCount, DEFAULT_COUNT_TIMEOUT_MS, type ToCountOptions } from './to-count.js';
import { toLandOn, type ToLandOnOptions } from './to-land-on.js';
import { toReachOnly, toReachAny, type AllowedPort, type ExposureOptions, type ToReachOnlyOptions } from './to-reach-only.js';
import type { Netns } from '../netns.js';

export { toReach, toReachOnly, toReachAny, toHaveArpEntry, toRouteVia, toHaveAddress, toHaveLink, toForward, toHaveRouteEntry, toHaveRule, toHaveReachability, toCount, toLandOn };
export type { ToCountOptions } from './to-count.js';
export type { ToLandOnOptions } from './to-land-on.js';
export type { ReachabilityExpectation } from './to-have-reachability.js';
export type { ToReachOptions } from './to-reach.js';
export type { AllowedPort, ExposureOptions, ToReachOnlyOptions } from './to-reach-only.js';
export type { ToHaveArpEntryOptions, NudState } from './to-have-arp-entry.js';
export type { ToRouteViaOptions } from './to-route-via.js';
export type { ToHaveLinkOptions } from './to-have-link.js';
export type { RouteEntry, RouteEntryNexthop } from './to-have-route-entry.js';
export type { ToHaveRuleOptions } from './to-have-rule.js';
export type { MatcherResult, MatcherContext, Evidence } from './format.js';
export type { FailedPath } from '../graph.js';
export type { NamespaceState } from '../state.js';

/**
 * A matcher whose message has every control character but its own line breaks escaped: link names, aliases and rule
 * comments come from the kernel, and a raw ESC in them must never reach a terminal, a report or a JUnit file.
 */
function escaped<A extends unknown[]>(matcher: (this: MatcherContext, received: unknown, ...args: A) => Promise<MatcherResult>) {
  return async function (this: MatcherContext, received: unknown, ...args: A): Promise<MatcherResult> {
    const result = await matcher.call(this, received, ...args);
    const message = result.message;
    const learner = this?.audience === 'learner';
    return { ...result, message: () => escapeControlInText(learner ? learnerHeadline(message()) : message()) };
  };
}

export const matchers = {
  toReach: escaped(toReach),
  toReachOnly: escaped(toReachOnly),
  toReachAny: escaped(toReachAny),
  toHaveArpEntry: escaped(toHaveArpEntry),
  toRouteVia: escaped(toRouteVia),
  toHaveAddress: escaped(toHaveAddress),
  toHaveLink: escaped(toHaveLink),
  toForward: escaped(toForward),
  toHaveRouteEntry: escaped(toHaveRouteEntry),
  toHaveRule: escaped(toHaveRule),
  toHaveReachability: escaped(toHaveReachability),
  toCount: escaped(toCount),
  toLandOn: escaped(toLandOn),
};

// Every netspec matcher is async: un-awaited, it would check nothing, so the type is Promise<void> and
// `no-floating-promises` (or tsc with a spec that uses the value) catches a missing `await`.
declare module 'vitest' {
  interface Matchers<T = any> {
    /** Real packets from inside the namespace reach the target (an address, a namespace, or `{ address, port }`). */
    toReach(target: string | Netns | { address: string; port?: number }, options?: ToReachOptions): Promise<void>;
    /**
     * Every port of the target swept with real packets: the allowed ports (`[{ port: 443 }, { port: '1000-2000' }, { port: 53,
     * protocol: 'udp' }]`) are reached, and no other port of the protocols they name (README, "Exposure").
     */
    toReachOnly(target: string | Netns | { address: string }, allowed: readonly (AllowedPort | number)[], options?: ToReachOnlyOptions): Promise<void>;
    /** Some port of the target is reached (`.not`: none is, over all 65,535 ports; TCP unless `protocol` says otherwise). */
    toReachAny(target: string | Netns | { address: string }, options?: ExposureOptions): Promise<void>;
    /** The namespace's neighbor (ARP/ND) table has a resolved entry for the address. */
    toHaveArpEntry(ip: string, options?: ToHaveArpEntryOptions): Promise<void>;
    /** The kernel's route lookup for the destination goes through the gateway (`ip route get`). */
    toRouteVia(destination: string, gateway: string, options?: ToRouteViaOptions): Promise<void>;
    toRouteVia(destination: string, options: ToRouteViaOptions): Promise<void>;
    /** The namespace has the address (with prefix when given as CIDR). */
    toHaveAddress(cidr: string, options?: { dev?: string }): Promise<void>;
    /** The namespace has the link, optionally in a state, enslaved to a master, of a type. */
    toHaveLink(name: string, options?: ToHaveLinkOptions): Promise<void>;
    /** IP forwarding is on in the namespace. */
    toForward(options?: { ipv6?: boolean }): Promise<void>;
    /** The routing table has the entry (as opposed to what a lookup picks). */
    toHaveRouteEntry(entry: RouteEntry): Promise<void>;
    /** The namespace has the policy routing rule (`ip rule show`): every field given matches one rule. */
    toHaveRule(rule: ToHaveRuleOptions): Promise<void>;
    /** On a lab: every pair ('all') or the given pairs reach (true) or do not (false); one fping per source. */
    toHaveReachability(expected: ReachabilityExpectation, options?: { timeout?: number }): Promise<void>;
    /** On a counter from `ns.counter(filter)`: it counted packets within the bounds (`{ exactly }`, `{ atLeast, atMost }`). */
    toCount(bounds: ToCountOptions): Promise<void>;
    /** A TCP/UDP probe from the namespace to `target` is delivered in `ns` (after every NAT), as netspec's landing watch saw. */
    toLandOn(ns: Netns, target: string | Netns | { address: string; port?: number }, options?: ToLandOnOptions): Promise<void>;
  }
}

/** How long, at most, a failing assertion explains itself after its deadline (a traced probe and the state, in ms). */
export const EXPLAIN_MS = 2_000;

/**
 * How long a matcher keeps probing or polling before it decides, in ms, from its name and arguments (undefined: it
 * decides at once). The Vitest fixture compares it with the time the test has left (a test timeout that cuts a matcher
 * off replaces its diagnosis with "Test timed out").
 */
export function deadlineMs(matcher: string, isNot: boolean, args: readonly unknown[]): number | undefined {
  const option = (at: number, key: string): number | undefined => {
    const o = args[at];
    const v = o !== null && typeof o === 'object' ? (o as Record<string, unknown>)[key] : undefined;
    // a value the matcher will refuse (an InvalidInputError at once) decides nothing: no warning about it
    return typeof v === 'number' && Number.isFinite(v) && v > 0 && v <= MAX_MS ? v : undefined;
  };
  switch (matcher) {
    case 'toReach': {
      if (!isNot) return option(1, 'timeout') ?? DEFAULT_REACH_TIMEOUT_MS;
      const window = option(1, 'window') ?? DEFAULT_NOT_WINDOW_MS;
      return window + Math.max(200, Math.round(window / 4)); // the window, and the grace for late answers (src/probe.ts)
    }
    case 'toReachOnly':
    case 'toReachAny':
      // a sweep of every port takes seconds, and a failure explains a few runs of ports with traced probes
      return 10_000;
    case 'toHaveArpEntry':
      return isNot ? undefined : (option(1, 'timeout') ?? 1000);
    case 'toHaveReachability':
      return option(1, 'timeout') ?? 1000;
    case 'toCount':
      return option(0, 'timeout') ?? DEFAULT_COUNT_TIMEOUT_MS;
    case 'toLandOn':
      return option(2, 'timeout') ?? DEFAULT_REACH_TIMEOUT_MS;
    case 'toHaveLink': {
      const wait = isNot ? option(1, 'timeout') : (option(1, 'timeout') ?? 1000);
      // a .not about a state other than UP may wait for the kernel to settle the operstate (src/matchers/to-have-link.ts)
      const state = (args[1] as { state?: unknown } | undefined)?.state;
      const settle = isNot && typeof state === 'string' && state !== 'UP' ? SETTLE_MS : 0;
      return wait === undefined && settle === 0 ? undefined : (wait ?? 0) + settle;
    }
    default:
      return undefined;
  }
}
