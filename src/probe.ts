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
import { addressFacing, canonical, parseAddress, parseProbeAddress, type Family } from './address.js';
import { checkIfname } from './names.js';
import { Netns, globalAddressesOf, type AddrInfo } from './netns.js';
import { addressOwner } from './state.js';
import { neighborLimitFix, neighborTable } from './neighbor-table.js';
import { parseUdpCounters, type UdpCounters } from './parse/proc.js';
import { parseAddresses } from './parse/ip.js';
import { type From, checkRan, land, peerAddress, firstLine, startWitness, type ProbeTarget, type Landing, type Protocol } from './landing.js';
export { serve, startWitness, dnatRule, type ServeOptions, type Server, type ProbeTarget, type Landing, type Protocol } from './landing.js';

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
  /** TCP/UDP: where the packets landed and what answered. */
  landing?: Landing;
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
  if (/^[0-9a-fA-F.:]+$/.test(from) && /[.:]/.test(from)) {
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
  // the source's addresses, read as a probe command (a namespace that is gone or not a namespace is a ProbeError): a
  // target it holds itself is refused. Read before the probe when `from` needs them, else beside it (the probe's
  // outcome is dropped if the target turns out to be the source's own), so a probe that passes waits for no extra process
  const reading = readAddresses(source);
  const until = options.until ?? 'success';
  // the machine's neighbor table is shared by every namespace (src/neighbor-table.ts): when it overflows while a probe
  // goes unanswered, the kernel dropped packets for a reason outside the lab, and there is no verdict
  let table: ReturnType<typeof neighborTable>;
  let outcome: ProbeOutcome;
  if (options.from !== undefined) {
    const links = await reading;
    checkNotOwn(source, target, links, options);
    const from = await checkFrom(source, options.from, target.family, links);
    table = neighborTable(target.family);
    outcome = await probeWith(source, target, from, durationMs, until, options);
  } else {
    table = neighborTable(target.family);
    const [own, probed] = await Promise.allSettled([reading.then((l) => checkNotOwn(source, target, l, options)), probeWith(source, target, {}, durationMs, until, options)]);
    if (own.status === 'rejected') throw own.reason;
    if (probed.status === 'rejected') throw probed.reason;
    outcome = probed.value;
  }
  const after = table && !outcome.reached ? neighborTable(target.family) : undefined;
  if (table && after && after.tableFulls > table.tableFulls) {
    throw new ProbeError(
      `${source.name} got no answer from ${target.address}, but meanwhile the machine's ${target.family === 4 ? 'ARP' : 'IPv6 neighbor'} table overflowed (${after.tableFulls - table.tableFulls} times; ${after.entries} entries, limit ${after.limit}, shared by every namespace of the machine), so the kernel may have dropped the packets for want of room; no verdict. ${neighborLimitFix(target.family, after.entries)}`,
    );
  }
  return outcome;
}

