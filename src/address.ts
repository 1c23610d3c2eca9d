/** IPv4/IPv6 addresses and prefixes: parsed strictly, so a malformed one is an error before anything runs. */
import { isIPv4, isIPv6 } from 'node:net';
import { InvalidInputError } from './errors.js';

export type Family = 4 | 6;

export interface Cidr {
  /** The address as written (canonical for IPv4). */
  readonly address: string;
  readonly prefixLength: number;
  readonly family: Family;
  /** `address/prefixLength`. */
  readonly text: string;
}

export function ipFamily(address: string): Family | undefined {
  if (address.includes('%')) return undefined; // zone ids (fe80::1%eth0) are not taken: say `dev` instead
  if (isIPv4(address)) return 4;
  if (isIPv6(address)) return 6;
  return undefined;
}

/** A bare address (no prefix). `input` names the parameter in the error. */
export function parseAddress(value: unknown, input = 'address'): { address: string; family: Family } {
  if (typeof value !== 'string') throw new InvalidInputError(input, value, 'expected an IPv4 or IPv6 address as a string, e.g. "192.168.15.2"');
  const family = ipFamily(value);
  if (!family) {
    const hint = value.includes('/') ? 'give the address without a prefix length' : 'expected an IPv4 or IPv6 address, e.g. "192.168.15.2" or "fd00::2"';
    throw new InvalidInputError(input, value, hint);
  }
  // canonical form (lower case, zeros compressed), so every later comparison with the kernel's output holds
  return { address: canonical(value), family };
}

/**
 * A unicast address a probe can be sent to. Refused: the unspecified address (0.0.0.0, ::, which the kernel treats as
 * "this host"), IPv4-mapped IPv6 (::ffff:a.b.c.d, a socket-API spelling, not an address on any link), multicast and the
 * limited broadcast: a verdict about them would not be a verdict about the target the spec names.
 */
export function parseProbeAddress(value: unknown, input = 'target address'): { address: string; family: Family } {
  const parsed = parseAddress(value, input);
  const n = toBigInt(parsed.address, parsed.family);
  const refuse = (why: string) => {
    throw new InvalidInputError(input, value, why);
  };
  if (n === 0n) refuse('the unspecified address means "this host" to the kernel, not a target; give the address of a namespace');
  if (parsed.family === 6 && n >> 32n === 0xffffn) {
    refuse(`an IPv4-mapped IPv6 address is a socket-API spelling, not an address on a link; write the IPv4 address ${fromBigInt(n & 0xffffffffn, 4)}`);
  }
  if (parsed.family === 4 && (n >> 28n === 0xen || n === 0xffffffffn)) refuse('multicast and broadcast addresses are not probe targets; give one unicast address');
  if (parsed.family === 6 && n >> 120n === 0xffn) refuse('multicast addresses are not probe targets; give one unicast address');
  return parsed;
}

/** `addr/len`; `requirePrefix` false accepts a bare address as a host prefix (/32 or /128). */
export function parseCidr(value: unknown, input = 'address', requirePrefix = true): Cidr {
  if (typeof value !== 'string') throw new InvalidInputError(input, value, 'expected a CIDR string such as "192.168.15.1/24"');
  const slash = value.indexOf('/');
  if (slash < 0 && requirePrefix) {
    throw new InvalidInputError(input, value, 'add a prefix length, e.g. "192.168.15.1/24" (the tutorial: "add IPs with some network mask only")');
  }
  const address = slash < 0 ? value : value.slice(0, slash);
  const family = ipFamily(address);
  if (!family) throw new InvalidInputError(input, value, 'the address part is not a valid IPv4 or IPv6 address');
  const max = family === 4 ? 32 : 128;
  const lenText = slash < 0 ? String(max) : value.slice(slash + 1);
  if (!/^\d{1,3}$/.test(lenText) || Number(lenText) > max) {
    throw new InvalidInputError(input, value, `the prefix length must be a whole number from 0 to ${max}`);
  }
  const prefixLength = Number(lenText);
  return { address, prefixLength, family, text: `${address}/${prefixLength}` };
}

/** A network prefix: host bits must be zero (`192.168.15.0/24`, not `192.168.15.1/24`). */
export function parsePrefix(value: unknown, input = 'prefix'): Cidr {
  const cidr = parseCidr(value, input, false);
  const net = networkOf(cidr);
  if (toBigInt(net, cidr.family) !== toBigInt(cidr.address, cidr.family)) {
    throw new InvalidInputError(input, value, `host bits are set; the network is ${net}/${cidr.prefixLength}`);
  }
  return cidr;
}

export function toBigInt(address: string, family: Family): bigint {
  if (family === 4) {
    return address.split('.').reduce((acc, part) => (acc << 8n) | BigInt(Number(part)), 0n);
  }
  let text = address;
  // an embedded IPv4 tail (::ffff:1.2.3.4)
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const n = toBigInt(v4[1]!, 4);
    text = text.slice(0, -v4[1]!.length) + `${(n >> 16n).toString(16)}:${(n & 0xffffn).toString(16)}`;
  }
  const [head, tail] = text.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail === undefined ? [] : tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n);
}

export function fromBigInt(n: bigint, family: Family): string {
  if (family === 4) return [24n, 16n, 8n, 0n].map((s) => String((n >> s) & 0xffn)).join('.');
  const groups: string[] = [];
  for (let i = 7; i >= 0; i--) groups.push(((n >> BigInt(i * 16)) & 0xffffn).toString(16));
  // compress the longest run of zero groups
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen && j - i > 1) { best = i; bestLen = j - i; }
    i = j;
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}

function mask(prefixLength: number, family: Family): bigint {
  const bits = family === 4 ? 32n : 128n;
  const len = BigInt(prefixLength);
  return ((1n << bits) - 1n) ^ ((1n << (bits - len)) - 1n);
}

export function networkOf(cidr: Cidr): string {
  return fromBigInt(toBigInt(cidr.address, cidr.family) & mask(cidr.prefixLength, cidr.family), cidr.family);
}

/**
 * The network an address with a prefix length is on, as text: `10.1.0.200/25` → `10.1.0.128/25`, `2001:db8::1/64` →
 * `2001:db8::/64`. Anything else is an InvalidInputError naming `input`.
 */
export function networkOfAddress(value: unknown, input = 'address'): string {
  const cidr = parseCidr(value, input);
  return `${networkOf(cidr)}/${cidr.prefixLength}`;
}

/** Is `address` inside `cidr`'s network? */
export function contains(cidr: Cidr, address: string): boolean {
  const family = ipFamily(address);
  if (family !== cidr.family) return false;
  const m = mask(cidr.prefixLength, family);
  return (toBigInt(address, family) & m) === (toBigInt(cidr.address, family) & m);
}

/** Normalise an address for comparison (IPv6 case and zero compression). */
export function canonical(address: string): string {
  const family = ipFamily(address);
  return family ? fromBigInt(toBigInt(address, family), family) : address;
}

/** Of `theirs`, the address on a subnet one of `mine` is on (the one a neighbor reaches), else the first. */
export function addressFacing(mine: readonly { address: string; prefixLength: number }[], theirs: readonly { address: string; prefixLength: number }[]): string | undefined {
  for (const t of theirs) if (mine.some((m) => contains(parseCidr(`${m.address}/${m.prefixLength}`), t.address))) return t.address;
  return theirs[0]?.address;
}

/** An address and port as tools and people write them: `[v6]:port`, `v4:port`. */
export function hostPort(address: string, port: number | string): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}
