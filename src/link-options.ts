/**
 * Options of links (MTU, MAC, bridge port flags, VLAN ids, macvlan modes, link kinds): checked before anything runs, so
 * iproute2 never sees a bad one, and written as words only netspec chooses.
 */
import { InvalidInputError, PrerequisiteError, missingKernelFeature } from './errors.js';

/** What every link netspec creates can be given: its MTU and its MAC address. */
export interface LinkAttrs {
  /** MTU in bytes (an integer; the device's own bounds, e.g. 68…65535 for veth, come back as an InvalidInputError). */
  mtu?: number;
  /** A unicast MAC address such as `02:00:00:00:00:01` (a multicast or all-zero MAC is refused). */
  mac?: string;
}

/** The largest MTU `ip` takes at all (a u32); the device's own maximum is the kernel's to say (batch.ts translates it). */
const MTU_WORD_MAX = 0xffff_ffff;

/** An MTU: a positive integer. `input` names it in the error (e.g. `first veth end mtu`). */
export function checkMtu(value: unknown, input = 'mtu'): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > MTU_WORD_MAX) {
    throw new InvalidInputError(input, value, 'expected a whole number of bytes such as 1500 (the kernel bounds it further per device: 68…65535 for veth)');
  }
  return value;
}

/** A unicast MAC address, written lowercase. Multicast (the first octet odd) and all-zero MACs are refused. */
export function checkMac(value: unknown, input = 'mac'): string {
  if (typeof value !== 'string' || !/^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$/.test(value)) {
    throw new InvalidInputError(input, value, 'expected a MAC address such as "02:00:00:00:00:01" (six hex pairs separated by ":")');
  }
  const mac = value.toLowerCase();
  if (parseInt(mac.slice(0, 2), 16) & 1) {
    throw new InvalidInputError(input, value, 'it is a multicast MAC (the first octet is odd), which no interface may have; use a unicast one, e.g. "02:…" (locally administered)');
  }
  if (mac === '00:00:00:00:00:00') throw new InvalidInputError(input, value, 'the all-zero MAC is no address; use e.g. "02:00:00:00:00:01"');
  return mac;
}

/** IPv6 needs links of at least 1280 bytes (RFC 8200; the kernel's IPV6_MIN_MTU). */
export const IPV6_MIN_MTU = 1280;

/**
 * `mtu`/`mac` of an options object, checked; `label` prefixes the input names (`bridge` → `bridge mtu`). With the
 * `address` the link gets: an IPv6 one on an MTU below 1280 is refused here, where the kernel would take the link and
 * then refuse the address with a bare EINVAL, after the link was made.
 */
export function checkLinkAttrs(options: LinkAttrs, label: string, address?: { family: 4 | 6; text: string }): LinkAttrs {
  const out: LinkAttrs = {};
  if (options.mtu !== undefined) out.mtu = checkMtu(options.mtu, `${label} mtu`);
  if (out.mtu !== undefined && out.mtu < IPV6_MIN_MTU && address?.family === 6) {
    throw new InvalidInputError(`${label} mtu`, out.mtu, `the link's IPv6 address ${address.text} needs an MTU of at least ${IPV6_MIN_MTU} (IPv6's minimum link MTU; the kernel refuses the address below it); raise the MTU or give an IPv4 address`);
  }
  if (options.mac !== undefined) out.mac = checkMac(options.mac, `${label} mac`);
  return out;
}

/**
 * Flags of a bridge port (`ip link set dev DEV type bridge_slave …`), each on or off. Unset flags keep the kernel's
 * default (learning, flood, mcast_flood, bcast_flood on; hairpin, isolated, neigh_suppress off).
 */
export interface BridgePortFlags {
  /** Send a frame back out of the port it came in on (Docker's hairpin NAT needs it). */
  hairpin?: boolean;
  /** Learn source MACs on this port. */
  learning?: boolean;
  /** Flood unknown unicast out of this port. */
  flood?: boolean;
  /** Flood multicast out of this port. */
  mcastFlood?: boolean;
  /** Flood broadcast out of this port. */
  bcastFlood?: boolean;
  /** An isolated port talks to non-isolated ports only (never to another isolated port). */
  isolated?: boolean;
  /** Answer ARP/ND for the port from the bridge's neighbor entries (ARP suppression). */
  neighSuppress?: boolean;
}

const PORT_FLAG_WORDS: Record<keyof BridgePortFlags, string> = {
  hairpin: 'hairpin',
  learning: 'learning',
  flood: 'flood',
  mcastFlood: 'mcast_flood',
  bcastFlood: 'bcast_flood',
  isolated: 'isolated',
  neighSuppress: 'neigh_suppress',
};

