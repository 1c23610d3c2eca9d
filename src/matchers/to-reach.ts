/**
 * `expect(ns).toReach(target, options?)`: real packets from inside `ns`; a verdict backed by evidence, and a failure
 * that says why, hop by hop. `.not` passes only after its whole window with proof that probes left the source;
 * `.not.toReach(x, { because })` also asserts why.
 */
import { InvalidInputError, ProbeError } from '../errors.js';
import { canonical, parseProbeAddress } from '../address.js';
import { diagnose, describeRoute, explainReach, DISPOSITIONS, type Diagnosis, type Disposition } from '../diagnose/index.js';
import { fromWords, icmpHeaders, probe, resolveTarget, senderRoute, type PacketOptions, type ProbeOutcome, type Protocol } from '../probe.js';
import type { Netns } from '../netns.js';
import { bullet, checkOptions, MAX_MS, commands, describe, hint, receivedNetns, type Evidence, type MatcherContext, type MatcherResult } from './format.js';

export interface ToReachOptions {
  /** `icmp` (default without a port), `tcp` (default with a port) or `udp`. */
  protocol?: Protocol;
  port?: number;
  /** Source address or interface: one of the namespace's own (anything else is an error). */
  from?: string;
  /** How long a positive assertion keeps trying, in ms (default 3000: enough for ARP/ND resolution). */
  timeout?: number;
  /** How long `.not` watches for any success, in ms (default 400); it never decides earlier. */
  window?: number;
  /** The source address the target must see (proves NAT). ICMP: an nftables witness in the target's namespace records it; TCP/UDP: the responder reports it. */
  seenAs?: string;
  /** Start a short-lived responder where a TCP/UDP probe lands when nothing listens there (default true). */
  responder?: boolean;
  /** With `.not`: why the target must be unreachable (`'FILTERED'`, `'NO_ROUTE'`, …); the diagnosis must say so. */
  because?: Disposition;
  /**
   * ICMP only: the TTL (IPv6: hop limit) the target's reply must arrive with, as the source's kernel received it: what
   * the target sent less one per router on the way back (Linux sends 64, so one router between: 63). A whole number
   * from 1 to 255; not with `.not` (see README).
   */
  ttl?: number;
  /**
   * The IPv4 TOS / IPv6 traffic class byte of the probe's packets (0-255, e.g. 0x10): ICMP (`ping -Q`) in both
   * families, TCP/UDP over IPv4 (socat's `tos`; socat 1.7 sets no IPv6 traffic class, so that is refused).
   */
  tos?: number;
  /**
   * TCP/UDP: the one source port every try uses (1-65535); netspec's landing watch then watches that port alone. A TCP
   * connection that completed leaves the port in TIME_WAIT for a minute: use another port for the next probe.
   */
  sourcePort?: number;
  /** ICMP: the size of each echo request's IP packet in bytes, headers included (as an MTU counts): 64-65535. */
  size?: number;
  /**
   * ICMP: `true` sets the don't-fragment bit (`ping -M do`): a packet bigger than the path MTU fails with the MTU and
   * who reported it; `false` clears it (`ping -M dont`: routers may fragment). Unset: the kernel's default.
   */
  dontFragment?: boolean;
}

export const DEFAULT_REACH_TIMEOUT_MS = 3000;
export const DEFAULT_NOT_WINDOW_MS = 400;

function checkMs(value: number | undefined, name: string): void {
  if (value !== undefined && !(Number.isFinite(value) && value > 0 && value <= MAX_MS)) {
    throw new InvalidInputError(`toReach option ${name}`, value, 'expected a number of milliseconds > 0 and at most an hour');
  }
}

