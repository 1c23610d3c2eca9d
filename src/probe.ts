/**
 * Probes: real packets from inside a lab namespace. ICMP with fping (one process polls until the first reply or the
 * deadline), TCP and UDP with socat, and a short-lived responder in the target's namespace that answers with the
 * source address it saw (to prove NAT).
 */
import { InvalidInputError, NetspecError } from './errors.js';
import { startLifeline } from './exec.js';
import { addressFacing, parseAddress, type Family } from './ip.js';
import { checkIfname } from './names.js';
import { Netns } from './netns.js';
import { ownerOf, readLabState } from './state.js';

export type Protocol = 'icmp' | 'tcp' | 'udp';

export interface ProbeTarget {
  address: string;
  family: Family;
  port?: number;
  protocol: Protocol;
  /** The namespace handle the target was given as, if any. */
  ns?: Netns;
}

export interface ProbeOutcome {
  reached: boolean;
  /** TCP RST or ICMP port unreachable. */
  refused: boolean;
  /** The source had no route (`Network is unreachable`). */
  noRoute: boolean;
  /** The source address the target saw (with `seenAs` or a responder). */
  seenAs?: string;
  elapsedMs: number;
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
    address = parseAddress(target, 'target address').address;
  } else if (target !== null && typeof target === 'object' && 'address' in target) {
    const t = target as { address: unknown; port?: unknown };
    address = parseAddress(t.address, 'target address').address;
    if (t.port !== undefined) port = t.port as number;
  } else {
    throw new InvalidInputError('target', target, 'expected an IP address ("192.168.15.2"), a namespace handle, or { address, port }');
  }
  if (port !== undefined && (!Number.isInteger(port) || port < 1 || port > 65535)) {
    throw new InvalidInputError('port', port, 'expected a whole number from 1 to 65535');
  }
  const protocol = options.protocol ?? (port === undefined ? 'icmp' : 'tcp');
  if (!['icmp', 'tcp', 'udp'].includes(protocol)) throw new InvalidInputError('protocol', protocol, 'expected "icmp", "tcp" or "udp"');
  if (protocol !== 'icmp' && port === undefined) throw new InvalidInputError('port', port, `a ${protocol.toUpperCase()} probe needs a port: { port: 80 } or { address, port }`);
  return { address, family: address.includes(':') ? 6 : 4, port, protocol, ns };
}

/** The address of `target` on a subnet the source also has, else its first global address. */
async function addressOn(source: Netns, target: Netns, family?: Family): Promise<string> {
  const [mine, theirs] = await Promise.all([source.globalAddresses(family), target.globalAddresses(family)]);
  if (theirs.length === 0) {
    throw new InvalidInputError('target', String(target), `${target.name} has no global address${family ? ` (IPv${family})` : ''} to probe; give it one, or pass an address`);
  }
  return addressFacing(mine, theirs)!;
}

function checkFrom(from: unknown): { address?: string; dev?: string } {
  if (from === undefined) return {};
  if (typeof from === 'string' && (from.includes('.') || from.includes(':')) && /^[0-9a-fA-F.:]+$/.test(from)) {
    return { address: parseAddress(from, 'from').address };
  }
  return { dev: checkIfname(from, 'from (source address or interface)') };
}

/**
 * Probe until the first success or `durationMs` (`until: 'success'`), or for the whole window (`until: 'window'`,
 * for `.not`: nothing may succeed during it). Stops at once when there is no route.
 */
