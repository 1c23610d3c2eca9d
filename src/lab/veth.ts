/** The veth builder: `lab.veth(a, b)`, a "virtual cable" between two namespaces of a lab (either may be the host). */
import { DuplicateNameError, InvalidInputError } from '../errors.js';
import { parseCidr } from '../address.js';
import { checkIfname } from '../names.js';
import { checkLinkAttrs } from '../link-options.js';
import { Netns } from '../netns.js';
import { addressStep } from '../steps/address.js';
import { linkDelArgv, linkUpStep, vethStep } from '../steps/link.js';
import { at, checkStepOptions } from '../steps/step.js';
import type { Step } from '../batch.js';
import type { BuildContext } from './context.js';
import { transact } from './transaction.js';

export interface VethEnd {
  /** The namespace this end lives in (`lab.host` or a namespace handle). */
  ns: Netns;
  /** Interface name, at most 15 characters. */
  name: string;
  /** Optional address with prefix, e.g. `192.168.15.1/24`. */
  address?: string;
  /** MTU of this end (the kernel's bounds for veth: 68…65535). */
  mtu?: number;
  /** MAC address of this end (unicast). */
  mac?: string;
  /** Bring this end up (default true); `false` leaves it down, so its peer has no carrier. */
  up?: boolean;
}

export interface VethPair {
  readonly a: Required<Pick<VethEnd, 'ns' | 'name'>> & { address?: string };
  readonly b: Required<Pick<VethEnd, 'ns' | 'name'>> & { address?: string };
}

/** A namespace handle of this lab, or an InvalidInputError naming `input`. */
export function ownNetns(ctx: BuildContext, ns: unknown, input: string): Netns {
  if (!(ns instanceof Netns)) throw new InvalidInputError(input, ns, 'expected a namespace handle from lab.netns(), lab.get() or lab.host');
  if (ns.lab !== ctx.world) throw new InvalidInputError(input, String(ns), `it belongs to ${ns.lab}, not ${ctx.world}; use a namespace of this lab`);
  ctx.assertAlive();
  return ns;
}

/** Both ends up, with their addresses; a failed build deletes the pair. */
export async function createVeth(ctx: BuildContext, a: VethEnd, b: VethEnd): Promise<VethPair> {
  const ends = [a, b].map((end, i) => {
    const label = i === 0 ? 'first veth end' : 'second veth end';
    if (end === null || typeof end !== 'object') throw new InvalidInputError(label, end, 'expected { ns, name, address? }');
    checkStepOptions(end, label, ['ns', 'name', 'address', 'mtu', 'mac', 'up'], 'a veth end');
    const ns = ownNetns(ctx, end.ns, `${label} ns`);
    const name = checkIfname(end.name, `${label} name`);
    const address = end.address === undefined ? undefined : parseCidr(end.address, `${label} address`);
    if (end.up !== undefined && typeof end.up !== 'boolean') throw new InvalidInputError(`${label} up`, end.up, 'expected true or false');
    return { ns, name, address, up: end.up ?? true, ...checkLinkAttrs(end, label, address) };
  });
  const [x, y] = ends as [(typeof ends)[0], (typeof ends)[0]];
  if (x.ns === y.ns && x.name === y.name) throw new DuplicateNameError('veth end name', y.name, 'both ends have the same name in the same namespace');
  const place = (ns: Netns) => (ns.isHost ? undefined : ns.name);
  const steps: Step[] = [at('host', vethStep({ name: x.name, netns: place(x.ns), mtu: x.mtu, mac: x.mac }, { name: y.name, netns: place(y.ns), mtu: y.mtu, mac: y.mac }))];
  for (const end of ends) {
    if (end.address) steps.push(at(end.ns.name, addressStep(end.address, end.name)));
    if (end.up) steps.push(at(end.ns.name, linkUpStep(end.name)));
  }
  await transact(ctx, {
    claims: [() => ctx.inventory.claimLink(x.ns, x.name, 'first veth end name'), () => ctx.inventory.claimLink(y.ns, y.name, 'second veth end name')],
    steps,
    undo: [{ step: 0, target: x.ns.name, argv: linkDelArgv(x.name), intent: `undo ${x.name}` }],
  });
  return {
    a: { ns: x.ns, name: x.name, address: x.address?.text },
    b: { ns: y.ns, name: y.name, address: y.address?.text },
  };
}
