/**
 * Probes: real packets from inside a lab namespace, and verdicts backed by evidence (ARCHITECTURE.md, "A verdict").
 *
 * - ICMP: iputils `ping`, one echo request every 100 ms, stopped (SIGINT) at the deadline. Every reply that arrives
 *   before the deadline counts, however late its request was answered; there is no per-try timeout shorter than the
 *   window. "Not reached" needs evidence: ping's own count of requests sent must prove it was sending for at least the
 *   whole window; a probe the machine starved of CPU is tried again with a longer deadline, then is an error.
 * - TCP/UDP: socat, against the user's own server or a short-lived responder started where the packet lands (after a
 *   DNAT rule of the target's owner, if one matches; never in the lab host, which stands for the machine). The window
 *   starts once the responder listens, and the responder is stopped when the probe ends.
 * - Any failure of the machinery itself (nsenter, a vanished namespace, a responder that did not start, a tool that
 *   failed) is a ProbeError, never "not reached".
 *
 * Where the packets land (DNAT, responders, the spec's own servers, seenAs witnesses) is src/landing.ts.
 */
import { InvalidInputError, ProbeError, formatValue } from './errors.js';
import { addressFacing, canonical, hostPort, parseAddress, parseProbeAddress, type Family } from './address.js';
import { checkIfname } from './names.js';
import { Netns, globalAddressesOf, type AddrInfo, type RouteInfo } from './netns.js';
import { describeRoute } from './diagnose/describe.js';
import { labAddresses, ownerIn } from './state.js';
import { neighborLimitFix, neighborTable } from './neighbor-table.js';
import { parseIcmpRedirects, parseUdpCounters, type UdpCounters } from './parse/proc.js';
import { parseAddresses } from './parse/ip.js';
import { type From, type Delivery, type LandingWatch, type Onward, type Server, checkRan, explainDnat, listens, peerAddress, firstLine, startResponder, watchLanding, type ProbeTarget, type Landing, type Protocol } from './landing.js';
export { serve, dnatRule, type ServeOptions, type Server, type ProbeTarget, type Landing, type Protocol } from './landing.js';

export interface ProbeOutcome {
  reached: boolean;
  /** TCP RST or ICMP port unreachable. */
  refused: boolean;
  /** The source had no route (`Network is unreachable`). */
  noRoute: boolean;
  /** The first ICMP error the source received (`From 192.168.15.3 icmp_seq=1 Destination Host Unreachable`). */
  icmpError?: string;
  /**
   * ICMP: the TTL (IPv6: hop limit) of the reply from the target, as the source's kernel handed it to ping (iputils
   * prints it with the reply: `ttl=63`). What the target sent, less one per router on the way back.
   */
  ttl?: number;
  /** The source address the target saw (with `seenAs` or a responder). */
  seenAs?: string;
  /** Every source address the target's witness recorded (ICMP `seenAs`). */
  seenSources?: string[];
  elapsedMs: number;
  /** Evidence: probe packets (echo requests) or connection attempts that left the source. */
  sent: number;
  /** Evidence: how long the probe was watching for an answer after its first packet, in ms (at least). */
  watchedMs: number;
  /** TCP/UDP: where the packets landed (observed) and what answered there. */
  landing?: Landing;
  /** TCP: the far end accepted the connection and closed it without sending a byte. */
  hungUp?: boolean;
  /** TCP/UDP: the far end sent at least a byte. */
  spoke?: boolean;
  /** TCP/UDP: an answer that did not come from the end meant (a proxy, a SYN proxy), and why: evidence, not a pass. */
  completedBy?: string;
  /**
   * ICMP: the path MTU the network (ICMP "fragmentation needed" / "packet too big", from `from`) or the source's own
   * kernel (its route's MTU, or one learnt earlier: no `from`) gave as the reason a packet with DF set could not pass.
   */
  pmtu?: { mtu: number; from?: string };
  /** `ns$ command → exit code` lines, for the failure message. */
  log: string[];
}

/** Resolve a `toReach` target: an address, a namespace handle (its address on a link shared with the source) or `{ address, port }`. */
export async function resolveTarget(
  source: Netns,
  target: unknown,
  options: { protocol?: Protocol; port?: number; family?: Family },
): Promise<ProbeTarget> {
  let address: string;
  let ns: Netns | undefined;
  let port = options.port;
  if (target instanceof Netns) {
    if (target.lab !== source.lab) throw new InvalidInputError('target', String(target), `it belongs to ${target.lab}, the source to ${source.lab}; probe within one lab`);
    ns = target;
    address = await addressOn(source, target, options.family);
  } else if (typeof target === 'string') {
    address = parseProbeAddress(target, 'target address').address;
  } else if (target !== null && typeof target === 'object' && !Array.isArray(target) && 'address' in target) {
    // a key the target does not know would mean something netspec did not do (`protocol: 'udp'` probed as TCP)
    for (const key of Object.keys(target)) {
      if (key !== 'address' && key !== 'port') {
        const where = key === 'protocol' || key === 'from' || key === 'seenAs' ? `; it is an option of toReach: toReach({ address, port }, { ${key} })` : '';
        throw new InvalidInputError('target key', key, `unknown key of a target object; a target takes address, port${where}`);
      }
    }
    const t = target as { address: unknown; port?: unknown };
    address = parseProbeAddress(t.address, 'target address').address;
    if (t.port !== undefined && port !== undefined && t.port !== port) {
      throw new InvalidInputError('port', port, `the target object says port ${formatValue(t.port)} and the options port ${port}: give the port once`);
    }
    if (t.port !== undefined) port = t.port as number;
  } else {
    throw new InvalidInputError('target', target, 'expected an IP address ("192.168.15.2"), a namespace handle, or { address, port }');
  }
  checkPort(port);
  const protocol = options.protocol ?? (port === undefined ? 'icmp' : 'tcp');
  if (!['icmp', 'tcp', 'udp'].includes(protocol)) throw new InvalidInputError('protocol', protocol, 'expected "icmp", "tcp" or "udp"');
  if (protocol !== 'icmp' && port === undefined) throw new InvalidInputError('port', port, `a ${protocol.toUpperCase()} probe needs a port: { port: 80 } or { address, port }`);
  if (protocol === 'icmp' && port !== undefined) throw new InvalidInputError('port', port, 'an ICMP probe has no port; say { protocol: "tcp" } or "udp" to probe a port');
  return { address, family: address.includes(':') ? 6 : 4, port, protocol, ns };
}

function checkPort(port: unknown): asserts port is number | undefined {
  if (port !== undefined && (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535)) {
    throw new InvalidInputError('port', port, 'expected a whole number from 1 to 65535');
  }
}