export async function toReach(this: MatcherContext, received: unknown, target: unknown, options?: ToReachOptions): Promise<MatcherResult> {
  const ns = receivedNetns(received, 'toReach');
  const opts = checkOptions<ToReachOptions>(options, 'toReach', {
    protocol: 'string',
    port: 'number',
    from: 'string',
    timeout: 'number',
    window: 'number',
    seenAs: 'string',
    responder: 'boolean',
    because: 'string',
    ttl: 'number',
    tos: 'number',
    sourcePort: 'number',
    size: 'number',
    dontFragment: 'boolean',
  });
  checkMs(opts.timeout, 'timeout');
  checkMs(opts.window, 'window');
  if (opts.because !== undefined) {
    if (!this.isNot) throw new InvalidInputError('toReach option because', opts.because, 'only `.not.toReach` takes `because` (why the target is unreachable)');
    if (!DISPOSITIONS.includes(opts.because) || opts.because === 'REACHED') throw new InvalidInputError('toReach option because', opts.because, `expected one of ${DISPOSITIONS.filter((d) => d !== 'REACHED').join(', ')}`);
  }
  checkTtl(opts.ttl, this.isNot);
  const seenAs = opts.seenAs === undefined ? undefined : parseProbeAddress(opts.seenAs, 'seenAs').address;
  const t = await resolveTarget(ns, target, { protocol: opts.protocol, port: opts.port });
  const packet = checkPacket(opts, t);
  if (opts.ttl !== undefined && t.protocol !== 'icmp') {
    throw new InvalidInputError('toReach option ttl', opts.ttl, `the TTL is read from ICMP echo replies, and this is a ${t.protocol.toUpperCase()} probe (its answers' TTL is not seen by socat); assert the hop count with an ICMP toReach to ${t.address}`);
  }
  if (seenAs !== undefined && seenAs.includes(':') !== (t.family === 6)) {
    throw new InvalidInputError('seenAs', opts.seenAs, `it is IPv${seenAs.includes(':') ? 6 : 4} but the target ${t.address} is IPv${t.family}: a target sees a source of its own family`);
  }
  await ns.lab.checkTarget?.(t.address);
  const label = `${t.address}${t.port ? `:${t.port}` : ''} (${t.protocol}${seenAs ? `, seen as ${seenAs}` : ''})`;
  const args = describe(target) + (options ? `, ${describe(options)}` : '');
  const durationMs = this.isNot ? (opts.window ?? DEFAULT_NOT_WINDOW_MS) : (opts.timeout ?? DEFAULT_REACH_TIMEOUT_MS);
  const outcome = await probe(ns, t, { durationMs, until: this.isNot ? 'window' : 'success', from: opts.from, seenAs: seenAs !== undefined, responder: opts.responder, packet, audience: this.audience });
  const seen = outcome.seenSources ?? (outcome.seenAs ? [canonical(outcome.seenAs)] : []);
  const seenOk = seenAs === undefined || seen.includes(seenAs);
  if (seenAs !== undefined && outcome.reached && seen.length === 0) {
    // reached, but nothing recorded the source (the spec's own server answered, not netspec's responder): "not seen as"
    // would be a claim without evidence
    throw new ProbeError(`${ns.name} reached ${label}, but nothing recorded the source the target saw (the spec's own server answered; netspec's responder reports the source, and for ICMP its nftables witness); no verdict about seenAs`);
  }
  if (opts.ttl !== undefined && outcome.reached && outcome.ttl === undefined) {
    throw new ProbeError(`${ns.name} reached ${label}, but ping printed no TTL for a reply from ${t.address}; no verdict about ttl`);
  }
  const ttlOk = opts.ttl === undefined || outcome.ttl === opts.ttl;
  const pass = outcome.reached && seenOk && ttlOk;
  const evidence = evidenceLine(outcome);

  if (pass && !this.isNot) return { pass, actual: 'REACHED', expected: 'REACHED', message: () => `${hint(ns, 'toReach', true, args)}\n\n${ns.name} reached ${label}${opts.ttl === undefined ? '' : ` with ${ttlWord(t.family)} ${outcome.ttl}`}` };
  if (pass) {
    // a failing `.not`: say what reached, how, and what let it through (only then: it probes again, traced)
    const route = await senderRoute(ns, t.address, fromWords(opts.from), t.protocol);
    const how = route ? describeRoute(route) : 'an unknown route';
    const through = await explainReach(ns, t, { from: opts.from, responder: opts.responder, packet }).catch((e: unknown) => [`(could not read what let it through: ${(e as Error).message})`]);
    return {
      pass,
      actual: 'REACHED',
      expected: opts.because ? `not reached (${opts.because})` : 'not reached',
      message: () =>
        `${hint(ns, 'toReach', true, args)}\n\n${ns.name} reached ${label} within ${Math.round(outcome.elapsedMs)} ms (REACHED); route: ${how}${outcome.seenAs ? `; the target saw the source as ${seen.join(', ')}` : ''}${landingLine(outcome)}\n${through.length ? `\nwhat let it through:\n${bullet(through)}\n` : ''}\ncommands:\n${commands(outcome.log)}`,
    };
  }
  if (outcome.reached && !seenOk) {
    return {
      pass,
      actual: seen.join(', ') || 'unknown',
      expected: seenAs,
      message: () =>
        `${hint(ns, 'toReach', this.isNot, args)}\n\n${ns.name} reached ${t.address}, but the target saw the source as ${seen.join(', ') || '(nothing recorded)'}, not ${seenAs}${seen.length ? ' (is MASQUERADE missing, or on another router?)' : ''}\n\ncommands:\n${commands(outcome.log)}`,
    };
  }
  if (outcome.reached && !ttlOk) {
    const route = await senderRoute(ns, t.address, fromWords(opts.from), t.protocol);
    const word = ttlWord(t.family);
    const routers = outcome.ttl! <= 64 ? `${64 - outcome.ttl!} router${64 - outcome.ttl! === 1 ? '' : 's'} on the way back, if ${t.address} sends ${word} 64 as Linux does; ` : '';
    return {
      pass,
      actual: outcome.ttl,
      expected: opts.ttl,
      message: () =>
        `${hint(ns, 'toReach', false, args)}\n\n${ns.name} reached ${t.address} with ${word} ${outcome.ttl}, not ${opts.ttl} (${routers}route: ${route ? describeRoute(route) : 'unknown'})\n\ncommands:\n${commands(outcome.log)}`,
    };
  }
  if (this.isNot && opts.because === undefined) {
    return { pass, message: () => `${hint(ns, 'toReach', false, args)}\n\n${ns.name} did not reach ${label} within ${durationMs} ms (${evidence})${foreignLine(outcome)}${landingLine(outcome)}`, actual: 'not reached', expected: 'REACHED' };
  }
  if (!this.isNot && outcome.completedBy) {
    // an answer came, but not from the end meant: evidence to report, never a pass
    return {
      pass,
      actual: 'not reached',
      expected: 'REACHED',
      message: () => `${hint(ns, 'toReach', false, args)}\n\n${ns.name} did not reach ${label} within ${durationMs} ms (${evidence})${foreignLine(outcome)}${landingLine(outcome)}\n\ncommands:\n${commands(outcome.log)}`,
    };
  }
  if (!this.isNot && outcome.pmtu && packet.dontFragment === true) {
    // the network (or the source's kernel) said why: the packet does not fit the path with DF set
    const p = outcome.pmtu;
    const size = packet.size !== undefined ? `a ${packet.size}-byte packet` : 'the packet';
    return {
      pass,
      actual: `PMTU ${p.mtu}`,
      expected: 'REACHED',
      message: () =>
        `${hint(ns, 'toReach', false, args)}\n\n${ns.name} cannot reach ${label}: ${size} with DF set does not fit the path MTU ${p.mtu} (${
          p.from ? `${t.family === 6 ? 'ICMPv6 "packet too big"' : 'ICMP "fragmentation needed"'} from ${p.from}` : `${ns.name}'s own kernel refused to send it: its route's MTU, or a path MTU it learnt from an earlier ICMP`
        }); at most ${p.mtu} bytes pass with DF set, and without it (dontFragment: false) routers may fragment it (${evidence})\n\ncommands:\n${commands(outcome.log)}`,
    };
  }
  const d = await diagnose(ns, t, outcome, { from: opts.from, responder: opts.responder, packet, audience: this.audience });
  if (this.isNot) {
    // `.not` with `because`: not reached; the diagnosis must agree on why
    const agrees = d.disposition === opts.because;
    return {
      pass: !agrees,
      actual: d.disposition,
      expected: opts.because,
      evidence: failedPath(ns.lab, ns.name, t.address, d),
      message: () =>
        agrees
          ? `${hint(ns, 'toReach', false, args)}\n\n${ns.name} did not reach ${label} (${d.disposition}), as expected`
          : `${hint(ns, 'toReach', true, args)}\n\n${ns.name} did not reach ${label} within ${durationMs} ms, as expected, but because of ${d.disposition}, not ${opts.because}:\n${bullet(d.hops.map((h, i) => `${i + 1}. ${h}`))}\n\ncommands:\n${commands(d.log)}`,
    };
  }
  return {
    pass,
    actual: d.disposition,
    expected: 'REACHED',
    evidence: failedPath(ns.lab, ns.name, t.address, d),
    message: () =>
      `${hint(ns, 'toReach', false, args)}\n\n${ns.name} cannot reach ${label} (${d.disposition}) within ${durationMs} ms (${evidence}):\n${bullet(d.hops.map((h, i) => `${i + 1}. ${h}`))}\n\ncommands:\n${commands(d.log)}`,
  };
}

