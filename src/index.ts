export { createLab, Lab, liveLabs, type LabOptions, type VethEnd, type VethPair, type KeptLab, type KindSpec, type Link, type LinkSpec, type MacvlanSpec, type VxlanSpec } from './lab.js';
export type { LinkAttrs, BridgePortFlags, PortVlan, MacvlanMode } from './link-options.js';
export { ROUTE_TYPES } from './steps/route.js';
export { RULE_ACTIONS } from './steps/ip-rule.js';
export { MACVLAN_MODES } from './link-options.js';
export {
  Netns,
  type NetnsScope,
  type NetnsWorld,
  type ExecOptions,
  type RouteOptions,
  type RouteDeleteOptions,
  type RouteNexthop,
  type RouteTable,
  type RouteType,
  type RouteGetOptions,
  type RouteLookup,
  type GlobalAddress,
  type NexthopOptions,
  type NexthopInfo,
  type RuleOptions,
  type RuleAction,
  type ShapeOptions,
  type NetemOptions,
  type LinkInfo,
  type AddrInfo,
  type RouteInfo,
  type NeighInfo,
} from './netns.js';
export { Bridge, type BridgeOptions, type AttachOptions, type Attachment, type PortOptions, type PortVlans } from './bridge.js';
export { Wan, type WanOptions } from './wan.js';
export {
  NetspecError,
  InvalidInputError,
  ConflictError,
  DuplicateNameError,
  NotFoundError,
  PrerequisiteError,
  LabGoneError,
  LabLimitError,
  CommandError,
  ProbeError,
} from './errors.js';
export { SkippedStepError, type Step, type StepKind, type Batcher } from './batch.js';
export type { RunResult, RunOptions } from './exec.js';
export type { LabShell, ShellCommand, ShellOutput } from './shell.js';
export { parseCidr, parseAddress, parsePrefix, contains, networkOfAddress, type Cidr, type Family } from './address.js';
export { reachability, ReachabilityMatrix, type PairResult, type ReachabilityOptions } from './reachability.js';
export { DISPOSITIONS, type Disposition } from './diagnose/index.js';
export {
  existingNamespaces,
  ExistingNamespaces,
  type ExistingTarget,
  type ExistingNamespacesOptions,
  attach,
  type AttachedWorld,
  type AttachTarget,
  type AttachModeOptions,
} from './attach.js';
export type { Scope, World, EveryResult } from './scope.js';
export type { HostNames } from './lab/inventory.js';
export { PacketCounter, ICMP_TYPES, ICMPV6_TYPES, type PacketFilter, type CounterOptions, type CounterValue, type CountHook, type IcmpType, type CtState, type NftFamily } from './counter.js';
export { serve, type ServeOptions, type Protocol, type Server } from './probe.js';
export type { IpRule } from './parse/ip.js';
export type { IptablesRuleset, IptablesRule, IptablesChain, IptablesOption } from './parse/iptables.js';
export type { NftRuleset, NftChain, NftRule, NftTable, NftExpr } from './parse/nft.js';