/** Port flags checked, as `bridge_slave` words (`hairpin on learning off …`); an unknown key is an error naming it. */
export function portFlagWords(flags: unknown, input = 'bridge port flags'): string[] {
  if (flags === null || typeof flags !== 'object' || Array.isArray(flags)) throw new InvalidInputError(input, flags, 'expected an object such as { hairpin: true, learning: false }');
  const words: string[] = [];
  for (const [key, value] of Object.entries(flags)) {
    if (value === undefined) continue;
    // own keys only: `constructor`, `toString`, `__proto__` are keys of every object literal's prototype
    const word = Object.hasOwn(PORT_FLAG_WORDS, key) ? PORT_FLAG_WORDS[key as keyof BridgePortFlags] : undefined;
    if (!word) throw new InvalidInputError(`${input} key`, key, `expected one of ${Object.keys(PORT_FLAG_WORDS).join(', ')}`);
    if (typeof value !== 'boolean') throw new InvalidInputError(`${input} ${key}`, value, 'expected true or false');
    words.push(word, value ? 'on' : 'off');
  }
  return words;
}

/** A VLAN id: 1…4094 (0 and 4095 are reserved by 802.1Q). */
export function checkVid(value: unknown, input = 'vlan id'): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 4094) {
    throw new InvalidInputError(input, value, 'expected a VLAN id, a whole number from 1 to 4094');
  }
  return value;
}

/** A port's membership in one VLAN of a VLAN-filtering bridge (`bridge vlan add dev DEV vid N [pvid] [untagged]`). */
export interface PortVlan {
  vid: number;
  /** Untagged frames entering the port belong to this VLAN. */
  pvid?: boolean;
  /** Frames of this VLAN leave the port untagged. */
  untagged?: boolean;
}

/** A port VLAN: a number is an access port (`{ vid, pvid: true, untagged: true }`). */
export function checkPortVlan(value: unknown, input = 'vlan'): Required<PortVlan> {
  if (typeof value === 'number') return { vid: checkVid(value, input), pvid: true, untagged: true };
  if (value === null || typeof value !== 'object') throw new InvalidInputError(input, value, 'expected a VLAN id (an access port) or { vid, pvid?, untagged? }');
  const v = value as PortVlan;
  for (const key of ['pvid', 'untagged'] as const) {
    if (v[key] !== undefined && typeof v[key] !== 'boolean') throw new InvalidInputError(`${input} ${key}`, v[key], 'expected true or false');
  }
  return { vid: checkVid(v.vid, `${input} vid`), pvid: v.pvid ?? false, untagged: v.untagged ?? false };
}

/** The macvlan modes the kernel offers (`ip link add … type macvlan mode MODE`). */
export const MACVLAN_MODES = ['bridge', 'private', 'vepa', 'passthru'] as const;
export type MacvlanMode = (typeof MACVLAN_MODES)[number];

export function checkMacvlanMode(value: unknown, input = 'macvlan mode'): MacvlanMode {
  if (!MACVLAN_MODES.includes(value as MacvlanMode)) throw new InvalidInputError(input, value, `expected one of ${MACVLAN_MODES.join(', ')}`);
  return value as MacvlanMode;
}

/** A UDP port for vxlan's `dstport`: 1…65535. */
export function checkUdpPort(value: unknown, input = 'dstport'): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 65535) throw new InvalidInputError(input, value, 'expected a UDP port, a whole number from 1 to 65535 (4789 is VXLAN\'s IANA port)');
  return value;
}

/** A VXLAN network identifier: 0…16777215 (24 bits). */
export function checkVni(value: unknown, input = 'vxlan id'): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 0xff_ffff) throw new InvalidInputError(input, value, 'expected a VNI, a whole number from 0 to 16777215');
  return value;
}

/**
 * The PrerequisiteError for a link kind this kernel does not have (`detail`: the kernel's words): the module comes from
 * the one table of kernel features and their modules, KERNEL_MODULES in src/errors.ts (doctor's too).
 */
export function missingLinkKind(kind: string, detail: string, where = 'the lab'): PrerequisiteError {
  return missingKernelFeature(kind, `the ${kind} link kind`, detail, where);
}

/** The PrerequisiteError for a bridge without VLAN filtering support. */
export function missingVlanFiltering(detail: string): PrerequisiteError {
  return new PrerequisiteError(
    'bridge VLAN filtering (CONFIG_BRIDGE_VLAN_FILTERING)',
    `the kernel said "${detail}". Use a kernel built with CONFIG_BRIDGE_VLAN_FILTERING=y; \`netspec doctor\` says whether a lab gets it`,
  );
}