export async function probe(
  source: Netns,
  target: ProbeTarget,
  options: { durationMs: number; from?: string; seenAs?: boolean; responder?: boolean },
): Promise<ProbeOutcome> {
  const started = performance.now();
  const from = checkFrom(options.from);
  const log: string[] = [];
  if (target.protocol === 'icmp' && !options.seenAs) {
    // fping: one try every `interval` ms until a reply or (retries+1) tries
    const interval = options.durationMs <= 1000 ? 100 : 200;
    const tries = Math.max(1, Math.floor(options.durationMs / interval));
    const argv = ['fping', '-e', '-B1', '-t', String(interval), '-r', String(tries - 1)];
    if (from.address) argv.push('-S', from.address);
    if (from.dev) argv.push('-I', from.dev);
    argv.push(target.address);
    const r = await source.lab.run(source.name, argv, { intent: `ping ${target.address}`, reject: false });
    log.push(`${source.name}$ ${argv.join(' ')} → exit ${r.exitCode}${firstLine(r.stdout + r.stderr)}`);
    if (r.exitCode >= 3) throw new NetspecError(`fping failed in ${source}: ${r.stderr.trim() || r.stdout.trim()}`);
    return {
      reached: /is alive/.test(r.stdout),
      refused: false,
      noRoute: /Network is unreachable|No route to host|Cannot assign requested address/.test(r.stderr + r.stdout) && !/is alive/.test(r.stdout),
      elapsedMs: performance.now() - started,
      log,
    };
  }
  // TCP/UDP (or ICMP with seenAs, which needs a responder): socat, with a responder in the target's namespace
  const protocol = target.protocol === 'icmp' ? 'udp' : target.protocol;
  const port = target.port ?? 40_000 + Math.floor(Math.random() * 20_000);
  // The responder is left to end by itself (its `timeout`) or with the lab: killing the nsenter in front of it would
  // orphan it in a way that makes the lab's PID namespace take a second longer to die.
  if (options.responder !== false && source.lab.responders) await startResponder(source, target, protocol, port, options.durationMs, log);
  const deadline = started + options.durationMs;
  let refused = false;
  for (;;) {
    const remaining = Math.max(100, deadline - performance.now());
    const last = await socatOnce(source, target.address, port, protocol, from, Math.min(remaining, 1000), log);
    last.elapsedMs = performance.now() - started;
    // a refusal seen once counts, even if a later ICMP error was rate-limited away
    refused ||= last.refused;
    last.refused = refused && !last.reached;
    if (last.reached || last.noRoute || performance.now() >= deadline) return last;
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function socatOnce(
  source: Netns,
  address: string,
  port: number,
  protocol: 'tcp' | 'udp',
  from: { address?: string; dev?: string },
  timeoutMs: number,
  log: string[],
): Promise<ProbeOutcome> {
  const six = address.includes(':');
  const host = six ? `[${address}]` : address;
  const secs = (timeoutMs / 1000).toFixed(2);
  let spec = `${protocol.toUpperCase()}${six ? '6' : '4'}:${host}:${port}`;
  if (protocol === 'tcp') spec += `,connect-timeout=${secs}`;
  // the responder ends its answer with an empty datagram (shut-null): EOF for us, so we need not wait out -t
  else spec += ',null-eof';
  if (from.address) spec += `,bind=${from.address.includes(':') ? `[${from.address}]` : from.address}`;
  if (from.dev) spec += `,so-bindtodevice=${from.dev}`;
  const argv = ['socat', '-T', secs, '-t', secs, '-', spec];
  const r = await source.lab.run(source.name, argv, { intent: `${protocol} probe to ${address}:${port}`, input: 'netspec\n', reject: false, timeoutMs: timeoutMs + 2000 });
  const seen = r.stdout.trim().split('\n')[0]?.trim();
  const refused = /Connection refused/.test(r.stderr);
  const noRoute = /Network is unreachable|No route to host/.test(r.stderr);
  log.push(`${source.name}$ ${argv.join(' ')} → exit ${r.exitCode}${firstLine(r.stderr.replace(/^\S+ \S+ socat\[\d+\] \w /gm, ''))}`);
  // TCP: a completed connect is reached; UDP: only a reply counts
  const reached = protocol === 'tcp' ? r.exitCode === 0 && !refused : Boolean(seen);
  return { reached, refused, noRoute, seenAs: seen || undefined, elapsedMs: 0, log };
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

/**
 * A server that answers every connection or datagram with the source address it saw (one line), for `seenAs` and
 * published-port checks. `enter` is the argv prefix of the namespace to run in (Lab.enter(name)); the server ends by
 * itself after its lifetime, and with the lab. Resolves once it listens.
 */
export async function serve(enter: readonly string[], options: ServeOptions): Promise<void> {
  const protocol = options.protocol ?? 'tcp';
  const six = options.address?.includes(':') ?? false;
  const bind = options.address ? `,bind=${six ? `[${options.address}]` : options.address}` : '';
  const listen = protocol === 'tcp' ? `TCP${six ? '6' : '4'}-LISTEN:${options.port}${bind},reuseaddr,fork` : `UDP${six ? '6' : '4'}-RECVFROM:${options.port}${bind},fork,shut-null`;
  const lifetime = String(Math.ceil((options.lifetimeMs ?? 60_000) / 1000));
  const child = startLifeline([...enter, 'timeout', lifetime, 'socat', '-d', '-d', listen, `EXEC:${RESPONDER}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  child.unref();
  let err = '';
  const ok = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), 3000);
    child.stderr?.setEncoding('utf8').on('data', (d: string) => {
      err += d;
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
  (child.stderr as unknown as { unref?: () => void })?.unref?.();
  if (!ok) throw new NetspecError(`the ${protocol} server on port ${options.port} did not start: ${err.trim().split('\n').slice(-2).join(' ')}`);
}

/**
 * Start a responder in the namespace that owns the target address, unless something already listens there. It answers
 * every connection or datagram with the peer address it saw, and ends by itself (timeout) even if we never stop it.
 */
async function startResponder(
  source: Netns,
  target: ProbeTarget,
  protocol: 'tcp' | 'udp',
  port: number,
  durationMs: number,
  log: string[],
): Promise<boolean> {
  const lab = source.lab;
  let owner = target.ns;
  if (!owner) {
    const states = await readLabState(lab, { iptables: false });
    const s = ownerOf(states, target.address);
    if (!s) return false; // not in the lab: nothing to start (and nothing will answer)
    owner = lab.get(s.name);
  }
  const ss = await lab.run(owner.name, ['ss', '-H', protocol === 'tcp' ? '-ltn' : '-lun', `sport = :${port}`], { intent: 'look for a listener', reject: false });
  if (ss.stdout.trim()) return true; // the user's own server (or an earlier responder) answers
  try {
    // bound to the target address, so UDP replies leave from the address the client sent to
    await serve(lab.enter(owner.name), { port, protocol, address: target.address, lifetimeMs: durationMs + 5000 });
    log.push(`${owner.name}$ socat ${protocol} responder on ${target.address}:${port} → listening`);
    return true;
  } catch (error) {
    log.push(`${owner.name}$ socat ${protocol} responder on ${target.address}:${port} → did not start (${(error as Error).message})`);
    return false;
  }
}

function firstLine(text: string): string {
  const line = text.trim().split('\n').find((l) => l.trim());
  return line ? `: ${line.trim()}` : '';
}
