/** Link steps (`ip link …`): veth pairs, bridges, up/down, bridge ports, MAC addresses. Names come checked (names.ts). */
import type { StepIn } from './step.js';

/** One end of a veth pair: its name, and the namespace it is created in (none: where the step runs). */
export interface VethEndName {
  name: string;
  netns?: string;
}

/** `ip link add name A [netns N] type veth peer name B [netns M]` */
export function vethStep(a: VethEndName, b: VethEndName, intent = `create veth pair ${a.name} <-> ${b.name}`): StepIn {
  const words = ['link', 'add', 'name', a.name];
  if (a.netns !== undefined) words.push('netns', a.netns);
  words.push('type', 'veth', 'peer', 'name', b.name);
  if (b.netns !== undefined) words.push('netns', b.netns);
  return { kind: 'ip', words, intent };
}

/** `ip link add name NAME type bridge` */
export function bridgeStep(name: string): StepIn {
  return { kind: 'ip', words: ['link', 'add', 'name', name, 'type', 'bridge'], intent: `create bridge ${name}` };
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