async function probeWith(source: Netns, target: ProbeTarget, from: From, durationMs: number, until: 'success' | 'window', options: ProbeOptions): Promise<ProbeOutcome> {
  if (target.protocol !== 'icmp') return portProbe(source, target, from, durationMs, until, options);
  if (!options.seenAs) return icmpProbe(source, target, from, durationMs, until);
  // ICMP with seenAs: the target's namespace records the source of every echo request to the target (a witness)
  const owner = await ownerNs(source, target);
  if (!owner) throw new InvalidInputError('seenAs', target.address, 'for ICMP, the target must be an address of a namespace in this lab (its namespace records the source it sees)');
  const witness = await startWitness(owner, target.address, { protocol: 'icmp' });
  let outcome: ProbeOutcome | undefined;
  try {
    outcome = await icmpProbe(source, target, from, durationMs, until);
  } finally {
    const seen = await witness.finish(outcome !== undefined);
    if (outcome) {
      outcome.seenSources = seen;
      outcome.seenAs = seen[0];
      outcome.log.push(`${owner.name}$ nft witness: echo requests to ${target.address} came from ${seen.join(', ') || 'nobody'}`);
    }
  }
  return outcome!;
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

async function ownerNs(source: Netns, target: ProbeTarget): Promise<Netns | undefined> {
  if (target.ns) return target.ns;
  const name = await addressOwner(source.lab, target.address);
  return name === undefined ? undefined : source.lab.get(name);
}

async function icmpProbe(source: Netns, target: ProbeTarget, from: From, durationMs: number, until: 'success' | 'window'): Promise<ProbeOutcome> {
  const started = performance.now();
  const log: string[] = [];
  // `.not`: ping runs a little past its window, enough for its last request of the window (the verdict needs the first
  // request out for the whole window, counted by ping itself: watchedMs below; a starved ping is tried again for longer)
  let budget = until === 'window' ? durationMs + ICMP_SLACK_MS : durationMs;
  for (let attempt = 1; ; attempt++) {
    const argv = ['timeout', '--preserve-status', '-s', 'INT', '-k', '2', (budget / 1000).toFixed(3), 'ping', '-n', '-c', '1', '-w', String(Math.ceil(budget / 1000) + 1), '-i', String(INTERVAL_MS / 1000)];
    if (from.address ?? from.dev) argv.push('-I', (from.address ?? from.dev)!);
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
    log.push(`${source.name}$ ping ${target.address}${from.address ?? from.dev ? ` -I ${from.address ?? from.dev}` : ''} (every ${INTERVAL_MS} ms, ${Math.round(budget)} ms) → ${sent} sent, ${received} received${ttl !== undefined ? ` (reply ttl=${ttl})` : ''}${icmpError ? `; ${icmpError}` : noRoute ? `; ${firstLine(r.stderr).slice(2)}` : ''}`);
    if (!stats && !noRoute) throw new ProbeError(`the ICMP probe in ${source} gave no result: \`ping\` exited ${r.exitCode}${firstLine(out)}; no verdict`);
    const watchedMs = Math.max(0, sent - 1) * INTERVAL_MS;
    const outcome: ProbeOutcome = { reached: received > 0, refused: false, noRoute, icmpError, ttl, elapsedMs: performance.now() - started, sent, watchedMs, log };
    if (outcome.reached || noRoute) return outcome;
    if (sent === 0) throw new ProbeError(`the ICMP probe in ${source} sent nothing in ${Math.round(budget)} ms${firstLine(out)}; no verdict`);
    if (icmpError) {
      // the network answered with an error (ping stops at it): evidence of "not reached" in itself; a positive
      // assertion keeps trying until its deadline, as the path may be coming up
      const left = started + durationMs - performance.now();
      if (until === 'window' || left < INTERVAL_MS) return outcome;
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
  const protocol = target.protocol as 'tcp' | 'udp';
  const port = target.port!;
  const log: string[] = [];
  const respond = options.responder !== false && source.lab.refusesResponders() === undefined;
  const landing = await land(source, target, protocol, port, respond, options.seenAs === true, from, durationMs, log);
  // seenAs where netspec's responder does not answer (the spec's own server): the landing namespace's nftables
  // witness records the source, as for ICMP. An answer that reports its peer itself (a server started with serve(),
  // which prints it) is the end server's own view and comes first: behind a user-space proxy (docker-proxy) the landing
  // namespace sees the client, the server the proxy. Where netspec may add no table (attach mode) the answer alone can
  // say; where nothing recorded the source, the matcher says so (no verdict)
  const info = landing.info;
  let witness: Awaited<ReturnType<typeof startWitness>> | undefined;
  const noTables = source.lab.refusesTables();
  if (options.seenAs && info?.ns && info.answered !== 'responder' && noTables) log.push(`${info.ns}: no nft witness (${noTables}): only an answer that reports its peer can say the source`);
  if (options.seenAs && info?.ns && info.answered !== 'responder' && !noTables) {
    witness = await startWitness(source.lab.get(info.ns), info.address, { protocol, port: info.port }).catch(async (error: unknown) => {
      await landing.stop().catch(() => undefined);
      throw error;
    });
  }
  // UDP to a server of the spec's own: silence is not refusal. The landing namespace's kernel counts the datagrams it
  // delivers to UDP sockets; if that count rose while no answer came, a server received the probe and stayed silent
  // (or its answer was lost on the way back), and "not reached" would be false
  const silent = protocol === 'udp' && info?.ns && info.answered === 'server' ? info.ns : undefined;
  const before = silent ? await udpCounters(source, silent, target.family) : undefined;
  let outcome: ProbeOutcome | undefined;
  try {
    outcome = await portTries(source, target, from, durationMs, until, landing.info, log);
    if (silent && !outcome.reached) {
      let after = await udpCounters(source, silent, target.family);
      // received: give the server a second to answer before calling it silent (the answer itself still did not come:
      // this only tells "silent" from "answer lost", both errors)
      for (let i = 0; i < 5 && before && after && after.inDatagrams > before.inDatagrams && after.outDatagrams === before.outDatagrams; i++) {
        await new Promise((r) => setTimeout(r, 200));
        after = (await udpCounters(source, silent, target.family)) ?? after;
      }
      if (before && after) {
        const received = after.inDatagrams - before.inDatagrams;
        const sent = after.outDatagrams - before.outDatagrams;
        log.push(`${silent}$ cat /proc/net/snmp${target.family === 6 ? '6' : ''}: UDP datagrams delivered to sockets ${before.inDatagrams} → ${after.inDatagrams}, sent ${before.outDatagrams} → ${after.outDatagrams}`);
        if (received > 0) {
          throw new ProbeError(
            `${source.name}'s UDP probe to ${target.address}:${port} got no answer, but it was received: ${silent} has a server listening on UDP port ${info!.port} (ss), and its kernel delivered ${received} datagram${received === 1 ? '' : 's'} to UDP sockets during the probe (Udp InDatagrams ${before.inDatagrams} → ${after.inDatagrams}); ${
              sent > 0 ? `it sent ${sent} (OutDatagrams), so an answer was lost on the way back` : 'it sent nothing back: the server received the datagram and stayed silent'
            }. Silence is not "not reached"; no verdict. Probe a server that answers, or stop the server to test that the port is closed`,
          );
        }
      } else log.push(`${silent}: no UDP counters could be read (/proc/net/snmp): whether a server received the probe is unknown`);
    }
    return outcome;
  } finally {
    // waited for: a probe right after this one (`responder: false`) must never reach this responder
    await landing.stop();
    if (witness) {
      const seen = await witness.finish(outcome !== undefined);
      if (outcome) {
        outcome.log.push(`${info!.ns}$ nft witness: ${protocol} packets to ${info!.address}:${info!.port} came from ${seen.join(', ') || 'nobody'}`);
        if (outcome.seenAs === undefined) {
          outcome.seenSources = seen;
          outcome.seenAs = seen[0];
        } else if (!seen.includes(outcome.seenAs)) {
          // the end server's own view is the verdict's evidence; the witness's is in the log beside it
          outcome.seenSources = [outcome.seenAs];
          outcome.log.push(`the answer reports its peer as ${outcome.seenAs}: the server behind ${info!.address}:${info!.port} (a proxy) sees that address`);
        } else {
          outcome.seenSources = seen;
        }
      }
    }
  }
}

/** The UDP counters of namespace `name` (/proc/net/snmp, snmp6): undefined where they cannot be read (attach mode). */
async function udpCounters(source: Netns, name: string, family: Family): Promise<UdpCounters | undefined> {
  const file = family === 6 ? '/proc/net/snmp6' : '/proc/net/snmp';
  const r = await source.lab.run(name, ['cat', '--', file], { intent: 'read the UDP counters', reject: false }).catch(() => undefined);
  return r?.exitCode === 0 ? parseUdpCounters(r.stdout, family) : undefined;
}

/** The TCP/UDP probe's tries, until an answer, no route, or the deadline. */
async function portTries(source: Netns, target: ProbeTarget, from: From, durationMs: number, until: 'success' | 'window', landing: Landing | undefined, log: string[]): Promise<ProbeOutcome> {
  const protocol = target.protocol as 'tcp' | 'udp';
  const port = target.port!;
  // the window starts now that whatever answers is listening
  const started = performance.now();
  const deadline = started + durationMs;
  // each try waits at least this long for an answer, so a slow machine cannot turn "late" into "never"
  const minTry = until === 'window' ? Math.min(durationMs, 1000) : 100;
  let refused = false;
  let sent = 0;
  let firstSent: number | undefined;
  for (;;) {
    // `.not` waits a little past its window for an answer, as the ICMP probe does: a late answer still counts
    const wait = Math.max(minTry, deadline - performance.now()) + (until === 'window' ? graceMs(durationMs) : 0);
    const t = performance.now();
    const last = await socatOnce(source, target.address, port, protocol, from, Math.min(wait, until === 'window' ? wait : 1000), log);
    sent++;
    firstSent ??= t;
    last.elapsedMs = performance.now() - started;
    last.sent = sent;
    last.watchedMs = performance.now() - firstSent;
    last.landing = landing;
    // a refusal seen once counts, even if a later ICMP error was rate-limited away
    refused ||= last.refused;
    last.refused = refused && !last.reached;
    if (last.reached || last.noRoute || performance.now() >= deadline) return last;
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function socatOnce(source: Netns, address: string, port: number, protocol: 'tcp' | 'udp', from: From, timeoutMs: number, log: string[]): Promise<ProbeOutcome> {
  const six = address.includes(':');
  const host = six ? `[${address}]` : address;
  const secs = (timeoutMs / 1000).toFixed(2);
  // every part of this address is netspec's own: a canonical address, an integer port, a checked interface name
  let spec = `${protocol.toUpperCase()}${six ? '6' : '4'}:${host}:${port}`;
  if (protocol === 'tcp') spec += `,connect-timeout=${secs}`;
  // the responder ends its answer with an empty datagram (shut-null): EOF for us, so we need not wait out -t
  else spec += ',null-eof';
  if (from.address) spec += `,bind=${from.address.includes(':') ? `[${from.address}]` : from.address}`;
  if (from.dev) spec += `,so-bindtodevice=${from.dev}`;
  const argv = ['socat', '-T', secs, '-t', secs, '-', spec];
  const r = await source.lab.run(source.name, argv, { intent: `${protocol} probe to ${address}:${port}`, input: 'netspec\n', reject: false, timeoutMs: timeoutMs + 10_000 });
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
  // TCP: a completed connect is reached; UDP: only a reply counts
  const reached = protocol === 'tcp' ? r.exitCode === 0 && !refused : Boolean(reply);
  return { reached, refused, noRoute, seenAs: seen || undefined, elapsedMs: 0, sent: 1, watchedMs: 0, log };
}
