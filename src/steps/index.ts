/**
 * Step builders, one file per kernel object (ARCHITECTURE.md, "Where to add…"): each takes checked input and returns
 * a Step without its target (`at(target, step)` places it). Handles, builders and fixtures build steps only here.
 */
export { at, type StepIn } from './step.js';
export { netnsAddStep, netnsDelArgv } from './netns.js';
export {
  vethStep,
  bridgeStep,
  linkUpStep,
  linkDownStep,
  linkSetStep,
  bridgePortStep,
  bridgePortFlagsStep,
  bridgeVlanStep,
  bridgeVlanDelStep,
  macStep,
  hairpinStep,
  macvlanStep,
  vxlanStep,
  linkKindStep,
  linkDelStep,
  linkDelArgv,
  type VethEndName,
  type VxlanWords,
  type KindWords,
} from './link.js';
export { addressStep } from './address.js';
export { routeStep, routeReplaceStep, routeDelStep, routeDestination, routeTable, ROUTE_TYPES, type RouteOptions, type RouteDeleteOptions, type RouteNexthop, type RouteTable, type RouteType } from './route.js';
export { sysctlStep, forwardingSteps, checkSysctlKey } from './sysctl.js';
export { policyStep, masqueradeStep, type Chain } from './rules.js';
export { tbfStep, netemStep, clearShapingSteps, type ShapeOptions, type NetemOptions } from './qdisc.js';
export { nexthopStep, nexthopDelStep, type NexthopOptions } from './nexthop.js';
export { ruleStep, RULE_ACTIONS, type RuleOptions, type RuleAction } from './ip-rule.js';
