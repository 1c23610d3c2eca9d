/** netspec's matchers as plain functions (`netspec/matchers`), for `expect.extend` in any Vitest or Jest set-up. */
import { toReach } from './to-reach.js';
import { toHaveArpEntry } from './to-have-arp-entry.js';
import { toRouteVia } from './to-route-via.js';
import { toHaveAddress } from './to-have-address.js';
import { toHaveLink } from './to-have-link.js';
import { toForward } from './to-forward.js';
import { toHaveRouteEntry } from './to-have-route-entry.js';
import { toHaveReachability } from './to-have-reachability.js';

export { toReach, toHaveArpEntry, toRouteVia, toHaveAddress, toHaveLink, toForward, toHaveRouteEntry, toHaveReachability };
export type { ReachabilityExpectation } from './to-have-reachability.js';
export type { ToReachOptions } from './to-reach.js';
export type { ToHaveArpEntryOptions, NudState } from './to-have-arp-entry.js';
export type { ToRouteViaOptions } from './to-route-via.js';
export type { ToHaveLinkOptions } from './to-have-link.js';
export type { RouteEntry } from './to-have-route-entry.js';
export type { MatcherResult, MatcherContext } from './format.js';

export const matchers = { toReach, toHaveArpEntry, toRouteVia, toHaveAddress, toHaveLink, toForward, toHaveRouteEntry, toHaveReachability };
