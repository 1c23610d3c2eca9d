/** `expect(ns).toHaveArpEntry(ip, { mac?, dev?, state? })`: the neighbor table has the address, resolved. */
import { InvalidInputError, NotFoundError } from '../errors.js';
import { canonical, parseAddress, parseProbeAddress, toBigInt } from '../address.js';
import { checkIfname } from '../names.js';
import { checkSame } from '../probe.js';
import type { NeighInfo } from '../netns.js';
import { bullet, checkOptions, describe, hint, poll, receivedNetns, type MatcherContext, type MatcherResult } from './format.js';

export type NudState = 'REACHABLE' | 'STALE' | 'DELAY' | 'PROBE' | 'PERMANENT' | 'NOARP' | 'INCOMPLETE' | 'FAILED' | 'NONE';

export interface ToHaveArpEntryOptions {
  mac?: string;
  /** Same as `mac`. */
  lladdr?: string;
  dev?: string;
  /** One NUD state or a list; by default any resolved state (INCOMPLETE and FAILED do not count). */
  state?: NudState | NudState[];
  /** How long a positive assertion waits for the entry, in ms (default 1000). */
  timeout?: number;
}

const RESOLVED: NudState[] = ['REACHABLE', 'STALE', 'DELAY', 'PROBE', 'PERMANENT', 'NOARP'];
const ALL = new Set<string>([...RESOLVED, 'INCOMPLETE', 'FAILED', 'NONE']);

export async function toHaveArpEntry(this: MatcherContext, received: unknown, ip: unknown, options?: ToHaveArpEntryOptions): Promise<MatcherResult> {
  const ns = receivedNetns(received, 'toHaveArpEntry');
  const opts = checkOptions<ToHaveArpEntryOptions>(options, 'toHaveArpEntry', { mac: 'string', lladdr: 'string', dev: 'string', state: 'string|string[]', timeout: 'number' });
  const { address, family } = parseAddress(ip, 'neighbor address');
  // an IPv4-mapped spelling (::ffff:192.168.15.2) is no neighbor's address: it never equals the kernel's IPv4 entry, so
  // a .not would pass whatever the ARP table holds; parseProbeAddress refuses it, naming the IPv4 address to write
  if (family === 6 && toBigInt(address, 6) >> 32n === 0xffffn) parseProbeAddress(ip, 'neighbor address');
  const macText = opts.mac ?? opts.lladdr;
  if (macText !== undefined && !/^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$/.test(macText)) throw new InvalidInputError('mac', macText, 'expected a MAC address such as "02:42:ac:11:00:02"');
  const mac = macText?.toLowerCase();
  if (opts.dev !== undefined) checkIfname(opts.dev, 'dev');
  const states = opts.state === undefined ? RESOLVED : Array.isArray(opts.state) ? opts.state : [opts.state];
  // an empty list matches no entry, so every .not would pass whatever the table holds
  if (states.length === 0) throw new InvalidInputError('state', opts.state, `expected one NUD state or a non-empty list of them (${[...ALL].join(', ')}); leave it out for any resolved state`);
  for (const s of states) if (!ALL.has(s)) throw new InvalidInputError('state', s, `expected one of ${[...ALL].join(', ')}`);
  const matches = (n: NeighInfo) =>
    canonical(n.dst) === canonical(address) &&
    (opts.dev === undefined || n.dev === opts.dev) &&
    (mac === undefined || n.lladdr?.toLowerCase() === mac) &&
    n.state.some((s) => states.includes(s as NudState));
  const read = () => ns.neighbors();
  const table = this.isNot ? await read() : await poll(read, (t) => t.some(matches), opts.timeout ?? 1000);
  const pass = table.some(matches);
  // the table of a namespace made again under the handle's name is not the table the handle was made for
  checkSame(ns);
  // no entry on a device that is not there is no verdict: a misspelt or deleted `dev` would pass every .not
  if (!pass && opts.dev !== undefined && !(await ns.links()).some((l) => l.ifname === opts.dev)) {
    throw new NotFoundError('interface', opts.dev, `${ns} has no link ${opts.dev}, so toHaveArpEntry(${describe(ip)}, { dev: ${JSON.stringify(opts.dev)} }) has no entry to look for (a misspelt, deleted or renamed link would pass .not); list them with ns.links()`);
  }
  const same = table.filter((n) => canonical(n.dst) === canonical(address));
  const args = describe(ip) + (options ? `, ${describe(options)}` : '');
  const show = (rows: NeighInfo[]) => (rows.length ? bullet(rows.map((n) => `${n.dst} dev ${n.dev} lladdr ${n.lladdr ?? '-'} ${n.state.join(',')}`)) : '  (empty)');
  return {
    pass,
    actual: same.map((n) => ({ dev: n.dev, lladdr: n.lladdr, state: n.state })),
    expected: { address, mac, dev: opts.dev, state: states },
    message: () =>
      pass
        ? `${hint(ns, 'toHaveArpEntry', true, args)}\n\n${ns.name} has a neighbor entry for ${address}:\n${show(same)}`
        : `${hint(ns, 'toHaveArpEntry', false, args)}\n\n${ns.name} has no ${states === RESOLVED ? 'resolved ' : ''}entry for ${address}${mac ? ` with lladdr ${mac}` : ''}${opts.dev ? ` on ${opts.dev}` : ''}${same.length ? `; it has:\n${show(same)}` : ' (no traffic to it yet, or nothing answered ARP/ND)'}\n\n${ns.name}'s neighbor table (ip -j neigh show):\n${show(table)}`,
  };
}