/** The address of `target` on a subnet the source also has, else its first global address. */
async function addressOn(source: Netns, target: Netns, family?: Family): Promise<string> {
  // one read of the source's addresses: its global ones (to face the target) and all of them (its own, never probed)
  const [links, theirs] = await Promise.all([source.addresses(), target.globalAddresses(family)]);
  const mine = globalAddressesOf(links, family);
  if (theirs.length === 0) {
    throw new InvalidInputError('target', String(target), `${target.name} has no global address${family ? ` (IPv${family})` : ''} to probe; give it one, or pass an address`);
  }
  // an address the source has too (on any link, lo included) is delivered inside the source: its own reply would read
  // as the target's, whatever the target's state (a duplicate address, a link down)
  const own = new Set(source === target ? [] : links.flatMap((l) => (l.addr_info ?? []).map((a) => canonical(a.local))));
  const others = theirs.filter((t) => !own.has(canonical(t.address)));
  if (others.length === 0) {
    throw new ProbeError(`every address of ${target.name} (${theirs.map((t) => t.address).join(', ')}) is also one of ${source.name}'s own: a probe to it is answered by ${source.name} itself, never by ${target.name}; no verdict. Give ${target.name} an address of its own`);
  }
  return canonical(addressFacing(mine, others)!);
}

/** `from`: one of the source namespace's own addresses or interfaces; anything else is refused, never probed. */
async function checkFrom(source: Netns, from: unknown, family: Family, links: AddrInfo[]): Promise<From> {
  if (from === undefined) return {};
  if (typeof from !== 'string') throw new InvalidInputError('from', from, 'expected one of the namespace\'s addresses ("192.168.15.1") or interfaces ("veth-red")');
  if (isAddressWord(from)) {
    const { address, family: f } = parseAddress(from, 'from');
    const mine = links.flatMap((l) => (l.addr_info ?? []).map((a) => canonical(a.local)));
    if (!mine.includes(address)) throw new InvalidInputError('from', from, `${source.name} has no such address (its addresses: ${mine.join(', ') || 'none'}); give one of them`);
    if (f !== family) throw new InvalidInputError('from', from, `it is IPv${f} but the target is IPv${family}`);
    return { address };
  }
  const dev = checkIfname(from, 'from (source address or interface)');
  if (!links.some((l) => l.ifname === dev)) {
    throw new InvalidInputError('from', from, `${source.name} has no interface called ${JSON.stringify(dev)} (its interfaces: ${links.map((l) => l.ifname).join(', ')})`);
  }
  return { dev };
}

async function readAddresses(source: Netns): Promise<AddrInfo[]> {
  const read = await source.lab.run(source.name, ['ip', '-j', 'addr', 'show'], { intent: 'list addresses', reject: false });
  checkRan(source, read, `reading ${source.name}'s addresses for the probe`);
  if (read.exitCode !== 0) throw new ProbeError(`could not read ${source}'s addresses for the probe: \`ip -j addr show\` exited ${read.exitCode}${firstLine(read.stderr)}; no verdict`);
  return parseAddresses(read.stdout, `${source.name}$ ip -j addr show`);
}

/**
 * A target the source holds itself (on any link, lo included; loopback addresses too) is delivered inside the source:
 * its own kernel answers a ping, and a responder netspec started there would answer a TCP/UDP probe, so "reached" would
 * prove nothing about the network. Refused, in every spelling (the target is canonical already: upper case, zeros,
 * compression; IPv4-mapped addresses are refused when parsed). The one exception is a TCP/UDP probe with
 * `responder: false` and `seenAs`: a server elsewhere reached through a proxy or a DNAT in the source's own OUTPUT
 * (Docker's published ports from the host), whose answer reports the source it saw.
 */
function checkNotOwn(source: Netns, target: ProbeTarget, links: readonly AddrInfo[], options: ProbeOptions): void {
  if (target.ns === source) return; // a namespace probing itself by handle is asked for on purpose (addressOn)
  if (target.protocol !== 'icmp' && options.responder === false && options.seenAs) return;
  const own = links.flatMap((l) => (l.addr_info ?? []).map((a) => ({ address: canonical(a.local), dev: l.ifname })));
  const held = own.find((a) => a.address === target.address);
  const loopback = target.family === 4 ? target.address.startsWith('127.') : target.address === '::1';
  if (held || loopback) {
    throw new InvalidInputError(
      'target',
      target.address,
      `${source.name} holds ${target.address} itself (${held ? `on ${held.dev}` : 'a loopback address'}): a probe to it never leaves ${source.name} and is answered by ${source.name}'s own kernel${target.protocol === 'icmp' ? '' : ' or a responder there'}, so it proves nothing about the network; probe an address of another namespace${
        target.protocol === 'icmp' ? '' : ' (or, for a port a proxy or DNAT forwards elsewhere, say { responder: false, seenAs } so the answer proves which end it came from)'
      }`,
    );
  }
}

/** A handle whose namespace was deleted and made again under its name is not the namespace it was made for. */
export function checkSame(ns: Netns): void {
  const now = ns.lab.identityOf?.(ns.name);
  if (now === undefined) return; // gone altogether: the probe's own command says so (checkRan)
  if (ns.identity === undefined) ns.identity = now;
  else if (ns.identity !== now) {
    throw new ProbeError(`${ns} was deleted and made again since this handle was made: the handle is not for the namespace there now; take a new one with lab.get(${JSON.stringify(ns.name)}); no verdict`);
  }
}

export interface ProbeOptions {
  durationMs: number;
  /** `success`: stop at the first answer (a positive assertion); `window`: watch the whole window (for `.not`). */
  until?: 'success' | 'window';
  from?: string;
  responder?: boolean;
  /** Record the source address the target saw. */
  seenAs?: boolean;
  /** TCP/UDP: read where the packets landed even when a marked answer came at once (toLandOn). */
  landing?: boolean;
  /** The packet's own fields (checked by the caller): TOS, a fixed source port, ICMP size and DF. */
  packet?: PacketOptions;
  /** Who reads the explanation (MatcherContext.audience): a learner's has no API names in it. */
  audience?: 'spec' | 'learner';
}

/** What a probe's packets carry, when asked for (toReach's tos, sourcePort, size, dontFragment). */
export interface PacketOptions {
  tos?: number;
  sourcePort?: number;
  size?: number;
  dontFragment?: boolean;
}

/** How long `.not` keeps listening past its window: an answer to a probe sent inside the window still counts. */
const graceMs = (windowMs: number) => Math.max(200, Math.round(windowMs / 4));

/**
 * How long past a `.not` window ping runs: time for `timeout` and ping to start and send the window's last request.
 * Not a grace for late answers: the evidence is ping's own count (its first request out for the whole window, and
 * ping listening all the while), so a reply that arrives within the window is always counted.
 */
const ICMP_SLACK_MS = 60;

/** The ICMP echo interval, and how many starved tries a `.not` gets before it is an error. */
const INTERVAL_MS = 100;
/** A TCP `.not` window tried again after ICMP redirects: a client's SYNs at 0, 1 and 3 s, and an answer's way back. */
const REDIRECTED_TCP_WINDOW_MS = 3500;
const STARVED_TRIES = 3;

/**
 * Probe until the first success or `durationMs` (`until: 'success'`), or for the whole window (`until: 'window'`,
 * for `.not`: nothing may succeed during it). Stops at once when there is no route.
 */
