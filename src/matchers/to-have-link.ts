/**
 * `expect(ns).toHaveLink(name, { state?, master?, kind?, mtu?, mac?, carrier?, timeout? })`, e.g. a veth enslaved to a
 * bridge and UP, or a link that has (or has lost) its carrier.
 *
 * Waiting: a positive assertion polls until the link matches, for `timeout` ms (default 1000: a link's operational
 * state follows its carrier a moment after `up`). A `.not` without `timeout` reads once. A `.not` with `timeout` watches
 * the whole window and fails as soon as the link matches: it passes only if the link did not match at any read during
 * the window, so a transient state (the carrier not there *yet*) cannot make it pass early; a carrier that came and
 * went between two reads is seen too, in the kernel's count of carrier changes. To wait for a link to lose something,
 * assert the new state positively: `toHaveLink(dev, { carrier: false, timeout })`.
 *
 * A `.not` with options is a claim about a link that is there: when it is not (misspelt, deleted, renamed, or replaced
 * during the window) that is an error, never a pass. `.not.toHaveLink(name)` asserts that it is not there.
 */
import { checkIfname } from '../names.js';
import { InvalidInputError, NotFoundError, ProbeError } from '../errors.js';
import { checkMac, checkMtu } from '../link-options.js';
import type { LinkInfo } from '../parse/ip.js';
import type { Netns } from '../netns.js';
import { bullet, checkOptions, describe, hint, poll, receivedNetns, type MatcherContext, type MatcherResult } from './format.js';

export interface ToHaveLinkOptions {
  /**
   * Operational state: `UP`, `DOWN`, `UNKNOWN`, `LOWERLAYERDOWN`… `UP` needs the carrier (LOWER_UP), and also accepts
   * an UNKNOWN link whose flags say UP and LOWER_UP. The kernel updates the operstate up to a second after the carrier:
   * an operstate that disagrees with the carrier matches nothing, and a `.not` reads again until it has settled.
   */
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
  const check = (links: LinkInfo[], withCarrier = true): string[] => {
    const out: string[] = [];
    const link = links.find((l) => l.ifname === ifname);
    if (!link) return [`there is no link called ${ifname}`];
    const kind = link.linkinfo?.info_kind ?? link.link_type;
    // UP is an operational link: with its carrier (an operstate UP without LOWER_UP is one the kernel has not updated yet)
    const up = carrier(link) && (link.operstate === 'UP' || (link.operstate === 'UNKNOWN' && link.flags.includes('UP')));
    const stateOk = opts.state === 'UP' ? up : !settling(link) && link.operstate === opts.state;
    if (opts.state !== undefined && !stateOk) {
      out.push(`its state is ${link.operstate} (flags ${link.flags.join(',')})${settling(link) ? ', which the kernel has not caught up with its carrier yet' : ''}, not ${opts.state}`);
    }
    if (opts.master !== undefined && link.master !== opts.master) out.push(link.master ? `its master is ${link.master}, not ${opts.master}` : `it has no master (not enslaved to ${opts.master})`);
    if (kindWanted !== undefined && kind !== kindWanted) out.push(`its kind is ${kind}, not ${kindWanted}`);
    if (opts.mtu !== undefined && link.mtu !== opts.mtu) out.push(`its MTU is ${link.mtu}, not ${opts.mtu}`);
    if (mac !== undefined && link.address?.toLowerCase() !== mac) out.push(`its MAC is ${link.address}, not ${mac}`);
    if (withCarrier && opts.carrier !== undefined && carrier(link) !== opts.carrier) out.push(opts.carrier ? `it has no carrier (flags ${link.flags.join(',')})` : `it has a carrier (flags ${link.flags.join(',')})`);
    return out;
  };
  const matches = (l: LinkInfo[]) => check(l).length === 0;
  const args = describe(name) + (options ? `, ${describe(options)}` : '');
  // what the assertion says about the link (not only that it is there): under `.not`, a claim about a link that exists
  const asked = ASKED.filter((k) => opts[k] !== undefined);
  const started = Date.now();
  let links: LinkInfo[];
  let flap: string | undefined;
  if (!this.isNot) {
    links = await poll(() => ns.links(), matches, opts.timeout ?? 1000);
    // the kernel's operstate lags its carrier (linkwatch runs once a second, later on a loaded machine): a link still
    // settling when the window ends is waited for a little longer, as `.not` does, rather than judged mid-change
    const last = links.find((l) => l.ifname === ifname);
    if (!matches(links) && last && settling(last)) links = await poll(() => ns.links(), (l) => matches(l) || !l.some((x) => x.ifname === ifname && settling(x)), SETTLE_MS);
  }
  else if (opts.timeout === undefined) links = await ns.links();
  else ({ links, flap } = await watchNot(ns, ifname, opts.timeout, matches, (l) => check(l, false).length === 0, opts.carrier !== undefined, asked, args));
  if (this.isNot && opts.state !== undefined && opts.state !== 'UP') links = await settled(ns, ifname, links, args);
  if (this.isNot && asked.length && !links.some((l) => l.ifname === ifname)) throw gone(ns, ifname, asked, args, opts.timeout === undefined ? '' : ` at the end of the ${opts.timeout} ms window`);
  const waited = Date.now() - started;
  const link = links.find((l) => l.ifname === ifname);
  const problems = flap ? [] : check(links);
  const pass = problems.length === 0;
  const row = (l: LinkInfo) =>
    `${l.ifname} ${l.linkinfo?.info_kind ?? l.link_type} ${l.operstate}${carrier(l) ? '' : ' NO-CARRIER'} mtu ${l.mtu}${l.address ? ` ${l.address}` : ''}${l.master ? ` master ${l.master}` : ''}`;
  const window = opts.timeout === undefined ? '' : this.isNot ? ` (watched for ${waited} ms of a ${opts.timeout} ms window)` : ` (after waiting ${waited} ms)`;
  return {
    pass,
    actual: link ? row(link) : 'absent',
    expected: { name: ifname, ...opts },
    message: () =>
      pass
        ? `${hint(ns, 'toHaveLink', true, args)}\n\n${ns.name} has ${link ? row(link) : ifname}${opts.timeout !== undefined && this.isNot ? ` (${waited} ms into the ${opts.timeout} ms window)` : ''}${flap ? `\n${flap}` : ''}`
        : `${hint(ns, 'toHaveLink', false, args)}\n\n${ns.name}: ${problems.join('; ')}${window}\n\nlinks (ip -j -d link show):\n${bullet(links.map(row))}`,
  };
}

