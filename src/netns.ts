/** A network namespace of a lab (or the lab's host): run commands in it, configure it, read its state as JSON. */
import { CommandError, InvalidInputError, NotFoundError, PrerequisiteError } from './errors.js';
import type { RunOptions, RunResult } from './exec.js';
import { parseAddress, parseCidr } from './address.js';
import { checkIfname } from './names.js';
import type { Step } from './batch.js';
import { addressStep } from './steps/address.js';
import { linkDownStep, linkSetStep, linkUpStep } from './steps/link.js';
import { checkLinkAttrs, type LinkAttrs } from './link-options.js';
import { routeDelStep, routeReplaceStep, routeStep, routeTable, wholeNumber, type RouteDeleteOptions, type RouteOptions } from './steps/route.js';
import { nexthopDelStep, nexthopStep, type NexthopOptions } from './steps/nexthop.js';
import { ruleStep, type RuleOptions } from './steps/ip-rule.js';
import { masqueradeStep, policyStep } from './steps/rules.js';
import { clearShapingSteps, netemStep, tbfStep, type NetemOptions, type ShapeOptions } from './steps/qdisc.js';
import { checkStepOptions } from './steps/step.js';
import { checkSysctlKey, forwardingSteps, sysctlStep } from './steps/sysctl.js';
import { createCounter, ownCounter, type CounterOptions, type NftFamily, type PacketCounter, type PacketFilter } from './counter.js';
import { firstArray, parseIpRules, parseNexthops, parseRoutes, type AddrInfo, type IpRule, type LinkInfo, type NeighInfo, type NexthopInfo, type RouteInfo } from './parse/ip.js';

export type { RouteOptions, RouteDeleteOptions, RouteNexthop, RouteTable, RouteType } from './steps/route.js';
export type { NexthopOptions } from './steps/nexthop.js';
export type { RuleOptions, RuleAction } from './steps/ip-rule.js';
export type { ShapeOptions, NetemOptions } from './steps/qdisc.js';

/** What `ip route get` is asked: the lookup of a packet from `from`, in on `iif`, out on `oif`, with firewall mark `mark`. */
export interface RouteGetOptions {
  from?: string;
  /** The interface the packet came in on (a forward lookup: the kernel wants `from` with it, and forwarding on). */
  iif?: string;
  /** The interface the packet must leave by (a socket bound to it). */
  oif?: string;
  /** The packet's firewall mark (fwmark rules see it). */
  mark?: number;
  /** Return the FIB entry the lookup matched (its prefix, its nexthops) instead of the resolved route. */
  fibmatch?: boolean;
}

/** The answer of `ip route get`: the route, or the kernel's refusal (`No route to host`, `Invalid argument`, …). */
export interface RouteLookup {
  route?: RouteInfo;
  /** The kernel's words when it refused the lookup (ip's stderr, without "RTNETLINK answers: "). */
  refusal?: string;
  /**
   * What the refusal means, from the kernel's errno (an output lookup, without `iif`): `blackhole` (EINVAL: a blackhole
   * route or rule), `unreachable` (EHOSTUNREACH: an unreachable route), `prohibit` (EACCES), `none` (ENETUNREACH: no
   * route at all, or an `unreachable` rule). `ip route get fibmatch` refuses these too, so the errno is all there is.
   */
  refusedBy?: 'blackhole' | 'unreachable' | 'prohibit' | 'none';
  /** The command, as `ip route get …` words, for messages. */
  command: string;
}

const REFUSALS: Record<string, RouteLookup['refusedBy']> = {
  'Invalid argument': 'blackhole',
  'No route to host': 'unreachable',
  'Permission denied': 'prohibit',
  'Network is unreachable': 'none',
};

export interface ExecOptions {
  /** Resolve with the result instead of throwing when the command exits non-zero. */
  reject?: boolean;
  input?: string;
  timeoutMs?: number;
  /** What this command is for, used in the error message. */
  intent?: string;
}

export type { AddrInfo, IpRule, LinkInfo, NeighInfo, NexthopInfo, RouteInfo } from './parse/ip.js';

/**
 * The world a namespace handle lives in: a lab, or an attachment. What the handle itself uses is declared here; the
 * rest is src/scope.ts's Scope, which that file merges into this interface (`declare module`), so that netns.ts and
 * scope.ts do not import each other: `ns.lab` is a whole Scope.
 */
