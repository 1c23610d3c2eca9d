/**
 * Builders of links other than veth and bridge: `lab.macvlan(…)`, `lab.vxlan(…)` and `lab.link(…)` (dummy, vlan, bond,
 * vrf). A link is created in one namespace of the lab (`ns`: where its parent or underlay is) and, with `into`, placed
 * in another at creation (`ip link add … netns INTO`): a macvlan stays a child of its parent, a vxlan's UDP socket stays
 * in `ns`. A kind the kernel lacks is a PrerequisiteError naming its module (src/batch.ts).
 */
import { InvalidInputError } from '../errors.js';
import { parseAddress, parseCidr, parseProbeAddress } from '../address.js';
import { checkIfname } from '../names.js';
import { checkLinkAttrs, checkMacvlanMode, checkUdpPort, checkVid, checkVni, type LinkAttrs, type MacvlanMode } from '../link-options.js';
import type { Netns } from '../netns.js';
import { addressStep } from '../steps/address.js';
import { linkDelArgv, linkKindStep, linkUpStep, macvlanStep, vxlanStep, type KindWords } from '../steps/link.js';
import { at, checkStepOptions, type StepIn } from '../steps/step.js';
import type { Step } from '../batch.js';
import type { BuildContext } from './context.js';
import { transact } from './transaction.js';
import { ownNetns } from './veth.js';

/** What every such link takes. */
export interface LinkSpec extends LinkAttrs {
  /** The namespace the link is created in (where its parent or underlay is): `lab.host` or a namespace handle. */
  ns: Netns;
  /** Interface name, at most 15 characters. */
  name: string;
  /** The namespace the link lives in (default `ns`). */
  into?: Netns;
  /** An address with prefix for it, in `into`. */
  address?: string;
  /** Bring it up (default true). */
  up?: boolean;
}

export interface MacvlanSpec extends LinkSpec {
  /** The parent link, in `ns`. */
  parent: string;
  /** `bridge` (default: children of one parent talk to each other), `private`, `vepa` or `passthru`. */
  mode?: MacvlanMode;
}

export interface VxlanSpec extends LinkSpec {
  /** The VNI, 0…16777215. */
  id: number;
  /** The underlay address to send from (an address of `ns`). */
  local?: string;
  /** The one remote tunnel end (unicast); or `group`. */
  remote?: string;
  /** A multicast group to flood to (needs `dev`). */
  group?: string;
  /** UDP port, default 4789 (IANA's; the kernel's own default is 8472). */
  dstport?: number;
  /** The underlay link in `ns`. */
  dev?: string;
}

export interface KindSpec extends LinkSpec {
  /** `dummy`, `vlan` (802.1q, on `parent` with `id`), `bond`, `vrf` (with `table`). */
  kind: KindWords['kind'];
  /** The parent link in `ns` (vlan). */
  parent?: string;
  /** The VLAN id (vlan). */
  id?: number;
  /** The routing table (vrf). */
  table?: number;
}

/** A link a builder made: where it lives, its name and kind. */
export interface Link {
  readonly ns: Netns;
  readonly name: string;
  readonly kind: string;
  readonly address?: string;
}

const KINDS = ['dummy', 'vlan', 'bond', 'vrf'] as const;

/** `lab.macvlan({ ns, parent, name, mode, into?, address? })` */
export async function createMacvlan(ctx: BuildContext, spec: MacvlanSpec): Promise<Link> {
  const c = common(ctx, spec, 'macvlan', ['parent', 'mode']);
  const parent = checkIfname(spec.parent, 'macvlan parent');
  const mode = checkMacvlanMode(spec.mode ?? 'bridge');
  return build(ctx, c, 'macvlan', macvlanStep(c.name, parent, mode, { ...c.attrs, netns: c.netnsWord }));
}

/** `lab.vxlan({ ns, name, id, local?, remote? | group?, dstport?, dev?, into?, address? })` */
export async function createVxlan(ctx: BuildContext, spec: VxlanSpec): Promise<Link> {
  const c = common(ctx, spec, 'vxlan', ['id', 'local', 'remote', 'group', 'dstport', 'dev']);
  const id = checkVni(spec.id);
  const dstport = checkUdpPort(spec.dstport ?? 4789, 'vxlan dstport');
  const dev = spec.dev === undefined ? undefined : checkIfname(spec.dev, 'vxlan dev');
  const local = spec.local === undefined ? undefined : tunnelEnd(spec.local, 'vxlan local');
  const remote = spec.remote === undefined ? undefined : tunnelEnd(spec.remote, 'vxlan remote');
  const group = spec.group === undefined ? undefined : parseAddress(spec.group, 'vxlan group');
  if (remote && group) throw new InvalidInputError('vxlan remote', remote.address, 'give remote (one peer) or group (multicast), not both');
  if (local && isMulticast(local.address)) throw new InvalidInputError('vxlan local', local.address, 'it is a multicast address; local is a unicast address of ns to send from');
  if (remote && isMulticast(remote.address)) throw new InvalidInputError('vxlan remote', remote.address, 'it is a multicast address; pass it as group');
  if (group && !isMulticast(group.address)) throw new InvalidInputError('vxlan group', group.address, 'expected a multicast address (224.0.0.0/4 or ff00::/8); a single peer is remote');
  if (group && !dev) throw new InvalidInputError('vxlan dev', undefined, 'a multicast group needs the underlay link (dev) to join it on');
  const other = remote ?? group;
  if (local && other && local.family !== other.family) throw new InvalidInputError('vxlan local', local.address, `it is IPv${local.family} but ${other.address} is IPv${other.family}`);
  const step = vxlanStep(c.name, { ...c.attrs, id, dstport, dev, local: local?.address, remote: remote?.address, group: group?.address, netns: c.netnsWord });
  return build(ctx, c, 'vxlan', step);
}