/**
 * `ttl`: a whole number from 1 to 255, and never with `.not`: "not reached with TTL 63" would pass on no reply and on a
 * reply with any other TTL alike, so it could not say which, and a typo in the TTL would pass.
 */
function checkTtl(ttl: number | undefined, isNot: boolean): void {
  if (ttl === undefined) return;
  if (!Number.isInteger(ttl) || ttl < 1 || ttl > 255) {
    throw new InvalidInputError('toReach option ttl', ttl, 'expected a whole number from 1 to 255: the TTL (IPv6: hop limit) the reply arrives with, e.g. 63 for one router between Linux hosts');
  }
  if (isNot) {
    throw new InvalidInputError('toReach option ttl', ttl, '`.not.toReach` does not take ttl: it would pass both when nothing answers and when the reply has another TTL; assert `toReach(target, { ttl })` for the hop count, and `.not.toReach(target)` for unreachable');
  }
}

/** tos, sourcePort, size, dontFragment: checked against the probe's protocol and family; what the probe tools can set. */
function checkPacket(opts: ToReachOptions, t: { protocol: Protocol; family: 4 | 6 }): PacketOptions {
  const out: PacketOptions = {};
  const whole = (v: unknown, name: string, lo: number, hi: number, what: string) => {
    if (!Number.isInteger(v) || (v as number) < lo || (v as number) > hi) throw new InvalidInputError(`toReach option ${name}`, v, `expected a whole number from ${lo} to ${hi}: ${what}`);
  };
  if (opts.tos !== undefined) {
    whole(opts.tos, 'tos', 0, 255, 'the TOS / traffic class byte, e.g. 0x10');
    if (t.protocol !== 'icmp' && t.family === 6) throw new InvalidInputError('toReach option tos', opts.tos, `socat (1.7) sets no IPv6 traffic class, so a ${t.protocol.toUpperCase()} probe over IPv6 cannot carry it; probe with ICMP (ping -Q sets it) or over IPv4`);
    out.tos = opts.tos;
  }
  if (opts.sourcePort !== undefined) {
    whole(opts.sourcePort, 'sourcePort', 1, 65535, 'a TCP/UDP port');
    if (t.protocol === 'icmp') throw new InvalidInputError('toReach option sourcePort', opts.sourcePort, 'an ICMP probe has no ports; give a port to probe over TCP or UDP');
    out.sourcePort = opts.sourcePort;
  }
  for (const key of ['size', 'dontFragment'] as const) {
    if (opts[key] !== undefined && t.protocol !== 'icmp') throw new InvalidInputError(`toReach option ${key}`, opts[key], `${key} is set on ICMP echo requests (ping -s / -M); this is a ${t.protocol.toUpperCase()} probe: probe the path MTU with ICMP`);
  }
  if (opts.size !== undefined) {
    whole(opts.size, 'size', 64, 65535, `the IP packet's size in bytes, headers included (${icmpHeaders(t.family)} of them here)`);
    out.size = opts.size;
  }
  if (opts.dontFragment !== undefined) out.dontFragment = opts.dontFragment;
  return out;
}