export interface NetnsScope {
  readonly id: number | string;
  run(target: string, argv: readonly string[], options: RunOptions): Promise<RunResult>;
  apply(steps: readonly Step[]): Promise<void>;
}

export class Netns {
  constructor(
    /** The lab (or attachment) this namespace belongs to. */
    readonly lab: NetnsScope,
    /** `host` for the lab's own namespace, else the name under the lab's /run/netns. */
    readonly name: string,
  ) {}

  /** The identity of the namespace this handle was made for (see Scope.identityOf); set by the lab. */
  identity?: number;

  get isHost(): boolean {
    return this.name === 'host';
  }

  toString(): string {
    return this.isHost ? `the host of lab ${this.lab.id}` : `namespace ${this.name} of lab ${this.lab.id}`;
  }

  /** Run a command inside this namespace (argv, no shell). Throws CommandError on a non-zero exit unless `reject: false`. */
  async exec(command: string, args: readonly string[] = [], options: ExecOptions = {}): Promise<RunResult> {
    if (typeof command !== 'string' || !command) throw new InvalidInputError('command', command, 'expected the name of a program, e.g. "ping"');
    if (!Array.isArray(args) || args.some((a) => typeof a !== 'string')) {
      throw new InvalidInputError('arguments', args, 'expected an array of strings, e.g. ["-c1", "192.168.15.2"]');
    }
    return this.lab.run(this.name, [command, ...args], {
      intent: options.intent ?? `run ${command}`,
      reject: options.reject,
      input: options.input,
      timeoutMs: options.timeoutMs,
    });
  }

  /** `ip -j ARGS` in this namespace, parsed. */
  async ipJson<T = unknown>(args: readonly string[], intent = `read ${args[0]}`): Promise<T> {
    const result = await this.lab.run(this.name, ['ip', '-j', ...args], { intent });
    return firstArray(result.stdout, `${this.name}$ ip -j ${args.join(' ')}`) as T;
  }

  // --- configuration (batched: calls made in the same tick share processes) ---

  /** Queue raw batch steps in this namespace. */
  async apply(steps: readonly Omit<Step, 'target'>[]): Promise<void> {
    return this.lab.apply(steps.map((s) => ({ ...s, target: this.name })));
  }

  /**
   * `ip addr add CIDR dev DEV`. An IPv6 address skips duplicate address detection (`nodad`) unless `{ nodad: false }`:
   * it is usable at once, not tentative for a second or so.
   */
  async addAddress(cidr: string, dev: string, options: { nodad?: boolean } = {}): Promise<void> {
    const c = parseCidr(cidr, 'address');
    checkIfname(dev, 'device');
    if (options === null || typeof options !== 'object') throw new InvalidInputError('address options', options, 'expected an object such as { nodad: false }');
    checkStepOptions(options, 'address', ['nodad'], 'addAddress');
    if (options.nodad !== undefined && typeof options.nodad !== 'boolean') throw new InvalidInputError('nodad', options.nodad, 'expected true or false');
    return this.apply([addressStep(c, dev, undefined, options)]);
  }

  /** `ip link set dev DEV [mtu N] [address MAC] [up|down]`: an existing link's MTU, MAC and admin state. */
  async setLink(dev: string, options: LinkAttrs & { up?: boolean }): Promise<void> {
    checkIfname(dev, 'device');
    if (options === null || typeof options !== 'object') throw new InvalidInputError('link options', options, 'expected an object such as { mtu: 1400, mac: "02:00:00:00:00:01", up: true }');
    checkStepOptions(options, 'link', ['mtu', 'mac', 'up'], 'setLink');
    const attrs = checkLinkAttrs(options, 'link');
    if (options.up !== undefined && typeof options.up !== 'boolean') throw new InvalidInputError('link up', options.up, 'expected true or false');
    if (attrs.mtu === undefined && attrs.mac === undefined && options.up === undefined) throw new InvalidInputError('link options', options, 'nothing to set: give mtu, mac or up');
    return this.apply([linkSetStep(dev, { ...attrs, up: options.up })]);
  }

  /** `ip link set dev DEV up` */
  async up(dev: string): Promise<void> {
    checkIfname(dev, 'device');
    return this.apply([linkUpStep(dev)]);
  }

