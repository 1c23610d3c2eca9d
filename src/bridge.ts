/**
 * A Linux bridge: the "virtual switch" that namespaces are cabled to, in the lab's host (the default) or in any
 * namespace of the lab (`{ in: ns }`: a namespace that is itself a switch, or a router with a bridge).
 */
import type { Step } from './batch.js';
import { ConflictError, InvalidInputError, NotFoundError } from './errors.js';
import { contains, parseAddress, parseCidr, type Cidr } from './address.js';
import type { BuildContext } from './lab/context.js';
import type { Claim } from './lab/inventory.js';
import { transact } from './lab/transaction.js';
import { checkIfname } from './names.js';
import { Netns } from './netns.js';
import { addressStep } from './steps/address.js';
import { bridgePortFlagsStep, bridgePortStep, bridgeStep, bridgeVlanDelStep, bridgeVlanStep, linkDelArgv, linkUpStep, vethStep } from './steps/link.js';
import { checkLinkAttrs, checkPortVlan, checkVid, portFlagWords, type BridgePortFlags, type LinkAttrs, type PortVlan } from './link-options.js';
import { routeStep } from './steps/route.js';
import { at, checkStepOptions } from './steps/step.js';
import type { Scope } from './scope.js';

export interface BridgeOptions extends LinkAttrs {
  /** The address on the bridge of the namespace it is in, e.g. `192.168.15.3/24`: the attached namespaces' gateway. */
  address?: string;
  /**
   * The namespace the bridge is made in (default the lab host): a namespace that is itself a switch, or a router with
   * a bridge. Its ports are links of that namespace; `bridge-nf-call-*` there is set as in the lab host.
   */
  in?: Netns;
  /**
   * A VLAN-aware bridge (`vlan_filtering 1`): ports carry the VLANs given with `attach(ns, { vlan })`, `addPort` or
   * `bridge.vlan()`; a port starts in VLAN 1 (pvid, untagged), as the kernel does. A kernel without
   * CONFIG_BRIDGE_VLAN_FILTERING gives a PrerequisiteError.
   */
  vlanFiltering?: boolean;
}

/** VLANs of a port: a VLAN id is an access port (its only VLAN, pvid and untagged), an object one membership. */
export type PortVlans = number | PortVlan | readonly (number | PortVlan)[];

export interface PortOptions {
  /** Bridge port flags (hairpin, learning, flood, isolated, …). */
  port?: BridgePortFlags;
  /** The port's VLANs on a VLAN-filtering bridge. */
  vlan?: PortVlans;
}

export interface AttachOptions extends LinkAttrs, PortOptions {
  /** The namespace's address with prefix, e.g. `192.168.15.1/24`. */
  address?: string;
  /** Interface name inside the namespace (default `veth-<ns>`, as in the tutorial). */
  ifname?: string;
  /** Name of the bridge-side end in the host (default `<ifname>-brdg`, as in the tutorial, or shorter if that is too long). */
  peer?: string;
  /** Add a default route via this gateway; `true` means via the bridge's own address. */
  gateway?: string | boolean;
  // `mtu` and `mac` (LinkAttrs) are the namespace end's; the bridge-side end gets the same MTU
}

export interface Attachment {
  readonly ns: Netns;
  readonly ifname: string;
  readonly peer: string;
  readonly address?: string;
}

/**
 * The kernel's limit on ports per bridge: port numbers are 10 bits (BR_MAX_PORTS = 1024 in net/bridge/br_private.h) and
 * port 0 is reserved, so 1023; the next `ip link set … master` fails with EXFULL ("Exchange full"), as measured here.
 */
export const BRIDGE_MAX_PORTS = 1023;

/**
 * The bridge builder: `lab.bridge(name, options)`. `register` records the handle in the lab (for lab.getBridge) as soon
 * as the call is made, and gives it back if the build fails.
 */
