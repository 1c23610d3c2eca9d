/**
 * Link steps (`ip link …`, `bridge vlan …`): veth pairs, bridges, macvlan, vxlan and other kinds, up/down, MTU and MAC,
 * bridge ports and their flags and VLANs. Names and options come checked (names.ts, link-options.ts).
 */
import type { LinkAttrs, MacvlanMode } from '../link-options.js';
import type { StepIn } from './step.js';

/** One end of a veth pair: its name, the namespace it is created in (none: where the step runs), its MTU and MAC. */
export interface VethEndName extends LinkAttrs {
  name: string;
  netns?: string;
}

/** `mtu N address MAC` for `ip link add|set`. */
function attrWords(attrs: LinkAttrs = {}): string[] {
  const words: string[] = [];
  if (attrs.mtu !== undefined) words.push('mtu', String(attrs.mtu));
  if (attrs.mac !== undefined) words.push('address', attrs.mac);
  return words;
}

/** `ip link add name A [netns N] [mtu X] [address M] type veth peer name B [netns M] [mtu Y] [address N]` */
export function vethStep(a: VethEndName, b: VethEndName, intent = `create veth pair ${a.name} <-> ${b.name}`): StepIn {
  const words = ['link', 'add', 'name', a.name];
  if (a.netns !== undefined) words.push('netns', a.netns);
  words.push(...attrWords(a), 'type', 'veth', 'peer', 'name', b.name);
  if (b.netns !== undefined) words.push('netns', b.netns);
  words.push(...attrWords(b));
  return { kind: 'ip', words, intent };
}

/** `ip link add name NAME [mtu N] [address MAC] type bridge [vlan_filtering 1]` */
export function bridgeStep(name: string, options: LinkAttrs & { vlanFiltering?: boolean } = {}): StepIn {
  const words = ['link', 'add', 'name', name, ...attrWords(options), 'type', 'bridge'];
  if (options.vlanFiltering) words.push('vlan_filtering', '1');
  return { kind: 'ip', words, intent: `create bridge ${name}${options.vlanFiltering ? ' (VLAN filtering)' : ''}` };
}

/** `ip link set dev DEV [mtu N] [address MAC] [up|down]` */
export function linkSetStep(dev: string, options: LinkAttrs & { up?: boolean }): StepIn {
  const words = ['link', 'set', 'dev', dev, ...attrWords(options)];
  if (options.up !== undefined) words.push(options.up ? 'up' : 'down');
  return { kind: 'ip', words, intent: `set ${words.slice(4).join(' ')} on ${dev}` };
}

/** `ip link add link PARENT name NAME [netns NS] [mtu N] [address MAC] type macvlan mode MODE` */
export function macvlanStep(name: string, parent: string, mode: MacvlanMode, options: LinkAttrs & { netns?: string } = {}): StepIn {
  const words = ['link', 'add', 'link', parent, 'name', name];
  if (options.netns !== undefined) words.push('netns', options.netns);
  words.push(...attrWords(options), 'type', 'macvlan', 'mode', mode);
  return { kind: 'ip', words, intent: `create macvlan ${name} on ${parent} (mode ${mode})` };
}

/** What a vxlan step takes, checked (addresses canonical). */
export interface VxlanWords extends LinkAttrs {
  id: number;
  dstport: number;
  local?: string;
  remote?: string;
  group?: string;
  dev?: string;
  netns?: string;
}

/** `ip link add name NAME [netns NS] type vxlan id VNI [local A] [remote B | group G] dstport P [dev DEV]` */
export function vxlanStep(name: string, o: VxlanWords): StepIn {
  const words = ['link', 'add', 'name', name];
  if (o.netns !== undefined) words.push('netns', o.netns);
  words.push(...attrWords(o), 'type', 'vxlan', 'id', String(o.id));
  if (o.local !== undefined) words.push('local', o.local);
  if (o.remote !== undefined) words.push('remote', o.remote);
  if (o.group !== undefined) words.push('group', o.group);
  words.push('dstport', String(o.dstport));
  if (o.dev !== undefined) words.push('dev', o.dev);
  return { kind: 'ip', words, intent: `create vxlan ${name} (VNI ${o.id})` };
}