export async function probe(source: Netns, target: ProbeTarget, options: ProbeOptions): Promise<ProbeOutcome> {
  const durationMs = options.durationMs;
  if (typeof durationMs !== 'number' || !Number.isFinite(durationMs) || durationMs <= 0 || durationMs > 3_600_000) {
    throw new InvalidInputError('probe duration', durationMs, 'expected a number of ms > 0 and at most an hour');
  }
  checkSame(source);
  if (target.ns) checkSame(target.ns);
  const until = options.until ?? 'success';
  // the source's addresses, read as a probe command (a namespace that is gone or not a namespace is a ProbeError): a
  // target it holds itself is refused. Read before the probe when `from` needs them, else beside it (the probe's
  // outcome is dropped if the target turns out to be the source's own), so a probe that passes waits for no extra process
  const reading = readAddresses(source);
  // (awaited below; while the redirect counter is read beside it, a rejection must not count as unhandled)
  reading.catch(() => undefined);
  // the ICMP redirects the source has received so far (a `.not` window over TCP or UDP in a lab: see below; attach
  // mode runs only commands that read through ip, ss, nft and the like), read before the probe's first packet
  const countRedirects = until === 'window' && target.protocol !== 'icmp' && source.lab.refusesTables() === undefined;
  const redirectsBefore = countRedirects ? await redirectCount(source, target.family) : undefined;
  // the machine's neighbor table is shared by every namespace (src/neighbor-table.ts): when it overflows while a probe
  // goes unanswered, the kernel dropped packets for a reason outside the lab, and there is no verdict
  let table: ReturnType<typeof neighborTable>;
  let outcome: ProbeOutcome;
  let from: From = {};
  if (options.from !== undefined) {
    const links = await reading;
    checkNotOwn(source, target, links, options);
    from = await checkFrom(source, options.from, target.family, links);
    table = neighborTable(target.family);
    outcome = await probeWith(source, target, { ...from, ...options.packet }, durationMs, until, options);
  } else {
    table = neighborTable(target.family);
    const [own, probed] = await Promise.allSettled([reading.then((l) => checkNotOwn(source, target, l, options)), probeWith(source, target, { ...options.packet }, durationMs, until, options)]);
    if (own.status === 'rejected') throw own.reason;
    if (probed.status === 'rejected') throw probed.reason;
    outcome = probed.value;
  }
  // the window's one try may itself have taught the source a new path: a router that drops it but answers with an ICMP
  // redirect ("go direct") makes the kernel route later packets around it (the first redirect resolves the new
  // gateway's address, the next one installs the route exception), so a client's retransmissions connect a second or
  // three later. The kernel counts the redirects the source received: while a window's did, the window is tried
  // again, twice at most (an ICMP probe sends every 100 ms, and its later echoes already take the new path). A source
  // that ignores redirects keeps its verdict, two windows later. The count is the namespace's: another probe's redirect
  // costs this one a window, never a verdict.
  let redirects = redirectsBefore ?? 0;
  for (let extra = 0; countRedirects && extra < 2 && !outcome.reached && !outcome.noRoute; extra++) {
    const now = await redirectCount(source, target.family);
    if (now <= redirects) break;
    const looked = await senderRoute(source, target.address, from, target.protocol).catch(() => undefined);
    const route = Array.isArray(looked?.cache) && looked.cache.includes('redirected') ? looked : undefined;
    const first = outcome.log;
    // TCP: a socket still in connect() misses the redirect its first SYN draws (the kernel drops an ICMP error for a
    // socket its owner holds: TcpExtLockDroppedIcmps); its retransmissions, 1 s and 3 s later, get theirs (the first
    // resolves the new gateway's address, the second installs the route). So the first window again is as long as a
    // client's first three SYNs, and the next one's first SYN takes the new route (a client connected at 3.1 s where a
    // 400 ms window saw nothing; one that knew the router's address already, at about 7 s)
    const window = target.protocol === 'tcp' && extra === 0 ? Math.max(durationMs, REDIRECTED_TCP_WINDOW_MS) : durationMs;
    const again = await probeWith(source, target, { ...from, ...options.packet }, window, until, options);
    again.log = [
      ...first,
      `${source.name}$ cat ${target.family === 6 ? '/proc/net/snmp6' : '/proc/net/snmp'}: ${now - redirects} ICMP redirect(s) received during the window${route ? `; the route now: ${describeRoute(route)}` : ''}: a client's next try may go around the gateway that dropped this one; the window again${window === durationMs ? '' : `, ${window} ms (a client's SYN retransmissions)`}:`,
      ...again.log,
    ];
    outcome = again;
    redirects = now;
  }
  const after = table && !outcome.reached ? neighborTable(target.family) : undefined;
  if (table && after && after.tableFulls > table.tableFulls) {
    throw new ProbeError(
      `${source.name} got no answer from ${target.address}, but meanwhile the machine's ${target.family === 4 ? 'ARP' : 'IPv6 neighbor'} table overflowed (${after.tableFulls - table.tableFulls} times; ${after.entries} entries, limit ${after.limit}, shared by every namespace of the machine), so the kernel may have dropped the packets for want of room; no verdict. ${neighborLimitFix(target.family, after.entries)}`,
    );
  }
  return outcome;
}

/**
 * The ICMP redirects `source` has received (its namespace's Icmp InRedirects / Icmp6InRedirects). Unreadable: a
 * ProbeError (whether the probe's path changed under it would be unknown).
 */
async function redirectCount(source: Netns, family: Family): Promise<number> {
  const file = family === 6 ? '/proc/net/snmp6' : '/proc/net/snmp';
  const r = await source.lab.run(source.name, ['cat', '--', file], { intent: 'read the ICMP redirect counter', reject: false });
  checkRan(source, r, `reading ${source.name}'s ICMP redirect counter for the probe`);
  const n = r.exitCode === 0 ? parseIcmpRedirects(r.stdout, family) : undefined;
  if (n === undefined) throw new ProbeError(`could not read the ICMP redirect counter of ${source.name} (${file}: ${r.exitCode === 0 ? 'no InRedirects in it' : `cat exited ${r.exitCode}${firstLine(r.stderr)}`}), so whether an ICMP redirect changed the probe's path during the window is unknown; no verdict`);
  return n;
}

/** How `from` reads: an address (hex digits, dots and colons, with a dot or colon) or else an interface name. */
const isAddressWord = (from: string): boolean => /^[0-9a-fA-F.:]+$/.test(from) && /[.:]/.test(from);

/** A `from` option as the probe reads it (not checked against the namespace: checkFrom does that). */
export function fromWords(from: string | undefined): From {
  return from === undefined ? {} : isAddressWord(from) ? { address: from } : { dev: from };
}

/**
 * The route a probe's packets take. TCP and UDP as connect() looks it up: once without a source, then again from the
 * source address that lookup picked (an `ip rule from ADDR` can send them elsewhere than the first answer says); from
 * the address they are bound to, if any. ICMP as ping's unbound raw socket sends: without a source. Only for
 * explanations: where the packets went is what the landing watch saw.
 */
export async function senderRoute(ns: Netns, address: string, from: From, protocol: Protocol): Promise<RouteInfo | undefined> {
  const first = await ns.routeGet(address, from.address ? { from: from.address } : {});
  if (from.address || from.dev || protocol === 'icmp' || !first?.prefsrc) return first;
  const again = await ns.routeGet(address, { from: first.prefsrc }).catch(() => undefined);
  // (a lookup `from` an address prints no `src`: it is that address)
  return again ? { ...again, prefsrc: again.prefsrc ?? first.prefsrc } : first;
}

async function probeWith(source: Netns, target: ProbeTarget, from: From, durationMs: number, until: 'success' | 'window', options: ProbeOptions): Promise<ProbeOutcome> {
  if (target.protocol !== 'icmp') return portProbe(source, target, from, durationMs, until, options);
  if (!options.seenAs) return icmpProbe(source, target, from, durationMs, until);
  // ICMP with seenAs: netspec's landing watch in every namespace records the source of the probe's own echo requests
  // (a payload nonce, `ping -p`) where they are delivered: never any other echo request to the target
  const watch = await watchLanding(source.lab, target);
  if (!('read' in watch)) throw new InvalidInputError('seenAs', target.address, `${(watch as { unavailable: string }).unavailable}; prove the source with a TCP/UDP probe to a server started with serve() instead`);
  try {
    const outcome = await icmpProbe(source, target, from, durationMs, until, watch.nonce);
    const delivered = await watch.read();
    const seen = [...new Set(delivered.map((d) => d.source))];
    outcome.seenSources = seen;
    outcome.seenAs = seen[0];
    const where = [...new Set(delivered.map((d) => `${d.ns} (as ${d.address})`))];
    outcome.log.push(`every namespace$ netspec's landing watch: the probe's own echo requests (payload ${watch.nonce}) were delivered to ${where.join(', ') || 'no namespace'}${seen.length ? `, from ${seen.join(', ')}` : ''}`);
    return outcome;
  } finally {
    await watch.stop();
  }
}

/**
 * A connect() the kernel refused with EINVAL or EACCES (ping words the latter "Do you want to ping broadcast?") is a
 * blackhole or prohibit route only if the kernel's own lookup refuses the same way; then it is "no route", with evidence.
 */
async function refusedByRoute(source: Netns, target: { address: string }, from: From, stderr: string): Promise<boolean> {
  if (!/Invalid argument|Permission denied|Do you want to ping broadcast/.test(stderr)) return false;
  const lookup = await source.lookupRoute(target.address, from.address ? { from: from.address } : {});
  return lookup.refusedBy === 'blackhole' || lookup.refusedBy === 'prohibit';
}

async function icmpProbe(source: Netns, target: ProbeTarget, from: From, durationMs: number, until: 'success' | 'window', nonce?: string): Promise<ProbeOutcome> {
  const started = performance.now();
  const log: string[] = [];
  // `.not`: ping runs a little past its window, enough for its last request of the window (the verdict needs the first
  // request out for the whole window, counted by ping itself: watchedMs below; a starved ping is tried again for longer)
  let budget = until === 'window' ? durationMs + ICMP_SLACK_MS : durationMs;
  // the last attempt that ended in an ICMP error: evidence already, should a short retry be cut off before ping spoke
  let errored: ProbeOutcome | undefined;
  for (let attempt = 1; ; attempt++) {
    const argv = ['timeout', '--preserve-status', '-s', 'INT', '-k', '2', (budget / 1000).toFixed(3), 'ping', '-n', '-c', '1', '-w', String(Math.ceil(budget / 1000) + 1), '-i', String(INTERVAL_MS / 1000)];
    if (from.address ?? from.dev) argv.push('-I', (from.address ?? from.dev)!);
    argv.push(...packetArgs(from, target.family));
    // the probe's own echo requests carry a nonce that netspec's landing watch recognises
    if (nonce) argv.push('-p', nonce);
    argv.push(target.address);
    const r = await source.lab.run(source.name, argv, { intent: `ping ${target.address}`, reject: false, timeoutMs: budget + 10_000 });
    checkRan(source, r, `the ICMP probe (ping ${target.address})`);
    const out = r.stdout + r.stderr;
    const stats = /(\d+) packets transmitted, (\d+) received/.exec(out);
    const sent = Number(stats?.[1] ?? 0);
    const received = Number(stats?.[2] ?? 0);
    const noRoute = received === 0 && (/Network is unreachable|No route to host/.test(r.stderr) || (await refusedByRoute(source, target, from, r.stderr)));
    const icmpError = /^From \S+ icmp_seq=\d+ .*$/m.exec(r.stdout)?.[0];
    const ttl = received > 0 ? replyTtl(r.stdout, target.address) : undefined;
    // with DF set by the caller, the path MTU is an answer; without it (the kernel's default, -M want) the kernel learns
    // the MTU from that error and fragments the next request itself: the ICMP error is retried as any other
    const pmtu = received === 0 && from.dontFragment === true ? pathMtu(out) : undefined;
    log.push(`${source.name}$ ping ${target.address}${from.address ?? from.dev ? ` -I ${from.address ?? from.dev}` : ''} (every ${INTERVAL_MS} ms, ${Math.round(budget)} ms) → ${sent} sent, ${received} received${ttl !== undefined ? ` (reply ttl=${ttl})` : ''}${icmpError ? `; ${icmpError}` : noRoute ? `; ${firstLine(r.stderr).slice(2)}` : ''}`);
    if (!stats && !noRoute && errored) return errored;
    if (!stats && !noRoute) throw new ProbeError(`the ICMP probe in ${source} gave no result: \`ping\` exited ${r.exitCode}${firstLine(out)}; no verdict`);
    const watchedMs = Math.max(0, sent - 1) * INTERVAL_MS;
    const outcome: ProbeOutcome = { reached: received > 0, refused: false, noRoute, icmpError, ttl, pmtu, elapsedMs: performance.now() - started, sent, watchedMs, log };
    // a packet too big for the path, DF set: the network (or the source's kernel) said so, and only configuration changes it
    if (outcome.reached || noRoute || pmtu) return outcome;
    if (sent === 0) throw new ProbeError(`the ICMP probe in ${source} sent nothing in ${Math.round(budget)} ms${firstLine(out)}; no verdict`);
    if (icmpError) {
      // the network answered with an error (ping stops at it): evidence of "not reached" in itself; a positive
      // assertion keeps trying until its deadline, as the path may be coming up
      const left = started + durationMs - performance.now();
      if (until === 'window' || left < INTERVAL_MS) return outcome;
      errored = outcome;
      await new Promise((r) => setTimeout(r, INTERVAL_MS));
      budget = left - INTERVAL_MS;
      attempt = 0;
      continue;
    }
    // evidence: the first request was out for at least the window, and ping was running to hear an answer
    if (until === 'success' || watchedMs >= durationMs) return outcome;
    if (attempt >= STARVED_TRIES) {
      throw new ProbeError(
        `the ICMP probe from ${source} to ${target.address} was starved: ping sent only ${sent} echo requests in ${Math.round(budget)} ms, so it cannot prove that nothing answered within ${durationMs} ms (tried ${attempt} times; is the machine overloaded?); no verdict`,
      );
    }
    log.push(`${source.name}: only ${sent} requests left in ${Math.round(budget)} ms (starved of CPU?): not enough evidence for "not reached", trying again for longer`);
    budget *= 2;
  }
}

/** ping's words for the packet's own fields: `-Q tos`, `-s payload` (size less the IP and ICMP headers), `-M do|dont`. */
function packetArgs(p: From, family: Family): string[] {
  const argv: string[] = [];
  if (p.tos !== undefined) argv.push('-Q', String(p.tos));
  if (p.size !== undefined) argv.push('-s', String(p.size - icmpHeaders(family)));
  if (p.dontFragment !== undefined) argv.push('-M', p.dontFragment ? 'do' : 'dont');
  return argv;
}

/** The IP and ICMP headers of an echo request: 20 + 8 (IPv4), 40 + 8 (IPv6). */
export const icmpHeaders = (family: Family): number => (family === 6 ? 48 : 28);

/**
 * The path MTU ping reports as the reason a packet with DF set did not pass: an ICMP "fragmentation needed" / ICMPv6
 * "packet too big" from a router (`From 10.0.1.1 icmp_seq=1 Frag needed and DF set (mtu = 1400)`), or the source's own
 * kernel refusing to send it (`ping: local error: message too long, mtu=1400`).
 */
function pathMtu(out: string): { mtu: number; from?: string } | undefined {
  const remote = /^From (\S+) icmp_seq=\d+ (?:Frag needed and DF set \(mtu = (\d+)\)|Packet too big: mtu=(\d+))/m.exec(out);
  if (remote) return { mtu: Number(remote[2] ?? remote[3]), from: remote[1] };
  const local = /local error: message too long, mtu[=:] ?(\d+)/.exec(out);
  return local ? { mtu: Number(local[1]) } : undefined;
}

/** The TTL of the first echo reply from `address` in ping's output (`64 bytes from 10.0.0.2: icmp_seq=1 ttl=63 …`). */
function replyTtl(stdout: string, address: string): number | undefined {
  for (const m of stdout.matchAll(/^\d+ bytes from (\S+): icmp_seq=\d+ ttl=(\d+)/gm)) {
    let from: string;
    try {
      from = parseAddress(m[1], 'reply source').address;
    } catch {
      continue; // not an address (a scoped fe80::…%dev, a name): not the target's reply
    }
    if (from === address) return Number(m[2]);
  }
  return undefined;
}

async function portProbe(source: Netns, target: ProbeTarget, from: From, durationMs: number, until: 'success' | 'window', options: ProbeOptions): Promise<ProbeOutcome> {
  const lab = source.lab;
  const log: string[] = [];
  const respond = options.responder !== false && lab.refusesResponders() === undefined;
  // where the probe's packets land is observed (the kernel's own delivery of the probe's own packets), never read
  // from the rules: a watch of netspec's own in every namespace records them at input, after every NAT
  const started = await watchLanding(lab, target, from.sourcePort);
  const watch = 'read' in started ? started : undefined;
  if (!watch) log.push(`(${(started as { unavailable: string }).unavailable})`);
  // UDP without a watch (attach mode): the namespace-wide counters of the target's owner are the only evidence of a
  // server that received the probe and stayed silent, read before the tries
  const counted = !watch && target.protocol === 'udp' ? await unwatchedServer(source, target, log) : undefined;
  let responder: Server | undefined;
  try {
    const outcome = await portTries(source, target, from, durationMs, until, respond, watch, log, (r) => (responder = r), options.landing === true, options.audience);
    // UDP: silence is not refusal (a server that received the probe and stayed silent, or whose answer was lost)
    if (target.protocol === 'udp' && !outcome.reached && !outcome.refused && !outcome.noRoute) {
      if (watch) await checkSilence(source, target, outcome, watch, log);
      else if (counted) await checkSilenceByCounters(source, target, counted, log);
    }
    return outcome;
  } finally {
    // waited for: a probe right after this one (`responder: false`) must never reach this responder
    await (responder as Server | undefined)?.stop();
    await watch?.stop();
  }
}

const silenceAdvice = 'Silence is not "not reached"; no verdict. Probe a server that answers, or stop the server to test that the port is closed';

/**
 * A UDP probe that got no answer from a server of the spec's own where it landed: netspec's landing watch saw the
 * probe's own datagrams pass every input filter there (so the kernel handed them to the listening socket), and whether
 * that namespace sent anything back to the probe's ports. Per flow: other UDP traffic in the lab never counts.
 */
async function checkSilence(source: Netns, target: ProbeTarget, outcome: ProbeOutcome, watch: LandingWatch, log: string[]): Promise<void> {
  const l = outcome.landing;
  if (!l?.observed || l.answered !== 'server' || !l.ns) return;
  const here = (d: Delivery) => d.ns === l.ns && d.port === l.port && watch.ports.includes(d.sport!);
  let fate = await watch.udpFate();
  const received = fate.received.filter((d) => d.ns === l.ns && d.address === l.address && here(d));
  if (received.length === 0) {
    log.push(`${l.ns}$ netspec's landing watch: none of the probe's datagrams to ${l.address}:${l.port} passed the input filters there (dropped before the socket)`);
    return;
  }
  // received: give the server a second to answer before calling it silent (the answer itself still did not come:
  // this only tells "silent" from "answer lost", both errors)
  for (let i = 0; i < 5 && !fate.answers.some(here); i++) {
    await new Promise((r) => setTimeout(r, 200));
    fate = await watch.udpFate();
  }
  const answers = fate.answers.filter(here);
  log.push(`${l.ns}$ netspec's landing watch: ${received.length} of the probe's datagrams passed every input filter to ${l.address}:${l.port}; ${answers.length} answer${answers.length === 1 ? '' : 's'} sent back to the probe's ports`);
  throw new ProbeError(
    `${source.name}'s UDP probe to ${target.address}:${target.port} got no answer, but it was received: ${l.ns} has a server listening on UDP port ${l.port} (ss), and netspec's landing watch saw ${received.length} of the probe's own datagram${received.length === 1 ? '' : 's'} pass every input filter there to ${l.address}:${l.port}; ${
      answers.length > 0 ? `${l.ns} sent ${answers.length} back to the probe's source port${answers.length === 1 ? '' : 's'}, so an answer was lost on the way back` : 'nothing was sent back to the probe: the server received the datagram and stayed silent'
    }. ${silenceAdvice}`,
  );
}

/**
 * Attach mode (no landing watch): the namespace that holds the target address, if a UDP server listens there on the
 * port, and its UDP counters before the probe (namespace-wide: the best evidence there is without a table of netspec's).
 */
async function unwatchedServer(source: Netns, target: ProbeTarget, log: string[]): Promise<{ ns: string; before: UdpCounters } | undefined> {
  try {
    const ns = target.ns?.name ?? ownerIn(await labAddresses(source.lab), target.address);
    if (!ns || !(await listens(source.lab, ns, 'udp', target.port!))) return undefined;
    const before = await udpCounters(source, ns, target.family);
    if (!before) log.push(`${ns}: no UDP counters could be read (/proc/net/snmp): whether a server received the probe is unknown`);
    return before ? { ns, before } : undefined;
  } catch {
    return undefined; // evidence for an error only: without it, the verdict stands as the probe found it
  }
}

async function checkSilenceByCounters(source: Netns, target: ProbeTarget, counted: { ns: string; before: UdpCounters }, log: string[]): Promise<void> {
  const { ns: silent, before } = counted;
  let after = await udpCounters(source, silent, target.family);
  // received: give the server a second to answer before calling it silent (see checkSilence)
  for (let i = 0; i < 5 && after && after.inDatagrams > before.inDatagrams && after.outDatagrams === before.outDatagrams; i++) {
    await new Promise((r) => setTimeout(r, 200));
    after = (await udpCounters(source, silent, target.family)) ?? after;
  }
  if (!after) {
    log.push(`${silent}: no UDP counters could be read (/proc/net/snmp): whether a server received the probe is unknown`);
    return;
  }
  const received = after.inDatagrams - before.inDatagrams;
  const sent = after.outDatagrams - before.outDatagrams;
  log.push(`${silent}$ cat /proc/net/snmp${target.family === 6 ? '6' : ''}: UDP datagrams delivered to sockets ${before.inDatagrams} → ${after.inDatagrams}, sent ${before.outDatagrams} → ${after.outDatagrams} (namespace-wide: where the probe landed is not observed here)`);
  if (received > 0) {
    throw new ProbeError(
      `${source.name}'s UDP probe to ${target.address}:${target.port} got no answer, but it was received: ${silent} has a server listening on UDP port ${target.port} (ss), and its kernel delivered ${received} datagram${received === 1 ? '' : 's'} to UDP sockets during the probe (Udp InDatagrams ${before.inDatagrams} → ${after.inDatagrams}); ${
        sent > 0 ? `it sent ${sent} (OutDatagrams), so an answer was lost on the way back` : 'it sent nothing back: the server received the datagram and stayed silent'
      }. ${silenceAdvice}`,
    );
  }
}

/** The UDP counters of namespace `name` (/proc/net/snmp, snmp6): undefined where they cannot be read. */
async function udpCounters(source: Netns, name: string, family: Family): Promise<UdpCounters | undefined> {
  const file = family === 6 ? '/proc/net/snmp6' : '/proc/net/snmp';
  const r = await source.lab.run(name, ['cat', '--', file], { intent: 'read the UDP counters', reject: false }).catch(() => undefined);
  return r?.exitCode === 0 ? parseUdpCounters(r.stdout, family) : undefined;
}

/**
 * The TCP/UDP probe's tries, until an answer from the end the user meant, no route, or the deadline. The first try
 * also finds where the packets land: when it is refused or unanswered, the watch says which namespace received it
 * (address and port after every NAT), and netspec's responder starts there if nothing listens; the window starts
 * again once it listens.
 */
async function portTries(
  source: Netns,
  target: ProbeTarget,
  from: From,
  durationMs: number,
  until: 'success' | 'window',
  respond: boolean,
  watch: LandingWatch | undefined,
  log: string[],
  started: (server: Server) => void,
  alwaysLand = false,
  audience: 'spec' | 'learner' = 'spec',
): Promise<ProbeOutcome> {
  const lab = source.lab;
  const protocol = target.protocol as 'tcp' | 'udp';
  const port = target.port!;
  let begun = performance.now();
  let deadline = begun + durationMs;
  // each try waits at least this long for an answer, so a slow machine cannot turn "late" into "never"
  const minTry = until === 'window' ? Math.min(durationMs, 1000) : 100;
  let refused = false;
  let sent = 0;
  let firstSent: number | undefined;
  let tries = 0;
  let landing: Landing | undefined;
  // once the landing place is known and settled (a responder there, the user's server, or nothing to start), the
  // watch is read again only to judge an answer
  let settled = false;
  const deliveriesOf = async (sport: number | undefined): Promise<Delivery[]> => {
    if (!watch || sport === undefined) return [];
    const all = (await watch.read()).filter((d) => d.sport === sport);
    const where = [...new Set(all.map((d) => `${d.ns} ${d.address}:${d.port}`))];
    if (where.length > 1) throw new ProbeError(`the probe's packets from source port ${sport} were delivered in more than one place (${where.join('; ')}): no single landing place; no verdict`);
    return all;
  };
  const landed = async (d: Delivery, answered: Landing['answered']): Promise<Landing> => {
    const info: Landing = { ns: d.ns, address: d.address, port: d.port!, answered, observed: true, seenBy: d.source };
    if (d.address !== target.address || d.port !== port) {
      info.dnat = await explainDnat(source, target, protocol, { ns: d.ns, address: d.address, port: d.port! });
      log.push(info.dnat);
    }
    return info;
  };
  for (;;) {
    // `.not` waits a little past its window for an answer, as the ICMP probe does: a late answer still counts
    const wait = Math.max(minTry, deadline - performance.now()) + (until === 'window' ? graceMs(durationMs) : 0);
    const t = performance.now();
    const sport = from.sourcePort ?? watch?.ports[tries++ % watch.ports.length];
    const last = await socatOnce(source, target.address, port, protocol, from, Math.min(wait, until === 'window' ? wait : 1000), log, sport);
    // UDP: a try counts once the kernel saw its datagram leave (socat sends only after reading its input, and gives up
    // at its inactivity timeout: starved of CPU, it can end having sent nothing, which proves nothing)
    if (protocol === 'udp' && !last.reached && watch && sport !== undefined && !(await watch.left()).some((l) => l.ns === source.name && l.sport === sport)) {
      log.push(`${source.name}: netspec's landing watch saw no datagram of this try leave (from source port ${sport}): not counted`);
      if (performance.now() < deadline) continue;
      if (sent === 0) {
        throw new ProbeError(`none of ${source.name}'s UDP probes to ${target.address}:${port} was seen by the kernel leaving ${source.name} within ${durationMs} ms (the prober was starved of CPU, or a chain of the source's own at an output priority before -10000 dropped them): no verdict. Try again on a less loaded machine, or give the probe a longer timeout`);
      }
    } else {
      sent++;
      firstSent ??= t;
    }
    if (last.reached) {
      const marker = last.seenAs !== undefined;
      const [d] = marker && until === 'success' && !alwaysLand ? [] : await deliveriesOf(sport);
      if (d) landing = landing?.ns === d.ns && landing.address === d.address && landing.port === d.port ? { ...landing, seenBy: d.source } : await landed(d, marker ? 'server' : 'nothing');
      if (marker) {
        // netspec's responder or the user's serve() answered with the source it saw: the end itself spoke
        if (landing && landing.answered === 'nothing') landing.answered = 'server';
      } else {
        // an answer without netspec's marker counts only if the probe's own packets were seen to land where a server
        // listens, and (TCP) that server did more than complete a handshake and hang up
        const verdict = await foreignAnswer(lab, protocol, d, last, watch);
        if (verdict.reached) {
          if (landing) landing.answered = 'server';
          last.seenAs = d?.source;
          log.push(verdict.why);
        } else {
          last.reached = false;
          last.completedBy = verdict.why;
          if (landing) landing.why = verdict.why;
          log.push(`not the end meant: ${verdict.why}`);
        }
      }
    } else if (!last.noRoute && watch && !settled) {
      const [d] = await deliveriesOf(sport);
      if (d) {
        landing = await landed(d, 'nothing');
        settled = true;
        if (await listens(lab, d.ns, protocol, d.port!)) {
          landing.answered = 'server';
          log.push(`${d.ns}$ ss: something listens on ${protocol} port ${d.port} (the spec's own server): no responder`);
        } else if (!respond) {
          landing.why = `nothing listens on ${protocol} port ${d.port} in ${d.ns}, and no responder was to be started`;
        } else if (d.ns === 'host') {
          landing.why =
            audience === 'learner'
              ? `nothing listens on ${protocol} port ${d.port} in the lab host`
              : `nothing listens on ${protocol} port ${d.port} in the lab host (netspec starts responders in namespaces, never in the host, which stands for the machine; run a server there with serve(lab.host, …) to test one)`;
          log.push(`host: ${landing.why}`);
        } else {
          started(await startResponder(lab, d.ns, protocol, d.address, d.port!, durationMs + 30_000));
          landing.answered = 'responder';
          log.push(`${d.ns}$ socat ${protocol} responder on ${d.address}:${d.port} (where the probe's packets were seen to land) → listening (stopped when the probe ends)`);
          // the window starts now that whatever answers is listening
          begun = performance.now();
          deadline = begun + durationMs;
          sent = 0;
          firstSent = undefined;
          refused = false;
          continue;
        }
      }
    }
    if (protocol === 'udp' && !last.reached && !last.noRoute && watch && !landing && performance.now() >= deadline) {
      // a datagram still on its way (a loaded machine) is not a lost one: look once more before "not reached"
      await new Promise((r) => setTimeout(r, 300));
      const late = (await watch.read()).filter((d) => d.sport !== undefined && watch.ports.includes(d.sport) && (from.sourcePort === undefined || d.sport === from.sourcePort));
      if (late.length) {
        const where = [...new Set(late.map((d) => `${d.ns} on ${d.address}:${d.port}`))].join('; ');
        throw new ProbeError(`${source.name}'s UDP probe to ${target.address}:${port} got no answer within ${durationMs} ms, but netspec's landing watch saw its datagram delivered in ${where} only after the window (a loaded machine?): it was not lost; no verdict. Give the probe a longer timeout`);
      }
    }
    last.elapsedMs = performance.now() - begun;
    last.sent = sent;
    last.watchedMs = performance.now() - (firstSent ?? begun);
    last.landing = landing;
    // a refusal seen once counts, even if a later ICMP error was rate-limited away
    refused ||= last.refused;
    last.refused = refused && !last.reached;
    if (last.reached || last.noRoute || performance.now() >= deadline) return last;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * An answer that carries no netspec marker (the user's own server, or something in between): "reached" only when the
 * probe's own packets were seen delivered to a namespace where something listens on that port, and over TCP the far
 * end answered with a byte, or, silent, opened no connection onward while the probe ran (netspec's landing watch sees
 * the new connections the landing namespace opens): the probe's connection ended at that listener's own socket. A
 * silent listener that connected onward is a proxy (a userland proxy with nothing behind it, a SYN proxy): evidence,
 * not a pass. Without a watch (attach mode) the landing place is unknown: a TCP connection closed without a word is no verdict.
 */
async function foreignAnswer(lab: Netns['lab'], protocol: 'tcp' | 'udp', d: Delivery | undefined, last: ProbeOutcome, watch: LandingWatch | undefined): Promise<{ reached: boolean; why: string }> {
  // TCP: the far end answered with at least a byte (a handshake alone is no answer: a proxy completes it too)
  const spoke = protocol === 'udp' || last.spoke === true;
  const silent = `the far end accepted the TCP connection and sent nothing (${last.hungUp ? 'it hung up at once' : 'it kept the connection open, silent'})`;
  if (!watch) {
    if (!spoke) throw new ProbeError(`${silent}, and where the probe's packets landed is not observed here (attach mode adds no tables): it could be the server meant or a proxy in front of nothing; no verdict. A server started with serve() answers with netspec's marker`);
    return { reached: true, why: `answered without netspec's marker; where the probe's packets landed is not observed (attach mode adds no tables)` };
  }
  if (!d) {
    return { reached: false, why: `the ${protocol === 'tcp' ? 'TCP handshake was completed' : 'UDP reply came'} but the probe's own packets were delivered to no namespace of the lab (a SYN proxy on the way, or something outside the lab, answered for the target)` };
  }
  const at = `${d.ns} on ${d.address}:${d.port}`;
  if (!(await listens(lab, d.ns, protocol, d.port!))) {
    return { reached: false, why: `the probe's packets landed in ${at}, where nothing listens on ${protocol} port ${d.port}, yet the ${protocol === 'tcp' ? 'handshake was completed' : 'reply came'} by something else on the way` };
  }
  if (!spoke) {
    // silent: the listener's own socket, or a proxy? a proxy opens a connection of its own onward, and what is behind
    // it decides: followed from one read of the watch, by the kernel's own record of each handshake
    const seen = await watch.connections();
    const chain = await behind(lab, seen, d.ns, new Set([d.ns]), 0, d);
    if (chain.kind === 'end' && !chain.via) {
      return {
        reached: true,
        why: `${d.ns}$ ss: the probe's packets landed in ${at} from ${d.source} (netspec's landing watch), and the listener in ${d.ns} accepted the probe's connection (its own socket: no onward connection) and ${last.hungUp ? 'closed without answering' : 'kept it open without answering'}`,
      };
    }
    const proxy = `the listener in ${at} completed the TCP handshake and opened a connection onward${chain.via ? ` to ${chain.via}` : ''} while the probe ran (netspec's landing watch): a proxy`;
    if (chain.kind === 'end') {
      return { reached: true, why: `${proxy}; ${chain.why}, which ${last.hungUp ? 'closed without answering' : 'kept it open without answering'}: the probe's connection was carried to a listener's own socket` };
    }
    if (chain.kind === 'dead' && last.hungUp) return { reached: false, why: `${proxy}, and ${chain.why}; it hung up without a word (a proxy with nothing behind it)` };
    throw new ProbeError(`the probe's packets landed in ${at}, where something listens, but ${silent}, and ${proxy}: ${chain.why}; no verdict. Let the server behind it answer (serve() answers with netspec's marker)`);
  }
  return { reached: true, why: `${d.ns}$ ss: the probe's packets landed in ${at} from ${d.source} (netspec's landing watch), where the spec's own server listens, and it answered` };
}

/** Where a proxy's onward connections ended, as far as the landing watch saw them. */
interface Behind {
  /** end: every one reached a listener's own socket; dead: none was accepted; unknown: no verdict. */
  kind: 'end' | 'dead' | 'unknown';
  why: string;
  /** Where the first namespace's onward connections went (for the message). */
  via?: string;
}


/**
 * Follow the onward connections of namespace `ns` (a silent listener there that connected onward: a proxy) through
 * the lab, hop by hop, by what the kernel recorded: each onward SYN's own source port, whether a SYN-ACK came back to
 * that port (accepted), and the one namespace whose input saw that SYN delivered (after every NAT), where something
 * must listen. "end" only when every onward connection was accepted and, followed, ends at a listener that opens none
 * of its own; "dead" only when none was accepted; a mix, a SYN delivered in no place or in several, a loop, or more
 * than four hops is "unknown": no verdict rather than a guess.
 */
async function behind(lab: Netns['lab'], seen: { onward: Onward[]; inbound: Delivery[]; probes: Delivery[] }, ns: string, visited: Set<string>, depth: number, incoming: Delivery): Promise<Behind> {
  const mine = seen.onward.filter((o) => o.ns === ns);
  if (!mine.length) return { kind: 'end', why: `${ns} opened no connection onward` };
  const via = [...new Set(mine.map((o) => hostPort(o.address, o.port)))].join(', ');
  const accepted = mine.filter((o) => o.accepted);
  if (!accepted.length) {
    const refused = `${ns}'s onward connection${mine.length === 1 ? '' : 's'} to ${via} ${mine.length === 1 ? 'was' : 'were'} never accepted (no SYN-ACK came back to ${ns})`;
    // nothing ties a refused onward connection to the one that came in: a silent reader that keeps retrying a dead
    // database of its own opens them too. A proxy opens one for each connection it accepts; more or fewer is no proxy
    // of this connection that netspec can name
    const arrivals = new Set([...seen.probes, ...seen.inbound].filter((i) => i.ns === ns && i.address === incoming.address && i.port === incoming.port).map((i) => `${i.source} ${i.sport}`)).size;
    if (arrivals !== mine.length) {
      return { kind: 'unknown', via, why: `${refused}, but it opened ${mine.length} onward for the ${arrivals} connection${arrivals === 1 ? '' : 's'} that came in on ${hostPort(incoming.address, incoming.port!)}: connections of its own (a silent reader that also connects elsewhere?) rather than a proxy's for this one` };
    }
    return { kind: 'dead', via, why: refused };
  }
  if (accepted.length < mine.length) return { kind: 'unknown', via, why: `of ${ns}'s onward connections to ${via}, ${accepted.length} of ${mine.length} were accepted: which one carried the probe is not known` };
  if (depth >= 4) return { kind: 'unknown', via, why: `the connections go on through more than four proxies` };
  const hops: Behind[] = [];
  for (const o of accepted) {
    const landed = seen.inbound.filter((i) => i.sport === o.sport);
    const places = [...new Set(landed.map((i) => `${i.ns} ${hostPort(i.address, i.port!)}`))];
    if (places.length !== 1) {
      return { kind: 'unknown', via, why: `${ns}'s connection to ${hostPort(o.address, o.port)} (source port ${o.sport}) was accepted, but netspec's landing watch saw it delivered ${places.length ? `in ${places.length} places (${places.join('; ')})` : 'in no namespace of the lab'}` };
    }
    const next = landed[0]!;
    const at = `${next.ns} on ${hostPort(next.address, next.port!)}`;
    if (next.ns === ns) return { kind: 'unknown', via, why: `${ns} connects onward to a listener of its own (${at}), whose own connections cannot be told from the first's` };
    if (visited.has(next.ns)) return { kind: 'unknown', via, why: `the connections go round in a loop through ${next.ns}` };
    if (!(await listens(lab, next.ns, 'tcp', next.port!))) {
      return { kind: 'unknown', via, why: `${ns}'s connection to ${hostPort(o.address, o.port)} landed in ${at}, where nothing listens, yet it was accepted (by something on the way)` };
    }
    const further = await behind(lab, seen, next.ns, new Set([...visited, next.ns]), depth + 1, next);
    const here = `its connection landed in ${at} (netspec's landing watch), where a listener accepted it`;
    hops.push({ kind: further.kind, why: further.via ? `${here}, and that one is a proxy too: ${further.why}` : here });
  }
  const kinds = new Set(hops.map((h) => h.kind));
  const why = [...new Set(hops.map((h) => h.why))].join('; ');
  return { kind: kinds.size === 1 ? hops[0]!.kind : 'unknown', via, why };
}

async function socatOnce(source: Netns, address: string, port: number, protocol: 'tcp' | 'udp', from: From, timeoutMs: number, log: string[], sport?: number): Promise<ProbeOutcome> {
  const six = address.includes(':');
  const host = six ? `[${address}]` : address;
  const secs = (timeoutMs / 1000).toFixed(2);
  // TCP: how long socat waits for the far end after sending (its half-close timeout): never under a second, so a far
  // end that hangs up at once (hungUp) is told from one that stays silent
  const halfMs = protocol === 'tcp' ? Math.max(timeoutMs, 1000) : timeoutMs;
  // every part of this address is netspec's own: a canonical address, an integer port, a checked interface name
  let spec = `${protocol.toUpperCase()}${six ? '6' : '4'}:${host}:${port}`;
  if (protocol === 'tcp') spec += `,connect-timeout=${secs}`;
  // the responder ends its answer with an empty datagram (shut-null): EOF for us, so we need not wait out -t
  else spec += ',null-eof';
  if (from.address) spec += `,bind=${from.address.includes(':') ? `[${from.address}]` : from.address}`;
  if (from.dev) spec += `,so-bindtodevice=${from.dev}`;
  // IPv4 TOS (socat 1.7's `tos`: IP_TOS; it has no IPv6 traffic class, refused before the probe)
  if (from.tos !== undefined) spec += `,tos=${from.tos}`;
  // the probe's own source port, which netspec's landing watch recognises
  if (sport !== undefined) spec += `,sourceport=${sport},reuseaddr`;
  const argv = ['socat', '-T', secs, '-t', (halfMs / 1000).toFixed(2), '-', spec];
  const r = await source.lab.run(source.name, argv, { intent: `${protocol} probe to ${address}:${port}`, input: 'netspec\n', reject: false, timeoutMs: halfMs + 10_000 });
  checkRan(source, r, `the ${protocol.toUpperCase()} probe (socat to ${address}:${port})`);
  // the responder prints socat's SOCAT_PEERADDR: IPv6 in brackets and written out in full ([fd00:0000:…:0001])
  const reply = r.stdout.trim().split('\n')[0]?.trim();
  const seen = peerAddress(reply);
  const refused = /Connection refused/.test(r.stderr);
  const noRoute = /Network is unreachable|No route to host/.test(r.stderr) || (r.exitCode !== 0 && (await refusedByRoute(source, { address }, from, r.stderr)));
  const timedOut = /timed out|Operation now in progress|Connection reset/.test(r.stderr);
  log.push(`${source.name}$ ${argv.join(' ')} → exit ${r.exitCode}${firstLine(r.stderr.replace(/^\S+ \S+ socat\[\d+\] \w /gm, ''))}`);
  if (r.exitCode !== 0 && !refused && !noRoute && !timedOut) {
    throw new ProbeError(`the ${protocol.toUpperCase()} probe from ${source} to ${address}:${port} failed: socat exited ${r.exitCode}${firstLine(r.stderr)}; no verdict`);
  }
  // TCP: a completed connect (judged by the caller: whose answer was it?); UDP: only a reply counts
  const reached = protocol === 'tcp' ? r.exitCode === 0 && !refused : Boolean(reply);
  // the far end closed before socat's half-close timeout, having sent nothing
  const spoke = r.stdout.length > 0;
  const hungUp = protocol === 'tcp' && reached && !spoke && r.durationMs < halfMs;
  return { reached, refused, noRoute, seenAs: seen || undefined, elapsedMs: 0, sent: 1, watchedMs: 0, log, hungUp, spoke };
}