  /** `ip link set dev DEV down` */
  async down(dev: string): Promise<void> {
    checkIfname(dev, 'device');
    return this.apply([linkDownStep(dev)]);
  }

  /**
   * `ip route add [TYPE] DEST [table T] [metric N] [src A] (via GW | dev DEV | nexthops | nhid N)`; DEST is a prefix or
   * `default` (IPv4; `default6` for IPv6). A route that is there already (same destination, table, metric, type) is a
   * ConflictError, as the kernel refuses it (EEXIST); `replaceRoute` changes it instead.
   */
  async addRoute(destination: string, options: RouteOptions = {}): Promise<void> {
    return this.apply([routeStep(destination, options)]);
  }

  /** `ip route replace …`: the same options as addRoute; adds the route, or changes the one to DEST (same table, metric). */
  async replaceRoute(destination: string, options: RouteOptions = {}): Promise<void> {
    return this.apply([routeReplaceStep(destination, options)]);
  }

  /** `ip route del DEST [table T] [metric N] [type] [via GW] [dev DEV]`: the options pick one of several routes to DEST. */
  async deleteRoute(destination: string, options: RouteDeleteOptions = {}): Promise<void> {
    return this.apply([routeDelStep(destination, options)]);
  }

  /** `ip nexthop add id N (via GW dev DEV | blackhole | group A,W/B)`: a nexthop object routes use with `{ nhid: N }`. */
  async addNexthop(options: NexthopOptions): Promise<void> {
    return this.apply([nexthopStep(options)]);
  }

  /** `ip nexthop del id N` (routes using it go with it). */
  async deleteNexthop(id: number): Promise<void> {
    return this.apply([nexthopDelStep(id)]);
  }

  /** `ip rule add [from P] [to P] [iif I] [oif O] [fwmark M] [priority N] table T` (or an action): policy routing. */
  async addRule(options: RuleOptions): Promise<void> {
    return this.apply([ruleStep('add', options)]);
  }

  /** `ip rule del …`: the first rule that matches every option given. */
  async deleteRule(options: RuleOptions): Promise<void> {
    return this.apply([ruleStep('del', options)]);
  }

  /** `sysctl -w KEY=VALUE` in this namespace (only `net.*` keys: the rest are not per-namespace). */
  async sysctl(key: string, value: string | number): Promise<void> {
    const step = sysctlStep(key, value);
    // the kernel shows net.ipv6.route.* only in network namespaces of the machine's own user namespace
    if (/^net\.ipv6\.route\./.test(key) && (this.lab as { userns?: unknown }).userns === true) {
      throw new PrerequisiteError(
        `the sysctl ${key} in a user-namespace lab`,
        "the kernel shows net.ipv6.route.* only in network namespaces of the machine's own user namespace; a full-privilege lab has it: createLab({ privileged: true }) (root only; the lab's root is then the machine's, so for code you trust), or test.scoped({ labOptions: { privileged: true } })",
      );
    }
    return this.apply([step]);
  }

  /** IP forwarding (`net.ipv4.ip_forward`, and `net.ipv6.conf.all.forwarding` with `{ ipv6: true }`). */
  async forwarding(on = true, options: { ipv6?: boolean } = {}): Promise<void> {
    return this.apply(forwardingSteps(on, options.ipv6));
  }

  /** `iptables --policy CHAIN TARGET` (filter table). */
  async policy(chain: 'INPUT' | 'FORWARD' | 'OUTPUT', target: 'ACCEPT' | 'DROP', options: { ipv6?: boolean } = {}): Promise<void> {
    return this.apply([policyStep(chain, target, options.ipv6)]);
  }

  /** `iptables -t nat -A POSTROUTING -s SOURCE [-o OUT] -j MASQUERADE` */
  async masquerade(source: string, options: { out?: string } = {}): Promise<void> {
    return this.apply([masqueradeStep(source, options.out)]);
  }

  /**
   * A rate limit on what DEV sends (`tc qdisc replace dev DEV root tbf …`): `{ rate: '1mbit' }`, with `burst` and
   * `latency` if the defaults do not fit. Egress only: to limit both directions, shape both ends of the link. Replaces
   * any shaping of DEV (a netem on it included).
   */
  async shape(dev: string, options: ShapeOptions): Promise<void> {
    return this.apply([tbfStep(dev, options)]);
  }