const ttlWord = (family: 4 | 6) => (family === 6 ? 'hop limit' : 'TTL');

/** The failing probe's path for the failure report's picture, with the state the diagnosis read. */
function failedPath(world: Netns['lab'], source: string, target: string, d: Diagnosis): Evidence {
  return { world, failed: { source, target, disposition: d.disposition, path: d.path, stoppedAt: d.stoppedAt }, states: d.states };
}

function evidenceLine(o: ProbeOutcome): string {
  if (o.noRoute) return 'the kernel refused to send: no route';
  return o.sent === 1 && o.watchedMs === 0
    ? '1 probe sent'
    : `${o.sent} probe${o.sent === 1 ? '' : 's'} sent, watched ≥ ${Math.round(o.watchedMs)} ms after the first`;
}

function landingLine(o: ProbeOutcome): string {
  const l = o.landing;
  if (!l) return '';
  const who = l.answered === 'server' ? "the spec's own server" : l.answered === 'responder' ? "netspec's responder" : 'nothing';
  return `\n${l.dnat ? `${l.dnat}; ` : ''}answered by ${who}${l.ns ? ` in ${l.ns}` : ''} on ${l.address}:${l.port}${l.observed ? " (where netspec's landing watch saw the probe's own packets delivered)" : ''}`;
}

/** An answer that did not come from the end meant (a proxy that hung up, a SYN proxy): said, as evidence. */
function foreignLine(o: ProbeOutcome): string {
  return o.completedBy ? `\nan answer came, but not from the end meant: ${o.completedBy}` : '';
}