export async function createBridge(ctx: BuildContext, name: string, options: BridgeOptions, register: (bridge: Bridge) => Claim): Promise<Bridge> {
  ctx.assertAlive();
  checkIfname(name, 'bridge name');
  if (options === null || typeof options !== 'object') throw new InvalidInputError('bridge options', options, 'expected an object such as { address: "192.168.15.3/24" }');
  checkStepOptions(options, 'bridge', ['address', 'mtu', 'mac', 'vlanFiltering', 'in'], 'lab.bridge');
  const where = options.in ?? ctx.host;
  if (!(where instanceof Netns)) throw new InvalidInputError('bridge in', where, 'expected a namespace handle from lab.netns() or lab.get() (or lab.host, the default)');
  if (where.lab !== ctx.world) throw new InvalidInputError('bridge in', String(where), `it belongs to ${where.lab}; make the bridge in a namespace of ${ctx.world}`);
  const address = options.address === undefined ? undefined : parseCidr(options.address, 'bridge address');
  const attrs = checkLinkAttrs(options, 'bridge', address);
  if (options.vlanFiltering !== undefined && typeof options.vlanFiltering !== 'boolean') throw new InvalidInputError('bridge vlanFiltering', options.vlanFiltering, 'expected true or false');
  const handle = new Bridge(ctx, name, address, options.vlanFiltering ?? false, where);
  const t = where.name;
  const steps: Step[] = [at(t, bridgeStep(name, { ...attrs, vlanFiltering: options.vlanFiltering })), at(t, linkUpStep(name))];
  if (address) steps.push(at(t, addressStep(address, name)));
  await transact(ctx, {
    claims: [() => ctx.inventory.claimLink(where, name, 'bridge name'), () => register(handle)],
    steps,
    undo: [{ step: 0, target: t, argv: linkDelArgv(name), intent: `undo ${name}` }],
  });
  if (!where.isHost) await sameBridgeNetfilter(ctx, where);
  return handle;
}

const BRIDGE_NF_KEYS = ['net.bridge.bridge-nf-call-iptables', 'net.bridge.bridge-nf-call-ip6tables', 'net.bridge.bridge-nf-call-arptables'];

/**
 * Whether bridged traffic goes through iptables is per namespace (br_netfilter): a namespace with a bridge gets the
 * lab host's setting (LabOptions.bridgeNetfilter), so a verdict does not depend on the machine's state. Where the
 * kernel has no br_netfilter there is nothing to set.
 */
async function sameBridgeNetfilter(ctx: BuildContext, ns: Netns): Promise<void> {
  for (const key of BRIDGE_NF_KEYS) {
    const file = `/proc/sys/${key.replace(/\./g, '/')}`;
    const host = await ctx.run('host', ['cat', '--', file], { intent: `read ${key} in the lab host`, reject: false });
    if (host.exitCode !== 0) continue;
    const value = host.stdout.trim() === '1' ? '1' : '0';
    const here = await ctx.run(ns.name, ['cat', '--', file], { intent: `read ${key} in ${ns.name}`, reject: false });
    if (here.exitCode !== 0 || here.stdout.trim() === value) continue;
    await ctx.run(ns.name, ['sysctl', '-q', '-w', `${key}=${value}`], { intent: `set ${key} in ${ns.name} as in the lab host` });
  }
}

export class Bridge {
  readonly attachments: Attachment[] = [];
  /** Ports claimed by attach() calls, built or in flight, so the kernel's limit is known before anything runs. */
  #ports = 0;
  readonly #ctx: BuildContext;
  /** The lab this bridge is in. */
  readonly lab: Scope;

  /** The namespace the bridge is in (the lab host unless made with `{ in: ns }`). */
  readonly ns: Netns;

