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
 */
import type { ChildProcess } from 'node:child_process';
import { InvalidInputError, NetspecError, PrerequisiteError, ProbeError } from './errors.js';
import type { RunResult } from './exec.js';
import { installHint, spawnLongLived, whileStdinOpen } from './exec.js';
import { addressFacing, canonical, ipFamily, parseAddress, parseProbeAddress, type Family } from './address.js';
import { checkIfname } from './names.js';
import { Netns } from './netns.js';
import { addressOwner, labAddresses, ownerIn } from './state.js';
import { dnatFor, option, parseIptablesSave } from './parse/iptables.js';
import { nativeOnly, nftDnatFor, parseNftJson, setElements } from './parse/nft.js';

export type Protocol = 'icmp' | 'tcp' | 'udp';

export interface ProbeTarget {
  address: string;
  family: Family;
  port?: number;
  protocol: Protocol;
  /** The namespace handle the target was given as, if any. */
  ns?: Netns;
}

/** Where a TCP/UDP probe's packets land, and what answered there. */
export interface Landing {
  /** The namespace that received the packets (after DNAT), if it is in the lab. */
  ns?: string;
  address: string;
  port: number;
  /** The DNAT rule that sent them there, as `ns: DNAT a:p → b:q (rule …)`. */
  dnat?: string;
  /** Who answered: the user's own server, netspec's responder, or nothing (with why). */
  answered: 'server' | 'responder' | 'nothing';
  why?: string;
}

export interface ProbeOutcome {
  reached: boolean;
  /** TCP RST or ICMP port unreachable. */
  refused: boolean;
  /** The source had no route (`Network is unreachable`). */
  noRoute: boolean;
  /** The first ICMP error the source received (`From 192.168.15.3 icmp_seq=1 Destination Host Unreachable`). */
  icmpError?: string;
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
  } else if (target !== null && typeof target === 'object' && 'address' in target) {
    const t = target as { address: unknown; port?: unknown };
    address = parseProbeAddress(t.address, 'target address').address;
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
  const [mine, theirs] = await Promise.all([source.globalAddresses(family), target.globalAddresses(family)]);
  if (theirs.length === 0) {
    throw new InvalidInputError('target', String(target), `${target.name} has no global address${family ? ` (IPv${family})` : ''} to probe; give it one, or pass an address`);
  }
  return canonical(addressFacing(mine, theirs)!);
}

interface From {
  address?: string;
  dev?: string;
}

/** `from`: one of the source namespace's own addresses or interfaces; anything else is refused, never probed. */
async function checkFrom(source: Netns, from: unknown, family: Family): Promise<From> {
  if (from === undefined) return {};
  if (typeof from !== 'string') throw new InvalidInputError('from', from, 'expected one of the namespace\'s addresses ("192.168.15.1") or interfaces ("veth-red")');
  const links = await source.addresses();
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

/** A handle whose namespace was deleted and made again under its name is not the namespace it was made for. */
function checkSame(ns: Netns): void {
  const now = ns.lab.identityOf?.(ns.name);
  if (now === undefined) return; // gone altogether: the probe's own command says so (checkRan)
  if (ns.identity === undefined) ns.identity = now;
  else if (ns.identity !== now) {
    throw new ProbeError(`${ns} was deleted and made again since this handle was made: the handle is not for the namespace there now; take a new one with lab.get(${JSON.stringify(ns.name)}); no verdict`);
  }
}

/** A probe command that did not run (nsenter could not enter, the namespace is gone, a tool is missing) is an error. */
function checkRan(source: Netns, r: RunResult, what: string): void {
  const missing = /failed to run command '([^']+)': No such file or directory/.exec(r.stderr)?.[1];
  if (missing) throw new PrerequisiteError(`the \`${missing}\` command`, installHint(missing));
  const nsenter = /^nsenter: (.*)$/m.exec(r.stderr);
  if (!nsenter && r.exitCode !== 126 && r.exitCode !== 127 && !r.timedOut) return;
  let names: string[] = [];
  try {
    names = source.lab.namespaces();
  } catch {
    /* the lab itself is gone: assertAlive below says so */
  }
  source.lab.assertAlive();
  const gone = !source.isHost && !names.includes(source.name);
  throw new ProbeError(
    gone
      ? `${what} could not run: ${source} does not exist any more (deleted, or replaced by something that is not a namespace; namespaces now: ${names.join(', ') || 'none'}); no verdict`
      : `${what} could not run in ${source}${r.timedOut ? ' (it did not finish in time)' : ''}: ${nsenter?.[1] ?? (firstLine(r.stderr).slice(2) || `exit ${r.exitCode}`)}; no verdict`,
  );
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
  const from = await checkFrom(source, options.from, target.family);
  const until = options.until ?? 'success';
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