/**
 * The kernel sets a link's carrier flag (LOWER_UP) at once but its operstate later (linkwatch, up to a second): an
 * operstate UP without LOWER_UP, or DOWN/LOWERLAYERDOWN with UP and LOWER_UP, is a state the kernel is still changing.
 */
function settling(link: LinkInfo): boolean {
  if (link.operstate === 'UP') return !carrier(link);
  return (link.operstate === 'DOWN' || link.operstate === 'LOWERLAYERDOWN') && carrier(link) && link.flags.includes('UP');
}

/** How long a `.not` with a state waits for the kernel to settle the link's operstate (linkwatch runs once a second). */
export const SETTLE_MS = 2500;

/**
 * A `.not` about a state other than UP may not decide on an operstate the kernel is still changing (a veth whose peer
 * just went down reads UP for most of a second: `.not.toHaveLink(dev, { state: 'DOWN' })` passed on it): read again
 * until it has settled; one that does not is a ProbeError.
 */
async function settled(ns: Netns, ifname: string, links: LinkInfo[], args: string): Promise<LinkInfo[]> {
  const changing = (l: LinkInfo[]) => {
    const link = l.find((x) => x.ifname === ifname);
    return link !== undefined && settling(link);
  };
  if (!changing(links)) return links;
  const after = await poll(() => ns.links(), (l) => !changing(l), SETTLE_MS);
  if (changing(after)) {
    const link = after.find((x) => x.ifname === ifname)!;
    throw new ProbeError(`the operstate of ${ifname} in ${ns} did not settle within ${SETTLE_MS} ms (${link.operstate}, flags ${link.flags.join(',')}), so .not.toHaveLink(${args}) has no verdict`);
  }
  return after;
}

/** The options that say something about the link itself, beyond its being there. */
const ASKED = ['state', 'master', 'kind', 'type', 'mtu', 'mac', 'carrier'] as const;

const INTERVAL_MS = 50;