  /**
   * Delay, jitter and loss on what DEV sends (`tc qdisc replace dev DEV root netem …`). Replaces any shaping of DEV.
   * A kernel without netem refuses it: a PrerequisiteError naming `sch_netem` and how to get it.
   */
  async netem(dev: string, options: NetemOptions): Promise<void> {
    return this.apply([netemStep(dev, options)]);
  }

  /** Take the shaping (shape, netem) off DEV: back to its default qdisc. Clearing a device that has none is no error. */
  async clearShaping(dev: string): Promise<void> {
    return this.apply(clearShapingSteps(dev));
  }

  /**
   * Count packets at a point of this namespace (nft named counter in a table of netspec's own): those matching
   * `filter` (protocol, src/dst, ports, iif/oif, ICMP type) at `options.hook` (default prerouting and output: every
   * packet that arrives here or is sent from here, once). Assert with `await expect(counter).toCount({ exactly: 1 })`.
   */
  async counter(filter: PacketFilter = {}, options: CounterOptions = {}): Promise<PacketCounter> {
    return createCounter(this, filter, options);
  }

  /**
   * A named counter of this namespace's own nftables ruleset (`counter NAME { }` in table TABLE, family `inet` unless
   * given), for `expect(counter).toCount(…)`: where a spec's own firewall counts, the spec checks that counter.
   */
  async nftCounter(table: string, name: string, options: { family?: NftFamily } = {}): Promise<PacketCounter> {
    return ownCounter(this, table, name, options);
  }

  /** Run `iptables ARGS` here (argv, not batched). */
  async iptables(args: readonly string[], options: { ipv6?: boolean } = {}): Promise<RunResult> {
    const tool = options.ipv6 ? 'ip6tables' : 'iptables';
    return this.exec(tool, args, { intent: `${tool} ${args.join(' ')}` });
  }

  // --- state, read live from the kernel ---

  /** `ip -j -d link show` */
  links(): Promise<LinkInfo[]> {
    return this.ipJson<LinkInfo[]>(['-d', 'link', 'show'], 'list links');
  }

  /** `ip -j addr show` */
  addresses(): Promise<AddrInfo[]> {
    return this.ipJson<AddrInfo[]>(['addr', 'show'], 'list addresses');
  }

  /** `ip -j route show [table T]` (IPv4; `{ family: 6 }` for IPv6); `table: 'all'` lists every table. */
  async routes(options: { family?: 4 | 6; table?: string | number } = {}): Promise<RouteInfo[]> {
    const args = [options.family === 6 ? '-6' : '-4', 'route', 'show'];
    if (options.table !== undefined) args.push('table', options.table === 'all' ? 'all' : routeTable(options.table));
    return parseRoutes((await this.lab.run(this.name, ['ip', '-j', ...args], { intent: 'list routes' })).stdout, `${this.name}$ ip -j ${args.join(' ')}`);
  }

  /** `ip -j nexthop show`: the nexthop objects (the kernel removes one whose device goes down or loses its carrier). */
  async nexthops(): Promise<NexthopInfo[]> {
    return parseNexthops((await this.lab.run(this.name, ['ip', '-j', 'nexthop', 'show'], { intent: 'list nexthops' })).stdout, `${this.name}$ ip -j nexthop show`);
  }

  /** `ip -j rule show` (IPv4; `{ family: 6 }` for IPv6): the policy rules, lowest priority first. */
  async rules(options: { family?: 4 | 6 } = {}): Promise<IpRule[]> {
    const args = ['-j', options.family === 6 ? '-6' : '-4', 'rule', 'show'];
    return parseIpRules((await this.lab.run(this.name, ['ip', ...args], { intent: 'list policy rules' })).stdout, `${this.name}$ ip ${args.join(' ')}`);
  }

  /** `ip -j route get DEST [from SRC] [iif I] [oif O] [mark M]`: the route, or undefined when the kernel has none. */
  async routeGet(destination: string, options: RouteGetOptions = {}): Promise<RouteInfo | undefined> {
    return (await this.lookupRoute(destination, options)).route;
  }