async function ownerNs(source: Netns, target: ProbeTarget): Promise<Netns | undefined> {
  if (target.ns) return target.ns;
  const name = await addressOwner(source.lab, target.address);
  return name === undefined ? undefined : source.lab.get(name);
}

let witnesses = 0;

/**
 * A witness in `ns`: a temporary nftables table of netspec's own with a dynamic set that records the source address of
 * every packet to `address` (ICMP echo requests, or TCP/UDP to a port) as the namespace receives it, after every NAT
 * on the way. Every word of the rules is netspec's own (canonical addresses, integers).
 */
export async function startWitness(ns: Netns, address: string, match: { protocol: 'icmp' } | { protocol: 'tcp' | 'udp'; port: number }): Promise<{ finish(read?: boolean): Promise<string[]> }> {
  const refused = ns.lab.refusesTables();
  if (refused) throw new InvalidInputError('seenAs', address, `${refused}, so it cannot add the nftables witness that records the source; prove the source with a TCP/UDP probe to a responder instead`);
  const six = address.includes(':');
  const ip = six ? 'ip6' : 'ip';
  const table = `netspec_witness_${process.pid}_${++witnesses}`;
  const l4 = match.protocol === 'icmp' ? (six ? 'icmpv6 type echo-request' : 'icmp type echo-request') : `${match.protocol} dport ${match.port}`;
  const rules = [
    `table inet ${table} {`,
    `  set seen { type ${six ? 'ipv6_addr' : 'ipv4_addr'}; flags dynamic; size 65536; }`,
    `  chain input { type filter hook input priority -300; policy accept; ${ip} daddr ${canonical(address)} ${l4} add @seen { ${ip} saddr }; }`,
    `}`,
    '',
  ].join('\n');
  const r = await ns.lab.run(ns.name, ['nft', '-f', '-'], { intent: 'add the witness table', input: rules, reject: false });
  checkRan(ns, r, 'adding the nftables witness');
  if (r.exitCode !== 0) throw new ProbeError(`could not add the nftables witness in ${ns}: ${r.stderr.trim()}; no verdict about the source`);
  return {
    async finish(read = true) {
      let seen: string[] = [];
      if (read) {
        const l = await ns.lab.run(ns.name, ['nft', '-j', 'list', 'set', 'inet', table, 'seen'], { intent: 'read the witness', reject: false });
        checkRan(ns, l, 'reading the nftables witness');
        seen = setElements(l.stdout);
      }
      await ns.lab.run(ns.name, ['nft', 'delete', 'table', 'inet', table], { intent: 'remove the witness table', reject: false }).catch(() => undefined);
      return seen;
    },
  };
}