/** Other link kinds: `dummy`, `bond`, `vrf table T`, `vlan` on a parent with `id N`. */
export interface KindWords extends LinkAttrs {
  kind: 'dummy' | 'bond' | 'vrf' | 'vlan';
  parent?: string;
  id?: number;
  table?: number;
  netns?: string;
}

/** `ip link add [link PARENT] name NAME [netns NS] type KIND [id N | table T]` */
export function linkKindStep(name: string, o: KindWords): StepIn {
  const words = ['link', 'add'];
  if (o.parent !== undefined) words.push('link', o.parent);
  words.push('name', name);
  if (o.netns !== undefined) words.push('netns', o.netns);
  words.push(...attrWords(o), 'type', o.kind);
  if (o.kind === 'vlan') words.push('id', String(o.id));
  if (o.kind === 'vrf') words.push('table', String(o.table));
  return { kind: 'ip', words, intent: `create ${o.kind} ${name}` };
}

/** `ip link set dev DEV up` */
export function linkUpStep(dev: string, intent = `set ${dev} up`): StepIn {
  return { kind: 'ip', words: ['link', 'set', 'dev', dev, 'up'], intent };
}

/** `ip link set dev DEV down` */
export function linkDownStep(dev: string): StepIn {
  return { kind: 'ip', words: ['link', 'set', 'dev', dev, 'down'], intent: `set ${dev} down` };
}

/** `ip link set dev DEV master BRIDGE up`: make DEV a port of BRIDGE, and bring it up. */
export function bridgePortStep(dev: string, bridge: string): StepIn {
  return { kind: 'ip', words: ['link', 'set', 'dev', dev, 'master', bridge, 'up'], intent: `attach ${dev} to ${bridge}` };
}

/** `ip link set dev DEV address MAC` */
export function macStep(dev: string, mac: string): StepIn {
  return { kind: 'ip', words: ['link', 'set', 'dev', dev, 'address', mac], intent: `set ${dev}'s MAC to ${mac}` };
}

/** `ip link set dev DEV type bridge_slave FLAG on|off …` (words from link-options.ts portFlagWords). */
export function bridgePortFlagsStep(dev: string, flagWords: readonly string[]): StepIn {
  return { kind: 'ip', words: ['link', 'set', 'dev', dev, 'type', 'bridge_slave', ...flagWords], intent: `set bridge port flags of ${dev}: ${flagWords.join(' ')}` };
}

/** `bridge vlan add dev DEV vid N [pvid] [untagged]`: DEV, a port of a VLAN-filtering bridge, carries VLAN N. */
export function bridgeVlanStep(dev: string, vlan: { vid: number; pvid?: boolean; untagged?: boolean }): StepIn {
  const words = ['vlan', 'add', 'dev', dev, 'vid', String(vlan.vid)];
  if (vlan.pvid) words.push('pvid');
  if (vlan.untagged) words.push('untagged');
  return { kind: 'bridge', words, intent: `put ${dev} in VLAN ${vlan.vid}${vlan.pvid ? ' (pvid)' : ''}${vlan.untagged ? ' (untagged)' : ''}` };
}

/** `bridge vlan del dev DEV vid N` */
export function bridgeVlanDelStep(dev: string, vid: number): StepIn {
  return { kind: 'bridge', words: ['vlan', 'del', 'dev', dev, 'vid', String(vid)], intent: `take ${dev} out of VLAN ${vid}` };
}

/** `ip link set dev DEV type bridge_slave hairpin on`: a bridge port that sends a frame back out where it came in. */
export function hairpinStep(dev: string): StepIn {
  return { kind: 'ip', words: ['link', 'set', 'dev', dev, 'type', 'bridge_slave', 'hairpin', 'on'], intent: `hairpin mode on ${dev}` };
}

/** `ip link del dev DEV` */
export function linkDelStep(dev: string, intent = `delete ${dev}`): StepIn {
  return { kind: 'ip', words: ['link', 'del', 'dev', dev], intent };
}

/** `ip link del dev DEV` as an argv, for undoing a failed build. */
export function linkDelArgv(dev: string): string[] {
  return ['ip', 'link', 'del', 'dev', dev];
}
