/**
 * Where a probe's packets land, and what answers there (ARCHITECTURE.md, "A verdict"): the first DNAT a packet meets
 * (iptables and native nftables, through the one parser of each), the landing namespace, the short-lived responders
 * netspec starts there (never in the lab host), the spec's own servers (`serve`), and the nftables witnesses that
 * record the source address a packet arrives with (`seenAs`). probe.ts sends the packets; this file decides where they
 * land and proves who saw them.
 */
import type { ChildProcess } from 'node:child_process';
import { InvalidInputError, NetspecError, PrerequisiteError, ProbeError } from './errors.js';
import type { RunResult } from './exec.js';
import { installHint, spawnLongLived, whileStdinOpen } from './exec.js';
import { canonical, ipFamily, parseProbeAddress, type Family } from './address.js';
import { Netns } from './netns.js';
import { labAddresses, ownerIn } from './state.js';
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

export interface From {
  address?: string;
  dev?: string;
}

/** A probe command that did not run (nsenter could not enter, the namespace is gone, a tool is missing) is an error. */
export function checkRan(source: Netns, r: RunResult, what: string): void {
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

/**
 * Where a packet to `address:port` lands: the owner of the address, or where a DNAT rule of the owner sends it
 * (`iptables -t nat … --dport P -j DNAT --to-destination B[:Q]`). Starts a responder there when nothing listens,
 * unless that is the lab host (it stands for the machine: a port on it answers only if the spec runs a server there).
 */
export async function land(
  source: Netns,
  target: ProbeTarget,
  protocol: 'tcp' | 'udp',
  port: number,
  respond: boolean,
  locate: boolean,
  from: From,
  durationMs: number,
  log: string[],
): Promise<{ info?: Landing; stop(): Promise<void> }> {
  const none = { stop: async () => undefined };
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
    if (!owner) return { info: { address, port: toPort, dnat, answered: 'nothing', why: `no namespace in the lab has ${address}` }, stop: none.stop };
  }
  const info: Landing = { ns: owner, address, port: toPort, dnat, answered: 'nothing' };
  const ss = await lab.run(owner, ['ss', '-H', protocol === 'tcp' ? '-ltn' : '-lun', `sport = :${toPort}`], { intent: 'look for a listener', reject: false });
  checkRan(lab.get(owner), ss, 'looking for a listener (ss)');
  if (ss.stdout.trim()) {
    info.answered = 'server';
    log.push(`${owner}$ ss: something listens on ${protocol} port ${toPort} (the spec's own server): no responder`);
    return { info, stop: none.stop };
  }
  if (!respond) {
    info.why = `nothing listens on ${protocol} port ${toPort} in ${owner}, and no responder was to be started`;
    return { info, stop: none.stop };
  }
  if (owner === 'host') {
    info.why = `nothing listens on ${protocol} port ${toPort} in the lab host (netspec starts responders in namespaces, never in the host, which stands for the machine; run a server there with serve(lab.host, …) to test one)`;
    log.push(`host: ${info.why}`);
    return { info, stop: none.stop };
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
  const iptables = ipt.exitCode === 0 ? parseIptablesSave(ipt.stdout, `${ns.name}$ ${save} -t nat`) : undefined;
  const native = nft?.exitCode === 0 ? nativeOnly(parseNftJson(nft.stdout, `${ns.name}$ nft -j list ruleset`)) : undefined;
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

/** netspec's responders and serve() print the peer address behind this marker (no space: socat splits EXEC on spaces). */
const PEER_MARK = 'netspec-peer=';
const RESPONDER = `awk {print("${PEER_MARK}"ENVIRON["SOCAT_PEERADDR"]);exit}`;

export interface ServeOptions {
  port: number;
  protocol?: 'tcp' | 'udp';
  /** Bind to this address (so UDP answers leave from it); default all. */
  address?: string;
  /** It ends by itself after this long, in ms (default 60 000). */
  lifetimeMs?: number;
}

export interface Server {
  /**
   * End the server now (it also ends after its lifetime, and with the lab). Resolves once it has exited, so nothing sent
   * after it can reach it; a server still there after 5 s is a ProbeError.
   */
  stop(): Promise<void>;
}

/** How long a stopped responder or server may take to exit before that is an error. */
const STOP_MS = 5_000;

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
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
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
  let stopping: Promise<void> | undefined;
  // its stdin closes, the shell around it ends socat and waits for it; the server is gone when that shell has exited
  const stop = () =>
    (stopping ??= (async () => {
      child.stdin?.end();
      if (child.exitCode !== null || child.signalCode !== null) return;
      let timer: NodeJS.Timeout | undefined;
      const gone = await Promise.race([exited.then(() => true), new Promise<boolean>((r) => (timer = setTimeout(() => r(false), STOP_MS)))]);
      clearTimeout(timer);
      if (!gone) {
        child.kill('SIGKILL');
        throw new ProbeError(`the ${protocol} server on port ${port} did not exit within ${STOP_MS} ms of being stopped; a probe after it could reach it, so there is no verdict`);
      }
    })());
  if (!ok) {
    await stop().catch(() => undefined);
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

/**
 * The source address netspec's responder or serve() reported, canonical; undefined for any other answer. Only a line
 * with netspec's marker counts: a spec's own server that prints an address (any address) is no evidence of the source.
 */
export function peerAddress(text: string | undefined): string | undefined {
  if (!text?.startsWith(PEER_MARK)) return undefined;
  const bare = text.slice(PEER_MARK.length).replace(/^\[(.*)\]$/, '$1');
  return bare && ipFamily(bare) ? canonical(bare) : undefined;
}

export function firstLine(text: string): string {
  const line = text.trim().split('\n').find((l) => l.trim());
  return line ? `: ${line.trim()}` : '';
}