/** `lab.link({ ns, name, kind, parent?, id?, table?, into?, address? })` for dummy, vlan (802.1q), bond and vrf links. */
export async function createKindLink(ctx: BuildContext, spec: KindSpec): Promise<Link> {
  const c = common(ctx, spec, 'link', ['kind', 'parent', 'id', 'table']);
  const kind = spec.kind;
  if (!KINDS.includes(kind)) throw new InvalidInputError('link kind', kind, `expected one of ${KINDS.join(', ')} (veth: lab.veth, bridge: lab.bridge, macvlan: lab.macvlan, vxlan: lab.vxlan)`);
  const words: KindWords = { kind, ...c.attrs, netns: c.netnsWord };
  if (kind === 'vlan') {
    words.parent = checkIfname(spec.parent, 'vlan parent');
    words.id = checkVid(spec.id, 'vlan id');
  } else if (spec.parent !== undefined || spec.id !== undefined) {
    throw new InvalidInputError(`${kind} options`, spec.parent ?? spec.id, 'parent and id are for a vlan link only');
  }
  if (kind === 'vrf') {
    if (typeof spec.table !== 'number' || !Number.isInteger(spec.table) || spec.table < 1 || spec.table > 0xffff_fffe) throw new InvalidInputError('vrf table', spec.table, 'expected a routing table id, a whole number from 1 to 4294967294');
    words.table = spec.table;
  } else if (spec.table !== undefined) {
    throw new InvalidInputError(`${kind} table`, spec.table, 'table is for a vrf link only');
  }
  return build(ctx, c, kind, linkKindStep(c.name, words));
}

interface Common {
  ns: Netns;
  into: Netns;
  name: string;
  attrs: LinkAttrs;
  address?: ReturnType<typeof parseCidr>;
  up: boolean;
  /** The `netns` word of the create step: the name of `into` when it is not `ns` (the host has no name to give). */
  netnsWord?: string;
}

/** What every link spec takes; `own`: the keys of its kind. A key neither knows is an error (a misspelt `mode` was bridge). */
const SPEC_KEYS = ['ns', 'name', 'into', 'address', 'up', 'mtu', 'mac'];

function common(ctx: BuildContext, spec: LinkSpec, label: string, own: readonly string[]): Common {
  if (spec === null || typeof spec !== 'object') throw new InvalidInputError(`${label} spec`, spec, 'expected an object such as { ns, name, … }');
  checkStepOptions(spec, label, [...SPEC_KEYS, ...own], `lab.${label}`);
  const ns = ownNetns(ctx, spec.ns, `${label} ns`);
  const into = spec.into === undefined ? ns : ownNetns(ctx, spec.into, `${label} into`);
  if (into.isHost && !ns.isHost) throw new InvalidInputError(`${label} into`, 'host', 'a link made in a namespace cannot be placed in the lab host by name; create it in the host (ns: lab.host) instead');
  const name = checkIfname(spec.name, `${label} name`);
  const address = spec.address === undefined ? undefined : parseCidr(spec.address, `${label} address`);
  if (spec.up !== undefined && typeof spec.up !== 'boolean') throw new InvalidInputError(`${label} up`, spec.up, 'expected true or false');
  return { ns, into, name, attrs: checkLinkAttrs(spec, label, address), address, up: spec.up ?? true, netnsWord: into === ns ? undefined : into.name };
}

async function build(ctx: BuildContext, c: Common, kind: string, create: StepIn): Promise<Link> {
  const steps: Step[] = [at(c.ns.name, create)];
  // the link appears in `into` when the create step ran in `ns`: a barrier keeps these after it (namespaces run in parallel)
  const later: StepIn[] = [];
  if (c.address) later.push(addressStep(c.address, c.name));
  if (c.up) later.push(linkUpStep(c.name, `set ${c.name} up${c.into.isHost ? '' : ` in ${c.into.name}`}`));
  later.forEach((s, i) => steps.push({ ...at(c.into.name, s), barrier: i === 0 && c.into !== c.ns }));
  await transact(ctx, {
    claims: [() => ctx.inventory.claimLink(c.into, c.name, `${kind} name`)],
    steps,
    undo: [{ step: 0, target: c.into.name, argv: linkDelArgv(c.name), intent: `undo ${c.name}` }],
  });
  return { ns: c.into, name: c.name, kind, address: c.address?.text };
}

/**
 * A tunnel end (vxlan local, remote): one address of a namespace. Refused: the unspecified address (the kernel reads a
 * remote 0.0.0.0 as no remote at all, so the link would not be what the call says), an IPv4-mapped IPv6 address and the
 * limited broadcast; a multicast one is said by the caller (remote: pass it as group).
 */
function tunnelEnd(value: unknown, input: string): ReturnType<typeof parseAddress> {
  const parsed = parseAddress(value, input);
  return isMulticast(parsed.address) ? parsed : parseProbeAddress(value, input);
}

function isMulticast(address: string): boolean {
  if (address.includes(':')) return /^ff/i.test(address);
  const first = Number(address.split('.')[0]);
  return first >= 224 && first <= 239;
}