  /** @internal use lab.bridge() */
  constructor(
    ctx: BuildContext,
    readonly name: string,
    /** The address on the bridge of the namespace it is in, if any. */
    readonly cidr?: Cidr,
    /** The bridge filters by VLAN (`lab.bridge(name, { vlanFiltering: true })`). */
    readonly vlanFiltering = false,
    ns?: Netns,
  ) {
    this.#ctx = ctx;
    this.lab = ctx.world;
    this.ns = ns ?? ctx.host;
  }

  /** The host's address on the bridge (no prefix), if it has one. */
  get address(): string | undefined {
    return this.cidr?.address;
  }

  toString(): string {
    return this.ns.isHost ? `bridge ${this.name} of ${this.lab}` : `bridge ${this.name} in ${this.ns.name} of ${this.lab}`;
  }

  /** Cable `ns` to the bridge: a veth pair with one end in `ns` and the other enslaved to the bridge, both up. */
  async attach(ns: Netns, options: AttachOptions = {}): Promise<Attachment> {
    const ctx = this.#ctx;
    const lab = this.lab;
    ctx.assertAlive();
    if (!(ns instanceof Netns)) throw new InvalidInputError('namespace', ns, 'expected a namespace handle from lab.netns() or lab.get()');
    if (ns.lab !== lab) throw new InvalidInputError('namespace', String(ns), `it belongs to ${ns.lab}, but ${this} is in ${lab}; attach namespaces of the same lab`);
    if (ns === this.ns || ns.name === this.ns.name) {
      throw new InvalidInputError('namespace', ns.name, `${ns.isHost ? 'the host' : ns.name} is already on the bridge (it is in ${ns.isHost ? 'the host' : ns.name}); give the bridge an address instead (lab.bridge(name, { address${ns.isHost ? '' : ', in'} }))`);
    }
    if (options === null || typeof options !== 'object') throw new InvalidInputError('attach options', options, 'expected an object such as { address: "192.168.15.1/24" }');
    checkStepOptions(options, 'attach', ['address', 'ifname', 'peer', 'gateway', 'mtu', 'mac', 'port', 'vlan'], 'attach');
    const defaultIfname = `veth-${ns.name}`;
    if (options.ifname === undefined && defaultIfname.length > 15) {
      throw new InvalidInputError('interface name', defaultIfname, `the default name for ${ns.name} is longer than 15 characters; pass { ifname } (at most 15 characters)`);
    }
    const ifname = checkIfname(options.ifname ?? defaultIfname, 'interface name');
    const peer = options.peer === undefined ? ctx.inventory.freeName(this.ns.name, [`${ifname}-brdg`, `${ifname}-br`, `${ifname.slice(0, 11)}-br`]) : checkIfname(options.peer, 'bridge-side name');
    const address = options.address === undefined ? undefined : parseCidr(options.address, 'address');
    let gateway: string | undefined;
    if (options.gateway === true) {
      if (!this.cidr) throw new InvalidInputError('gateway', true, `${this} has no address to use as gateway; give the bridge an address, or pass the gateway address`);
      gateway = this.cidr.address;
    } else if (typeof options.gateway === 'string') {
      gateway = parseAddress(options.gateway, 'gateway').address;
    } else if (options.gateway !== undefined && options.gateway !== false) {
      throw new InvalidInputError('gateway', options.gateway, 'expected true (the bridge address) or a gateway address');
    }
    if (gateway && address && !contains(address, gateway)) {
      throw new InvalidInputError('gateway', gateway, `it is not inside ${address.text}, the subnet of ${ifname}; a gateway must be on the link`);
    }
    const attrs = checkLinkAttrs(options, 'attach', address);
    const portSteps = this.#portSteps(peer, options);
    this.#checkPortLimit(`${ns.name} on ${this.name}`);
    const w = this.ns.name;
    // made in the lab host, as lab.veth makes every pair, each end placed at creation: the bridge side in the bridge's
    // namespace, the other in `ns` (so host steps, which run first, make it before either namespace's steps use it)
    const place = (n: Netns) => (n.isHost ? undefined : n.name);
    const steps: Step[] = [
      at('host', vethStep({ name: peer, netns: place(this.ns), mtu: attrs.mtu }, { name: ifname, netns: place(ns), ...attrs }, `create veth ${peer}${this.ns.isHost ? '' : ` (${w})`} <-> ${ifname} (${ns.name})`)),
      at(w, bridgePortStep(peer, this.name)),
      ...portSteps,
    ];
    if (address) steps.push(at(ns.name, addressStep(address, ifname)));
    steps.push(at(ns.name, linkUpStep(ifname, `set ${ifname} up in ${ns.name}`)));
    if (gateway) steps.push(at(ns.name, routeStep('default', { via: gateway })));
    await transact(ctx, {
      claims: [
        () => ctx.inventory.claimLink(ns, ifname),
        () => ctx.inventory.claimLink(this.ns, peer, 'bridge-side name'),
        () => (this.#ports++, { release: () => void this.#ports-- }),
      ],
      steps,
      // when creating the pair failed (say the name was taken by a script), the link of that name is not ours to delete
      undo: [{ step: 0, target: w, argv: linkDelArgv(peer), intent: `undo ${peer}` }],
    });
    const attachment: Attachment = { ns, ifname, peer, address: address?.text };
    this.attachments.push(attachment);
    return attachment;
  }

  /**
   * Make an existing link of the lab host a port of this bridge (`ip link set dev DEV master BRIDGE up`): a veth end
   * made with lab.veth(), a macvlan, a vxlan. With port flags and VLANs as for attach().
   */
  async addPort(dev: string, options: PortOptions = {}): Promise<void> {
    const ctx = this.#ctx;
    ctx.assertAlive();
    checkIfname(dev, 'bridge port device');
    if (dev === this.name) throw new InvalidInputError('bridge port device', dev, 'a bridge cannot be a port of itself');
    if (options === null || typeof options !== 'object') throw new InvalidInputError('port options', options, 'expected an object such as { port: { hairpin: true }, vlan: 10 }');
    checkStepOptions(options, 'port', ['port', 'vlan'], 'addPort');
    // the kernel would move a port of another bridge here without a word (and that bridge would lose it): refused
    const master = await this.#masterOf(dev, 'make it a port of');
    if (master !== undefined && master !== this.name) {
      throw new ConflictError('bridge port device', dev, `it is a port of ${master} already; take it out first (ip link set ${dev} nomaster) or use that bridge`);
    }
    const steps: Step[] = [at(this.ns.name, bridgePortStep(dev, this.name)), ...this.#portSteps(dev, options)];
    this.#checkPortLimit(`${dev} on ${this.name}`);
    await transact(ctx, { claims: [() => (this.#ports++, { release: () => void this.#ports-- })], steps });
  }

  /** Change the flags of a port of this bridge (`ip link set dev DEV type bridge_slave …`). */
  async setPort(dev: string, flags: BridgePortFlags): Promise<void> {
    this.#ctx.assertAlive();
    checkIfname(dev, 'bridge port device');
    const words = portFlagWords(flags);
    if (!words.length) throw new InvalidInputError('bridge port flags', flags, 'nothing to set: give at least one flag, e.g. { isolated: true }');
    await this.#portOfMine(dev);
    await Promise.all(this.#ctx.queue([at(this.ns.name, bridgePortFlagsStep(dev, words))]));
  }

  /**
   * Add a VLAN to a port of this VLAN-filtering bridge (`bridge vlan add dev DEV vid N [pvid] [untagged]`); a number is
   * an access port (pvid, untagged; its other VLANs stay until removeVlan()).
   */
  async vlan(dev: string, vlan: number | PortVlan): Promise<void> {
    this.#ctx.assertAlive();
    checkIfname(dev, 'bridge port device');
    this.#needsVlanFiltering(vlan);
    const v = checkPortVlan(vlan);
    await this.#portOfMine(dev);
    await Promise.all(this.#ctx.queue([at(this.ns.name, bridgeVlanStep(dev, v))]));
  }

  /** Take a port of this VLAN-filtering bridge out of a VLAN (`bridge vlan del dev DEV vid N`). */
  async removeVlan(dev: string, vid: number): Promise<void> {
    this.#ctx.assertAlive();
    checkIfname(dev, 'bridge port device');
    this.#needsVlanFiltering(vid);
    const v = checkVid(vid);
    await this.#portOfMine(dev);
    await Promise.all(this.#ctx.queue([at(this.ns.name, bridgeVlanDelStep(dev, v))]));
  }

  /** The bridge `dev` (a link of the lab host) is a port of, if any; a NotFoundError when there is no such link. */
  async #masterOf(dev: string, verb: string): Promise<string | undefined> {
    const link = (await this.ns.links()).find((l) => l.ifname === dev);
    const where = this.ns.isHost ? 'the lab host' : this.ns.name;
    if (!link) throw new NotFoundError('interface', dev, `${where} has no link ${dev} to ${verb} ${this.name}; bridge ports are links of ${where} (${this.ns.isHost ? 'lab.host' : this.ns.name}.links() lists them)`);
    return link.master;
  }

  /**
   * Port flags and VLANs are set on the device, whichever bridge it is a port of (`bridge link set dev …`): a device that
   * is not a port of this bridge would change another bridge's port, or fail later with the kernel's words. Refused.
   */
  async #portOfMine(dev: string): Promise<void> {
    const master = await this.#masterOf(dev, 'change as a port of');
    if (master !== this.name) {
      throw new InvalidInputError('bridge port device', dev, master ? `it is a port of ${master}, not of ${this.name}: use that bridge's handle` : `it is not a port of ${this.name} (it has no master): add it first with ${this.name}.addPort(${JSON.stringify(dev)})`);
    }
  }

  #needsVlanFiltering(vlan: unknown): void {
    if (!this.vlanFiltering) throw new InvalidInputError('vlan', vlan, `${this} does not filter by VLAN; create it with lab.bridge(${JSON.stringify(this.name)}, { vlanFiltering: true })`);
  }

  #checkPortLimit(what: string): void {
    if (this.#ports >= BRIDGE_MAX_PORTS) {
      throw new InvalidInputError('bridge port', what, `${this} already has ${this.#ports} ports (attached or being attached); Linux allows at most ${BRIDGE_MAX_PORTS} per bridge (BR_MAX_PORTS): use another bridge for the rest`);
    }
  }

  /** The steps that give port `dev` its flags and VLANs (an access port leaves VLAN 1, the kernel's default pvid). */
  #portSteps(dev: string, options: PortOptions): Step[] {
    const steps: Step[] = [];
    if (options.port !== undefined) {
      const words = portFlagWords(options.port, 'port');
      if (words.length) steps.push(at(this.ns.name, bridgePortFlagsStep(dev, words)));
    }
    if (options.vlan !== undefined) {
      this.#needsVlanFiltering(options.vlan);
      const list = Array.isArray(options.vlan) ? (options.vlan as (number | PortVlan)[]) : [options.vlan as number | PortVlan];
      if (!list.length) throw new InvalidInputError('vlan', options.vlan, 'expected at least one VLAN');
      const vlans = list.map((v) => checkPortVlan(v));
      if (vlans.filter((v) => v.pvid).length > 1) throw new InvalidInputError('vlan', options.vlan, 'a port has one pvid: mark at most one VLAN { pvid: true }');
      if (list.some((v) => typeof v === 'number') && !vlans.some((v) => v.vid === 1)) steps.push(at(this.ns.name, bridgeVlanDelStep(dev, 1)));
      for (const v of vlans) steps.push(at(this.ns.name, bridgeVlanStep(dev, v)));
    }
    return steps;
  }
}