  /** `ip -j route get [fibmatch] DEST …`, with the kernel's refusal when there is no route (a blackhole's `Invalid argument`). */
  async lookupRoute(destination: string, options: RouteGetOptions = {}): Promise<RouteLookup> {
    const { address, family } = parseAddress(destination, 'destination');
    const args = ['route', 'get', ...(options.fibmatch ? ['fibmatch'] : []), address];
    if (options.from !== undefined) {
      const from = parseAddress(options.from, 'from');
      if (from.family !== family) throw new InvalidInputError('from', options.from, `it is IPv${from.family} but the destination ${address} is IPv${family}`);
      args.push('from', from.address);
    }
    if (options.iif !== undefined) {
      if (options.from === undefined) throw new InvalidInputError('iif', options.iif, 'a lookup for a packet coming in on an interface needs its source address: give `from` too');
      args.push('iif', checkIfname(options.iif, 'iif'));
    }
    if (options.oif !== undefined) args.push('oif', checkIfname(options.oif, 'oif'));
    if (options.mark !== undefined) args.push('mark', String(wholeNumber(options.mark, 'mark', 0, 0xffffffff)));
    const command = `ip route get ${args.slice(2).join(' ')}`;
    const result = await this.lab.run(this.name, ['ip', '-j', ...args], { intent: `look up the route to ${address}`, reject: false });
    if (result.exitCode !== 0) {
      const refusal = result.stderr.trim().replace(/^RTNETLINK answers: /, '') || `exit ${result.exitCode}`;
      // only the kernel's own answers to the lookup are evidence; anything else (the namespace gone, a device that is
      // not there, ip failing) is no answer at all, never "no route"
      if (!(refusal in REFUSALS)) {
        if (/Cannot open network namespace|(?:nsenter|netspec): (?:cannot|can't) (?:open|enter) '?\/run\/netns\//.test(refusal)) {
          throw new NotFoundError('network namespace', this.name, `it was deleted, or never created (${refusal})`);
        }
        if (/Cannot find device/.test(refusal)) {
          throw new NotFoundError('interface', options.oif ?? options.iif ?? '?', `${this} has no such interface (${refusal}); list them with ns.links()`);
        }
        throw new CommandError(`look up the route to ${address}`, ['ip', ...args], String(this), result.exitCode, result.stderr, result.stdout);
      }
      return { command, refusal, refusedBy: options.iif === undefined ? REFUSALS[refusal] : undefined };
    }
    return { command, route: parseRoutes(result.stdout, `${this.name}$ ip -j ${args.join(' ')}`)[0] };
  }

  /** `ip -j neigh show` */
  neighbors(): Promise<NeighInfo[]> {
    return this.ipJson<NeighInfo[]>(['neigh', 'show'], 'list neighbors');
  }

  /** @deprecated The old spelling of {@link Netns.neighbors} (netspec says "neighbor", as in NEIGHBOR_UNREACHABLE). */
  neighbours(): Promise<NeighInfo[]> {
    return this.neighbors();
  }

  /** Read a sysctl under /proc/sys/net of this namespace. */
  async readSysctl(key: string): Promise<string> {
    checkSysctlKey(key);
    const result = await this.lab.run(this.name, ['sysctl', '-n', key], { intent: `read ${key}` });
    return result.stdout.trim();
  }

  /** The namespace's IPv4/IPv6 addresses outside loopback and link-local, e.g. for `toReach(ns)`. */
  async globalAddresses(family?: 4 | 6): Promise<GlobalAddress[]> {
    return globalAddressesOf(await this.addresses(), family);
  }
}

/** A global address of a namespace (Netns.globalAddresses): the address, its prefix length, its link and family. */
export interface GlobalAddress {
  address: string;
  prefixLength: number;
  dev: string;
  family: 4 | 6;
}

/** The global addresses of `ip -j addr show` rows, outside loopback (what Netns.globalAddresses reads). */
export function globalAddressesOf(links: readonly AddrInfo[], family?: 4 | 6): GlobalAddress[] {
  const out: GlobalAddress[] = [];
  for (const link of links) {
    if (link.ifname === 'lo') continue;
    for (const a of link.addr_info ?? []) {
      if (a.scope !== 'global') continue;
      const f = a.family === 'inet' ? 4 : 6;
      if (family && f !== family) continue;
      out.push({ address: a.local, prefixLength: a.prefixlen, dev: link.ifname, family: f });
    }
  }
  return out;
}

/** @deprecated The old name of {@link NetnsScope}. */
export type NetnsWorld = NetnsScope;