async function icmpProbe(source: Netns, target: ProbeTarget, from: From, durationMs: number, until: 'success' | 'window'): Promise<ProbeOutcome> {
  const started = performance.now();
  const log: string[] = [];
  // `.not` keeps listening a little past its window: a reply to a request sent inside the window still counts
  let budget = until === 'window' ? durationMs + graceMs(durationMs) : durationMs;
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
    const noRoute = /Network is unreachable|No route to host/.test(r.stderr) && received === 0;
    const icmpError = /^From \S+ icmp_seq=\d+ .*$/m.exec(r.stdout)?.[0];
    log.push(`${source.name}$ ping ${target.address}${from.address ?? from.dev ? ` -I ${from.address ?? from.dev}` : ''} (every ${INTERVAL_MS} ms, ${Math.round(budget)} ms) → ${sent} sent, ${received} received${icmpError ? `; ${icmpError}` : noRoute ? `; ${firstLine(r.stderr).slice(2)}` : ''}`);
    if (!stats && !noRoute) throw new ProbeError(`the ICMP probe in ${source} gave no result: \`ping\` exited ${r.exitCode}${firstLine(out)}; no verdict`);
    const watchedMs = Math.max(0, sent - 1) * INTERVAL_MS;
    const outcome: ProbeOutcome = { reached: received > 0, refused: false, noRoute, icmpError, elapsedMs: performance.now() - started, sent, watchedMs, log };
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

async function portProbe(source: Netns, target: ProbeTarget, from: From, durationMs: number, until: 'success' | 'window', options: ProbeOptions): Promise<ProbeOutcome> {
  const protocol = target.protocol as 'tcp' | 'udp';
  const port = target.port!;
  const log: string[] = [];
  const respond = options.responder !== false && source.lab.refusesResponders() === undefined;
  const landing = await land(source, target, protocol, port, respond, options.seenAs === true, from, durationMs, log);
  // seenAs where netspec's responder does not answer (the spec's own server): the landing namespace's nftables
  // witness records the source, as for ICMP; where there is no witness, the matcher says nothing recorded it
  const info = landing.info;
  let witness: Awaited<ReturnType<typeof startWitness>> | undefined;
  if (options.seenAs && info?.ns && info.answered !== 'responder') {
    witness = await startWitness(source.lab.get(info.ns), info.address, { protocol, port: info.port }).catch((error: unknown) => {
      landing.stop();
      throw error;
    });
  }
  let outcome: ProbeOutcome | undefined;
  try {
    outcome = await portTries(source, target, from, durationMs, until, landing.info, log);
    return outcome;
  } finally {
    landing.stop();
    if (witness) {
      const seen = await witness.finish(outcome !== undefined);
      if (outcome) {
        outcome.seenSources = seen;
        outcome.seenAs = seen[0];
        outcome.log.push(`${info!.ns}$ nft witness: ${protocol} packets to ${info!.address}:${info!.port} came from ${seen.join(', ') || 'nobody'}`);
      }
    }
  }
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
  const noRoute = /Network is unreachable|No route to host/.test(r.stderr);
  const timedOut = /timed out|Operation now in progress|Connection reset/.test(r.stderr);
  log.push(`${source.name}$ ${argv.join(' ')} → exit ${r.exitCode}${firstLine(r.stderr.replace(/^\S+ \S+ socat\[\d+\] \w /gm, ''))}`);
  if (r.exitCode !== 0 && !refused && !noRoute && !timedOut) {
    throw new ProbeError(`the ${protocol.toUpperCase()} probe from ${source} to ${address}:${port} failed: socat exited ${r.exitCode}${firstLine(r.stderr)}; no verdict`);
  }
  // TCP: a completed connect is reached; UDP: only a reply counts
  const reached = protocol === 'tcp' ? r.exitCode === 0 && !refused : Boolean(reply);
  return { reached, refused, noRoute, seenAs: seen || undefined, elapsedMs: 0, sent: 1, watchedMs: 0, log };
}

/**
 * Where a packet to `address:port` lands: the owner of the address, or where a DNAT rule of the owner sends it
 * (`iptables -t nat … --dport P -j DNAT --to-destination B[:Q]`). Starts a responder there when nothing listens,
 * unless that is the lab host (it stands for the machine: a port on it answers only if the spec runs a server there).
 */
async function land(
  source: Netns,
  target: ProbeTarget,
  protocol: 'tcp' | 'udp',
  port: number,
  respond: boolean,
  locate: boolean,
  from: From,
  durationMs: number,
  log: string[],
): Promise<{ info?: Landing; stop(): void }> {
  const none = { stop: () => undefined };
  if (!respond && !locate) return none;
  const lab = source.lab;
  const addresses = await labAddresses(lab);
  let owner = target.ns?.name ?? ownerIn(addresses, target.address);
  if (!owner) return none; // not in the lab: nothing to start (and nothing of ours will answer)
  let address = target.address;
  let toPort = port;
  let dnat: string | undefined;
  // the probe's source address, asked of the kernel only when a rule names an interface
  const sourceAddress = async () => from.address ?? (await source.routeGet(target.address))?.prefsrc;
  const rule = await dnatRule(lab.get(owner), target, protocol, port, sourceAddress);
  if (rule) {
    address = rule.address;
    toPort = rule.port ?? port;
    dnat = `${owner}: DNAT ${target.address}:${port} → ${address}:${toPort} (rule \`${rule.rule}\`)`;
    log.push(dnat);
    owner = ownerIn(addresses, address);
    if (!owner) return { info: { address, port: toPort, dnat, answered: 'nothing', why: `no namespace in the lab has ${address}` }, stop: () => undefined };
  }
  const info: Landing = { ns: owner, address, port: toPort, dnat, answered: 'nothing' };
  const ss = await lab.run(owner, ['ss', '-H', protocol === 'tcp' ? '-ltn' : '-lun', `sport = :${toPort}`], { intent: 'look for a listener', reject: false });
  checkRan(lab.get(owner), ss, 'looking for a listener (ss)');
  if (ss.stdout.trim()) {
    info.answered = 'server';
    log.push(`${owner}$ ss: something listens on ${protocol} port ${toPort} (the spec's own server): no responder`);
    return { info, stop: () => undefined };
  }
  if (!respond) {
    info.why = `nothing listens on ${protocol} port ${toPort} in ${owner}, and no responder was to be started`;
    return { info, stop: () => undefined };
  }
  if (owner === 'host') {
    info.why = `nothing listens on ${protocol} port ${toPort} in the lab host (netspec starts responders in namespaces, never in the host, which stands for the machine; run a server there with serve(lab.host, …) to test one)`;
    log.push(`host: ${info.why}`);
    return { info, stop: () => undefined };
  }
  // bound to the landing address, so UDP replies leave from the address the client's packets were sent to
  const server = await startServer(lab.enter(owner), { port: toPort, protocol, address, lifetimeMs: durationMs + 30_000 }).catch((error: unknown) => {
    throw new ProbeError(`the ${protocol} responder in ${lab.get(owner!)} on ${address}:${toPort} did not start (${(error as Error).message}); no verdict`, { cause: error });
  });
  info.answered = 'responder';
  log.push(`${owner}$ socat ${protocol} responder on ${address}:${toPort} → listening (stopped when the probe ends)`);
  return { info, stop: () => server.stop() };
}

/**
 * The first DNAT a packet to `address:port` arriving at `ns` from outside meets: iptables' nat PREROUTING (priority
 * dstnat, -100) and native nft `dnat` rules in nat chains hooked at prerouting, in the order of their priorities (the
 * first NAT binding of a connection is the one the kernel keeps). Both read through the one parser of each format.
 */
export async function dnatRule(ns: Netns, target: { address: string; family: Family }, protocol: 'tcp' | 'udp', port: number, source?: () => Promise<string | undefined>): Promise<{ address: string; port?: number; rule: string } | undefined> {
  const save = target.family === 6 ? 'ip6tables-save' : 'iptables-save';
  const [ipt, nft] = await Promise.all([
    ns.lab.run(ns.name, [save, '-t', 'nat'], { intent: 'read the nat rules', reject: false }),
    ns.lab.run(ns.name, ['nft', '-j', 'list', 'ruleset'], { intent: 'read the nftables rules', reject: false }).catch(() => undefined),
  ]);
  const iptables = ipt.exitCode === 0 ? parseIptablesSave(ipt.stdout) : undefined;
  const native = nft?.exitCode === 0 ? nativeOnly(parseNftJson(nft.stdout)) : undefined;
  // a rule that names the incoming interface (Docker's `! -i docker0`, its `-i docker0 -j RETURN`) is judged on the
  // interface this namespace would send an answer to the source out of: the one the packet comes in on
  const namesInterface = iptables?.rules.some((r) => r.table === 'nat' && option(r, '-i')) || native?.rules.some((r) => r.expr.some((e) => JSON.stringify(e).includes('"iifname"')));
  const from = namesInterface ? await source?.() : undefined;
  const iif = from ? (await ns.routeGet(from))?.dev : undefined;
  const packet = { protocol, destination: target.address, port, local: true, iif };
  const fromIptables = iptables ? dnatFor(iptables, packet) : undefined;
  const nat = native ? nftDnatFor(native, packet) : {};
  // iptables-nft's nat PREROUTING hooks at priority -100 (dstnat); a native chain before it rewrites first
  const IPTABLES_DSTNAT = -100;
  const nftFirst = nat.dnat && (!fromIptables || (nat.prio ?? 0) < IPTABLES_DSTNAT);
  if (nftFirst) {
    const d = nat.dnat!;
    return { address: canonical(d.address), port: d.port, rule: `nft ${d.rule.family} ${d.rule.table} ${d.rule.chain}: ${d.rule.text.replace(/ counter packets \d+ bytes \d+/, ' counter')}` };
  }
  return fromIptables ? { address: canonical(fromIptables.address), port: fromIptables.port, rule: fromIptables.rule.text } : undefined;
}

const RESPONDER = 'awk {print(ENVIRON["SOCAT_PEERADDR"]);exit}';

export interface ServeOptions {
  port: number;
  protocol?: 'tcp' | 'udp';
  /** Bind to this address (so UDP answers leave from it); default all. */
  address?: string;
  /** It ends by itself after this long, in ms (default 60 000). */
  lifetimeMs?: number;
}

export interface Server {
  /** End the server now (it also ends after its lifetime, and with the lab). */
  stop(): void;
}

function checkServe(options: unknown): { port: number; protocol: 'tcp' | 'udp'; address?: string; lifetimeMs: number } {
  if (options === null || typeof options !== 'object') throw new InvalidInputError('serve options', options, 'expected { port, protocol?, address?, lifetimeMs? }');
  const o = options as Record<string, unknown>;
  if (typeof o.port !== 'number' || !Number.isInteger(o.port) || o.port < 1 || o.port > 65535) throw new InvalidInputError('port', o.port, 'expected a whole number from 1 to 65535');
  const protocol = o.protocol ?? 'tcp';
  if (protocol !== 'tcp' && protocol !== 'udp') throw new InvalidInputError('protocol', o.protocol, 'expected "tcp" or "udp"');
  const address = o.address === undefined ? undefined : parseProbeAddress(o.address, 'serve address').address;
  const lifetimeMs = o.lifetimeMs ?? 60_000;
  if (typeof lifetimeMs !== 'number' || !Number.isFinite(lifetimeMs) || lifetimeMs <= 0) throw new InvalidInputError('lifetimeMs', o.lifetimeMs, 'expected a number of ms > 0');
  return { port: o.port, protocol, address, lifetimeMs };
}

async function startServer(enter: readonly string[], options: ServeOptions): Promise<Server> {
  const { port, protocol, address, lifetimeMs } = checkServe(options);
  const six = address?.includes(':') ?? false;
  const bind = address ? `,bind=${six ? `[${address}]` : address}` : '';
  const listen = protocol === 'tcp' ? `TCP${six ? '6' : '4'}-LISTEN:${port}${bind},reuseaddr,fork` : `UDP${six ? '6' : '4'}-RECVFROM:${port}${bind},fork,shut-null`;
  const lifetime = String(Math.ceil(lifetimeMs / 1000));
  // it runs until stopped (its stdin closes) or its lifetime is up; every argument is a list item, none spliced
  const child: ChildProcess = spawnLongLived([...enter, ...whileStdinOpen(['timeout', lifetime, 'socat', '-d', '-d', listen, `EXEC:${RESPONDER}`])], { stdio: ['pipe', 'ignore', 'pipe'] });
  child.unref();
  child.stdin?.on('error', () => undefined);
  let err = '';
  const ok = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), 10_000);
    child.stderr?.setEncoding('utf8').on('data', (d: string) => {
      if (err.length < 8192) err += d;
      if (/listening on|receiving on/.test(err)) {
        clearTimeout(timer);
        resolve(true);
      }
    });
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(false);
    });
  });
  for (const s of [child.stdin, child.stderr]) (s as unknown as { unref?: () => void } | null)?.unref?.();
  const stop = () => {
    child.stdin?.end();
  };
  if (!ok) {
    stop();
    throw new NetspecError(`the ${protocol} server on port ${port} did not start: ${err.trim().split('\n').slice(-2).join(' ') || 'no answer within 10 s'}`);
  }
  return { stop };
}

/**
 * A server that answers every connection or datagram with the source address it saw (one line), for `seenAs` and
 * published-port checks. `enter` is the argv prefix of the namespace to run in (Lab.enter(name)); the server ends by
 * itself after its lifetime, when `stop()` is called, and with the lab. Resolves once it listens.
 */
export async function serve(enter: readonly string[], options: ServeOptions): Promise<Server> {
  if (!Array.isArray(enter) || enter.some((a) => typeof a !== 'string')) throw new InvalidInputError('enter', enter, 'expected the argv prefix of a namespace: lab.enter(name)');
  return startServer(enter, options);
}

/** The source address a responder reported, canonical; undefined for any other answer (a spec's own server's). */
function peerAddress(text: string | undefined): string | undefined {
  const bare = text?.replace(/^\[(.*)\]$/, '$1');
  return bare && ipFamily(bare) ? canonical(bare) : undefined;
}

function firstLine(text: string): string {
  const line = text.trim().split('\n').find((l) => l.trim());
  return line ? `: ${line.trim()}` : '';
}
