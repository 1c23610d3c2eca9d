/**
 * `expect(ns).toHaveLink(name, { state?, master?, kind?, mtu?, mac?, carrier?, timeout? })`, e.g. a veth enslaved to a
 * bridge and UP, or a link that has (or has lost) its carrier.
 *
 * Waiting: a positive assertion polls until the link matches, for `timeout` ms (default 1000: a link's operational
 * state follows its carrier a moment after `up`). A `.not` without `timeout` reads once. A `.not` with `timeout` watches
 * the whole window and fails as soon as the link matches: it passes only if the link did not match at any read during
 * the window, so a transient state (the carrier not there *yet*) cannot make it pass early. To wait for a link to lose
 * something, assert the new state positively: `toHaveLink(dev, { carrier: false, timeout })`.
 */
import { checkIfname } from '../names.js';
import { InvalidInputError } from '../errors.js';
import { checkMac, checkMtu } from '../link-options.js';
import type { LinkInfo } from '../parse/ip.js';
import { bullet, checkOptions, describe, hint, poll, receivedNetns, type MatcherContext, type MatcherResult } from './format.js';

export interface ToHaveLinkOptions {
  /** Operational state: `UP`, `DOWN`, `UNKNOWN`, `LOWERLAYERDOWN`… (`UP` also accepts a link whose flags say UP and LOWER_UP). */
  state?: string;
  master?: string;
  /** `veth`, `bridge`, `macvlan`, `vxlan`, … (the link's kind). */
  kind?: string;
  /** Same as `kind`. */
  type?: string;
  mtu?: number;
  /** The link's MAC address (any case). */
  mac?: string;
  /** The link has a carrier (its flags say LOWER_UP; a veth whose peer is down has NO-CARRIER). */
  carrier?: boolean;
  /** How long to wait, in ms (positive: until it matches, default 1000; `.not`: the whole window, default none). */
  timeout?: number;
}

/** The operational states the kernel reports (RFC 2863's ifOperStatus, IF_OPER_* in linux/if.h), as `ip` prints them. */
const OPERSTATES: readonly string[] = ['UP', 'DOWN', 'UNKNOWN', 'LOWERLAYERDOWN', 'DORMANT', 'TESTING', 'NOTPRESENT'];

export async function toHaveLink(this: MatcherContext, received: unknown, name: unknown, options?: ToHaveLinkOptions): Promise<MatcherResult> {
  const ns = receivedNetns(received, 'toHaveLink');
  const ifname = checkIfname(name, 'link name');
  const opts = checkOptions<ToHaveLinkOptions>(options, 'toHaveLink', { state: 'string', master: 'string', type: 'string', kind: 'string', mtu: 'number', mac: 'string', carrier: 'boolean', timeout: 'number' });
  // a closed set: a misspelt state ("UPP") would never match, so its `.not` would pass whatever the link's state
  if (opts.state !== undefined && !OPERSTATES.includes(opts.state)) throw new InvalidInputError('state', opts.state, `expected an operstate as ip prints it: ${OPERSTATES.join(', ')}`);
  if (opts.master !== undefined) checkIfname(opts.master, 'master');
  if (opts.kind !== undefined && opts.type !== undefined && opts.kind !== opts.type) throw new InvalidInputError('kind', opts.kind, `it differs from type ${JSON.stringify(opts.type)}; give one of them`);
  const kindWanted = opts.kind ?? opts.type;
  if (kindWanted !== undefined && !/^[a-z0-9_]+$/.test(kindWanted)) throw new InvalidInputError('kind', kindWanted, 'expected a link kind such as "veth", "bridge" or "vxlan"');
  if (opts.mtu !== undefined) checkMtu(opts.mtu, 'toHaveLink option mtu');
  // a multicast MAC cannot be a link's, but asking whether a link has one is no error: only the syntax is checked
  const mac = opts.mac === undefined ? undefined : checkMacSyntax(opts.mac);
  const check = (links: LinkInfo[]): string[] => {
    const out: string[] = [];
    const link = links.find((l) => l.ifname === ifname);
    if (!link) return [`there is no link called ${ifname}`];
    const kind = link.linkinfo?.info_kind ?? link.link_type;
    const up = link.operstate === 'UP' || (link.operstate === 'UNKNOWN' && link.flags.includes('UP') && link.flags.includes('LOWER_UP'));
    const state = opts.state === 'UP' && up ? 'UP' : link.operstate;
    if (opts.state !== undefined && state !== opts.state) out.push(`its state is ${link.operstate} (flags ${link.flags.join(',')}), not ${opts.state}`);
    if (opts.master !== undefined && link.master !== opts.master) out.push(link.master ? `its master is ${link.master}, not ${opts.master}` : `it has no master (not enslaved to ${opts.master})`);
    if (kindWanted !== undefined && kind !== kindWanted) out.push(`its kind is ${kind}, not ${kindWanted}`);
    if (opts.mtu !== undefined && link.mtu !== opts.mtu) out.push(`its MTU is ${link.mtu}, not ${opts.mtu}`);
    if (mac !== undefined && link.address?.toLowerCase() !== mac) out.push(`its MAC is ${link.address}, not ${mac}`);
    if (opts.carrier !== undefined && carrier(link) !== opts.carrier) out.push(opts.carrier ? `it has no carrier (flags ${link.flags.join(',')})` : `it has a carrier (flags ${link.flags.join(',')})`);
    return out;
  };
  const matches = (l: LinkInfo[]) => check(l).length === 0;
  const started = Date.now();
  // positive: until it matches; .not with a timeout: until it matches (then the .not fails), else the whole window
  const links = this.isNot && opts.timeout === undefined ? await ns.links() : await poll(() => ns.links(), matches, opts.timeout ?? 1000);
  const waited = Date.now() - started;
  const link = links.find((l) => l.ifname === ifname);
  const problems = check(links);
  const pass = problems.length === 0;
  const args = describe(name) + (options ? `, ${describe(options)}` : '');
  const row = (l: LinkInfo) =>
    `${l.ifname} ${l.linkinfo?.info_kind ?? l.link_type} ${l.operstate}${carrier(l) ? '' : ' NO-CARRIER'} mtu ${l.mtu}${l.address ? ` ${l.address}` : ''}${l.master ? ` master ${l.master}` : ''}`;
  const window = opts.timeout === undefined ? '' : this.isNot ? ` (watched for ${waited} ms of a ${opts.timeout} ms window)` : ` (after waiting ${waited} ms)`;
  return {
    pass,
    actual: link ? row(link) : 'absent',
    expected: { name: ifname, ...opts },
    message: () =>
      pass
        ? `${hint(ns, 'toHaveLink', true, args)}\n\n${ns.name} has ${link ? row(link) : ifname}${opts.timeout !== undefined && this.isNot ? ` (${waited} ms into the ${opts.timeout} ms window)` : ''}`
        : `${hint(ns, 'toHaveLink', false, args)}\n\n${ns.name}: ${problems.join('; ')}${window}\n\nlinks (ip -j -d link show):\n${bullet(links.map(row))}`,
  };
}

/** The link has a carrier: the kernel reports LOWER_UP (NO-CARRIER when it has none). */
function carrier(link: LinkInfo): boolean {
  return link.flags.includes('LOWER_UP');
}

function checkMacSyntax(value: string): string {
  try {
    return checkMac(value, 'toHaveLink option mac');
  } catch (error) {
    if (/^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$/.test(value)) return value.toLowerCase();
    throw error;
  }
}
