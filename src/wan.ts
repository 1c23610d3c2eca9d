/**
 * The lab's stand-in for the Internet (ARCHITECTURE.md, "Nothing leaves the lab"): a namespace on documentation addresses (RFC 5737), cabled to the
 * lab's host as its uplink, with the host's default route through it. It has no route back to private prefixes, so
 * without NAT nothing answers a private source: exactly what the tutorial shows with its public DNS server.
 */
import type { Step } from './batch.js';
import { DuplicateNameError, InvalidInputError } from './errors.js';
import { fromBigInt, parseAddress, parseCidr, toBigInt, type Cidr } from './address.js';
import type { BuildContext } from './lab/context.js';
import type { HostNames } from './lab/inventory.js';
import { transact } from './lab/transaction.js';
import { checkIfname, checkNetnsName } from './names.js';
import { Netns } from './netns.js';
import { addressStep } from './steps/address.js';
import { linkDelArgv, linkUpStep, vethStep } from './steps/link.js';
import { netnsAddStep, netnsDelArgv } from './steps/netns.js';
import { routeStep } from './steps/route.js';
import { at } from './steps/step.js';

export interface WanOptions {
  /** Namespace name (default `wan`). */
  name?: string;
  /** The uplink's prefix (default `198.51.100.0/24`): the wan is .1, the lab host .2. */
  uplink?: string;
  /** "Internet hosts" the wan answers for (default `['203.0.113.8']`, the lab's stand-in for the tutorial's public DNS server). */
  internet?: string[];
  /** The host-side interface name (default `uplink0`); the wan side is `eth0`. */
  hostIfname?: string;
  /** Give the lab host a default route via the wan (default true). */
  defaultRoute?: boolean;
}

const DOC_RANGES = ['192.0.2.0/24', '198.51.100.0/24', '203.0.113.0/24'].map((c) => parseCidr(c));

function isDocumentation(address: string): boolean {
  const n = toBigInt(address, 4);
  return DOC_RANGES.some((r) => n >> 8n === toBigInt(r.address, 4) >> 8n);
}

/** A wan as it will be built: every option checked, nothing built. */
export interface WanPlan {
  name: string;
  uplink: Cidr;
  wanAddress: string;
  hostAddress: string;
  internet: string[];
  hostIfname: string;
  defaultRoute: boolean;
}

const WAN_KEYS = ['name', 'uplink', 'internet', 'hostIfname', 'defaultRoute'];

/**
 * Check wan options (types, names, documentation addresses) against the host names of `names` (a lab's inventory) and
 * compute the wan's addresses; throws InvalidInputError (DuplicateNameError for an uplink name taken).
 */
export function planWan(names: HostNames, options: unknown): WanPlan {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) throw new InvalidInputError('wan options', options, 'expected an object such as { internet: ["203.0.113.8"] }');
  const o = options as WanOptions;
  for (const key of Object.keys(o)) {
    if (!WAN_KEYS.includes(key)) throw new InvalidInputError('wan option', key, `unknown; lab.wan() takes ${WAN_KEYS.join(', ')}`);
  }
  const name = checkNetnsName(o.name ?? 'wan', 'wan name');
  const uplink = parseCidr(o.uplink ?? '198.51.100.0/24', 'uplink prefix', false);
  if (uplink.family !== 4 || uplink.prefixLength > 30) throw new InvalidInputError('uplink prefix', o.uplink, 'expected an IPv4 prefix of /30 or larger, e.g. "198.51.100.0/24"');
  const base = toBigInt(uplink.address, 4) & ~((1n << BigInt(32 - uplink.prefixLength)) - 1n);
  const wanAddress = fromBigInt(base + 1n, 4);
  const hostAddress = fromBigInt(base + 2n, 4);
  if (o.internet !== undefined && (!Array.isArray(o.internet) || o.internet.length === 0)) {
    throw new InvalidInputError('wan option internet', o.internet, 'expected a non-empty list of addresses, e.g. ["203.0.113.8"]');
  }
  if (o.defaultRoute !== undefined && typeof o.defaultRoute !== 'boolean') throw new InvalidInputError('wan option defaultRoute', o.defaultRoute, 'expected true or false');
  const internet = (o.internet ?? ['203.0.113.8']).map((a) => parseAddress(a, 'internet address').address);
  for (const a of [wanAddress, ...internet]) {
    if (a.includes(':') || !isDocumentation(a)) {
      throw new InvalidInputError('wan address', a, 'the lab\'s Internet lives on documentation ranges only (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24), so nothing can be mistaken for a real host');
    }
  }
  const hostIfname = checkIfname(o.hostIfname ?? names.freeHostName(['uplink0', 'uplink1', 'uplink2']), 'uplink interface name');
  if (names.hostLinks.has(hostIfname)) throw new DuplicateNameError('uplink interface name', hostIfname, 'the lab host already has an interface of that name; pass another { hostIfname }');
  return { name, uplink, wanAddress, hostAddress, internet, hostIfname, defaultRoute: o.defaultRoute !== false };
}

export class Wan {
  private constructor(
    /** The wan's namespace: run servers here to play an Internet service. */
    readonly ns: Netns,
    /** The wan's address on the uplink (the lab host's gateway). */
    readonly address: string,
    /** The lab host's address on the uplink: what a MASQUERADEd source is seen as. */
    readonly hostAddress: string,
    /** The Internet stand-ins the wan answers for. */
    readonly internet: readonly string[],
    readonly hostIfname: string,
  ) {}

  toString(): string {
    return `wan ${this.ns.name}`;
  }

  /** @internal use lab.wan() */
  static async create(ctx: BuildContext, options: WanOptions): Promise<Wan> {
    ctx.assertAlive();
    const { name, uplink, wanAddress, hostAddress, internet, hostIfname, defaultRoute } = planWan(ctx.inventory, options);
    const ns = new Netns(ctx.world, name);
    const len = uplink.prefixLength;
    const steps: Step[] = [
      at('host', netnsAddStep(name)),
      at('host', vethStep({ name: hostIfname }, { name: 'eth0', netns: name }, `cable the lab host to ${name}`)),
      at('host', addressStep(parseCidr(`${hostAddress}/${len}`), hostIfname, `add ${hostAddress} to ${hostIfname}`)),
      at('host', linkUpStep(hostIfname)),
      at(name, linkUpStep('lo', `set lo up in ${name}`)),
      at(name, addressStep(parseCidr(`${wanAddress}/${len}`), 'eth0', `add ${wanAddress} to the wan`)),
      at(name, linkUpStep('eth0', `set the wan's eth0 up`)),
      ...internet.map((a) => at(name, addressStep(parseCidr(`${a}/32`), 'lo', `make the wan answer for ${a}`))),
    ];
    if (defaultRoute) {
      steps.push(at('host', routeStep('default', { via: wanAddress, dev: hostIfname }, `route the lab host's default via the wan (${wanAddress})`)));
    }
    await transact(ctx, {
      claims: [() => ctx.inventory.claimNamespace(ns, ctx.hasNetns(name)), () => ctx.inventory.claimLink(ctx.host, hostIfname, 'uplink interface name')],
      steps,
      // undo only what ran: a name that was taken (by a script, say) is not ours to delete
      undo: [
        { step: 0, target: 'host', argv: netnsDelArgv(name), intent: 'undo wan' },
        { step: 1, target: 'host', argv: linkDelArgv(hostIfname), intent: 'undo uplink' },
      ],
    });
    return new Wan(ns, wanAddress, hostAddress, internet, hostIfname);
  }
}
