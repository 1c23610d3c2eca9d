/** A Linux bridge in the lab's host: the "virtual switch" that namespaces are cabled to. */
import type { Step } from './batch.js';
import { InvalidInputError } from './errors.js';
import { contains, parseAddress, parseCidr, type Cidr } from './address.js';
import type { BuildContext } from './lab/context.js';
import type { Claim } from './lab/inventory.js';
import { transact } from './lab/transaction.js';
import { checkIfname } from './names.js';
import { Netns } from './netns.js';
import { addressStep } from './steps/address.js';
import { bridgePortStep, bridgeStep, linkDelArgv, linkUpStep, vethStep } from './steps/link.js';
import { routeStep } from './steps/route.js';
import { at } from './steps/step.js';
import type { Scope } from './scope.js';

export interface BridgeOptions {
  /** The host's address on the bridge, e.g. `192.168.15.3/24`: the namespaces' gateway. */
  address?: string;
}

export interface AttachOptions {
  /** The namespace's address with prefix, e.g. `192.168.15.1/24`. */
  address?: string;
  /** Interface name inside the namespace (default `veth-<ns>`, as in the tutorial). */
  ifname?: string;
  /** Name of the bridge-side end in the host (default `<ifname>-brdg`, as in the tutorial, or shorter if that is too long). */
  peer?: string;
  /** Add a default route via this gateway; `true` means via the bridge's own address. */
  gateway?: string | boolean;
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
  const address = options.address === undefined ? undefined : parseCidr(options.address, 'bridge address');
  const handle = new Bridge(ctx, name, address);
  const steps: Step[] = [at('host', bridgeStep(name)), at('host', linkUpStep(name))];
  if (address) steps.push(at('host', addressStep(address, name)));
  await transact(ctx, {
    claims: [() => ctx.inventory.claimLink(ctx.host, name, 'bridge name'), () => register(handle)],
    steps,
    undo: [{ step: 0, target: 'host', argv: linkDelArgv(name), intent: `undo ${name}` }],
  });
  return handle;
}

export class Bridge {
  readonly attachments: Attachment[] = [];
  /** Ports claimed by attach() calls, built or in flight, so the kernel's limit is known before anything runs. */
  #ports = 0;
  readonly #ctx: BuildContext;
  /** The lab this bridge is in. */
  readonly lab: Scope;

  /** @internal use lab.bridge() */
  constructor(
    ctx: BuildContext,
    readonly name: string,
    /** The host's address on the bridge, if any. */
    readonly cidr?: Cidr,
  ) {
    this.#ctx = ctx;
    this.lab = ctx.world;
  }

  /** The host's address on the bridge (no prefix), if it has one. */
  get address(): string | undefined {
    return this.cidr?.address;
  }

  toString(): string {
    return `bridge ${this.name} of ${this.lab}`;
  }

  /** Cable `ns` to the bridge: a veth pair with one end in `ns` and the other enslaved to the bridge, both up. */
  async attach(ns: Netns, options: AttachOptions = {}): Promise<Attachment> {
    const ctx = this.#ctx;
    const lab = this.lab;
    ctx.assertAlive();
    if (!(ns instanceof Netns)) throw new InvalidInputError('namespace', ns, 'expected a namespace handle from lab.netns() or lab.get()');
    if (ns.lab !== lab) throw new InvalidInputError('namespace', String(ns), `it belongs to ${ns.lab}, but ${this} is in ${lab}; attach namespaces of the same lab`);
    if (ns.isHost) throw new InvalidInputError('namespace', 'host', 'the host is already on the bridge; give the bridge an address instead (lab.bridge(name, { address }))');
    if (options === null || typeof options !== 'object') throw new InvalidInputError('attach options', options, 'expected an object such as { address: "192.168.15.1/24" }');
    const defaultIfname = `veth-${ns.name}`;
    if (options.ifname === undefined && defaultIfname.length > 15) {
      throw new InvalidInputError('interface name', defaultIfname, `the default name for ${ns.name} is longer than 15 characters; pass { ifname } (at most 15 characters)`);
    }
    const ifname = checkIfname(options.ifname ?? defaultIfname, 'interface name');
    const peer = options.peer === undefined ? ctx.inventory.freeHostName([`${ifname}-brdg`, `${ifname}-br`, `${ifname.slice(0, 11)}-br`]) : checkIfname(options.peer, 'bridge-side name');
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
    if (this.#ports >= BRIDGE_MAX_PORTS) {
      throw new InvalidInputError('bridge port', `${ns.name} on ${this.name}`, `${this} already has ${this.#ports} ports (attached or being attached); Linux allows at most ${BRIDGE_MAX_PORTS} per bridge (BR_MAX_PORTS): use another bridge for the rest`);
    }
    const steps: Step[] = [
      at('host', vethStep({ name: peer }, { name: ifname, netns: ns.name }, `create veth ${peer} <-> ${ifname} (${ns.name})`)),
      at('host', bridgePortStep(peer, this.name)),
    ];
    if (address) steps.push(at(ns.name, addressStep(address, ifname)));
    steps.push(at(ns.name, linkUpStep(ifname, `set ${ifname} up in ${ns.name}`)));
    if (gateway) steps.push(at(ns.name, routeStep('default', { via: gateway })));
    await transact(ctx, {
      claims: [
        () => ctx.inventory.claimLink(ns, ifname),
        () => ctx.inventory.claimLink(ctx.host, peer, 'bridge-side name'),
        () => (this.#ports++, { release: () => void this.#ports-- }),
      ],
      steps,
      // when creating the pair failed (say the name was taken by a script), the link of that name is not ours to delete
      undo: [{ step: 0, target: 'host', argv: linkDelArgv(peer), intent: `undo ${peer}` }],
    });
    const attachment: Attachment = { ns, ifname, peer, address: address?.text };
    this.attachments.push(attachment);
    return attachment;
  }
}