/**
 * `.not` with a timeout: read the links every 50 ms for the whole window, stopping at the first read where the link
 * matches; the last read is at or after the window's end. With options (a claim about a link that is there), the link
 * must be there at every read, and be the same link (its ifindex): one deleted, renamed or replaced in the window is an
 * error, never a pass. Reads cannot see what happens between them, but the kernel counts every carrier change
 * (`carrier_changes`, printed by `ip -s -s`): more changes than the two reads show means the carrier came and went
 * unseen, and with everything else asked the same at both reads, the link matched in between (`flap` says so).
 */
async function watchNot(
  ns: Netns,
  ifname: string,
  timeoutMs: number,
  matches: (links: LinkInfo[]) => boolean,
  matchesBesidesCarrier: (links: LinkInfo[]) => boolean,
  watchCarrier: boolean,
  asked: readonly string[],
  args: string,
): Promise<{ links: LinkInfo[]; flap?: string }> {
  const started = Date.now();
  let prev: { links: LinkInfo[]; link: LinkInfo; at: number } | undefined;
  for (;;) {
    const at = Date.now() - started;
    const links = await ns.ipJson<LinkInfo[]>(['-s', '-s', '-d', 'link', 'show'], 'list links and their carrier changes');
    const link = links.find((l) => l.ifname === ifname);
    if (asked.length && !link) throw gone(ns, ifname, asked, args, ` ${at} ms into the ${timeoutMs} ms window`);
    // a read that matches is evidence whichever link it saw; the window's other reads are not, if the link changed
    if (matches(links)) return { links };
    if (link && prev && link.ifindex !== prev.link.ifindex) {
      throw new ProbeError(`${ifname} in ${ns} was replaced during the ${timeoutMs} ms window of .not.toHaveLink(${args}): ifindex ${prev.link.ifindex} at ${prev.at} ms, ${link.ifindex} at ${at} ms; what the window saw was two links, so no verdict`);
    }
    if (watchCarrier && link && prev && matchesBesidesCarrier(links) && matchesBesidesCarrier(prev.links)) {
      const [before, after] = [carrierChanges(ns, prev.link), carrierChanges(ns, link)];
      const seen = carrier(prev.link) === carrier(link) ? 0 : 1;
      if (after - before > seen) {
        // LOWER_UP is the carrier of a running link: a link down at either read may have counted changes it never showed
        if (!link.flags.includes('UP') || !prev.link.flags.includes('UP')) {
          throw new ProbeError(`the carrier of ${ifname} in ${ns} changed ${after - before} times between the reads at ${prev.at} ms and ${at} ms of the ${timeoutMs} ms window of .not.toHaveLink(${args}), but the link was down at one of them, so whether it showed a carrier (LOWER_UP) in between is unknown; no verdict`);
        }
        return { links, flap: `its carrier changed ${after - before} times between the reads at ${prev.at} ms and ${at} ms into the window (carrier_changes ${before} → ${after}), and the reads saw ${seen === 0 ? 'no change' : 'one'}: it ${carrier(link) ? 'lost' : 'had'} its carrier in between` };
      }
    }
    if (Date.now() - started >= timeoutMs) return { links };
    if (link) prev = { links, link, at };
    await new Promise((resolve) => setTimeout(resolve, Math.min(INTERVAL_MS, Math.max(0, timeoutMs - (Date.now() - started)))));
  }
}

/** The kernel's count of the link's carrier changes (IFLA_CARRIER_CHANGES); without it, no evidence between reads. */
function carrierChanges(ns: Netns, link: LinkInfo): number {
  const count = (link.stats64 as { tx?: { carrier_changes?: unknown } } | undefined)?.tx?.carrier_changes;
  if (typeof count !== 'number') throw new ProbeError(`\`ip -s -s link show\` in ${ns} printed no carrier_changes for ${link.ifname}: what its carrier did between two reads is unknown, so a .not.toHaveLink with carrier and timeout has no verdict`);
  return count;
}

/** The error of a `.not.toHaveLink` with options whose link is not there: no verdict about a link that is not there. */
function gone(ns: Netns, ifname: string, asked: readonly string[], args: string, when: string): NotFoundError {
  return new NotFoundError(
    'interface',
    ifname,
    `${ns} has no link ${ifname}${when}, so .not.toHaveLink(${args}) has nothing to say about its ${asked.join(', ')} (a misspelt, deleted or renamed link would pass it); to assert that the link is not there, use .not.toHaveLink(${JSON.stringify(ifname)})`,
  );
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
