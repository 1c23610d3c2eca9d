/**
 * Where a probe's packets land, and what answers there (ARCHITECTURE.md, "A verdict"): the first DNAT a packet meets
 * (iptables and native nftables, through the one parser of each), the landing namespace, the short-lived responders
 * netspec starts there (never in the lab host), the spec's own servers (`serve`), and the landing watch that
 * records where the probe's own packets are delivered and the source address they arrive with (`seenAs`). probe.ts sends the packets; this file decides where they
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
import { nativeOnly, nftDnatFor, parseNftJson, tableSetElements } from './parse/nft.js';
import type { Scope } from './scope.js';
import { randomBytes, randomInt } from 'node:crypto';

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
  /** The landing place was observed (netspec's landing watch saw the probe's own packets delivered there). */
  observed?: boolean;
  /** The source address the packets arrived with there (after every SNAT on the way). */
  seenBy?: string;
  why?: string;
}

/** How the probe's packets are sent: its source (address or device) and, when asked for, the packet's own fields. */
export interface From {
  address?: string;
  dev?: string;
  /** IPv4 TOS / IPv6 traffic class byte (ping -Q, socat tos). */
  tos?: number;
  /** TCP/UDP: the one source port every try uses (the landing watch watches that port alone). */
  sourcePort?: number;
  /** ICMP: the size of each echo request's IP packet, in bytes (ping -s, less the headers). */
  size?: number;
  /** ICMP: set (true, ping -M do) or clear (false, ping -M dont) the don't-fragment bit; unset: the kernel's default. */
  dontFragment?: boolean;
}

/** A probe command that did not run (nsenter could not enter, the namespace is gone, a tool is missing) is an error. */
export function checkRan(source: Netns, r: RunResult, what: string): void {
  const missing = /failed to run command '([^']+)': No such file or directory/.exec(r.stderr)?.[1];
  if (missing) throw new PrerequisiteError(`the \`${missing}\` command`, installHint(missing));
  // nsenter's, or the lab runner's (src/exec.ts, runThrough), "could not enter"
  const nsenter = /^(?:nsenter|netspec): (.*)$/m.exec(r.stderr);
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

/** Where one of the probe's own packets was delivered, as the kernel of the receiving namespace saw it (its input hook). */
/** A TCP connection a namespace opened itself while a landing watch ran (see LandingWatch.onward). */
export interface Onward {
  ns: string;
  address: string;
  port: number;
  sport: number;
  accepted: boolean;
}

export interface Delivery {
  /** The namespace whose input hook saw it (`host` for the lab host). */
  ns: string;
  /** Destination address and port as delivered: after every NAT on the way. */
  address: string;
  port?: number;
  /** The probe's own source port (TCP/UDP): which try it was. */
  sport?: number;
  /** The source address as delivered (after every SNAT/MASQUERADE on the way). */
  source: string;
}

/**
 * A landing watch: a table of netspec's own in every namespace of the lab (and its host) whose input hook records the
 * probe's own packets as they are delivered, after every NAT: TCP SYNs / UDP datagrams from the probe's source ports
 * (a range of 64 chosen for this probe, never the target's port), ICMP echo requests carrying the probe's payload
 * nonce (`ping -p`). Where a packet lands is read from it, never from the rules (ARCHITECTURE.md, "A verdict"). For TCP
 * its output hook also records the connections each namespace opens itself meanwhile (`onward`: a proxy's).
 */
export interface LandingWatch {
  /** The source ports the probe's TCP/UDP tries use, one a try, in turn. */
  readonly ports: number[];
  /** ICMP: the 8-byte payload pattern (16 hex digits) for `ping -p`. */
  readonly nonce: string;
  /** Every delivery of the probe's own packets so far, from every namespace. */
  read(): Promise<Delivery[]>;
  /**
   * UDP only (empty otherwise): the probe's own datagrams seen again after every input filter (`received`), and the
   * datagrams any namespace sent back to the probe's source ports (`answers`): per flow, so other UDP traffic in the
   * lab never counts. An answer's `address`/`port` are its own source, `sport` the probe port it goes to, `source`
   * the address it is sent to.
   */
  udpFate(): Promise<{ received: Delivery[]; answers: Delivery[] }>;
  /**
   * TCP only (empty otherwise): the new TCP connections namespace `ns` tried to open while the watch ran (a SYN without
   * ACK leaving its output hook, never one of the probe's own): a listener there proxying onward. `address`/`port` are
   * where each went, `sport` its own source port, `accepted` whether a SYN-ACK came back for that very connection
   * (its conntrack original tuple: something on the far side completed the handshake).
   */
  onward(ns: string): Promise<Onward[]>;
  /**
   * TCP only: every onward connection of every namespace, and where the SYNs that are not the probe's own were
   * delivered (`inbound`: destination after every NAT, `sport` the connecting side's port): enough to follow a proxy's
   * connection to the listener behind it, and that one's onward, from one read (`probes`: the probe's own deliveries,
   * as read()).
   */
  connections(): Promise<{ onward: Onward[]; inbound: Delivery[]; probes: Delivery[] }>;
  /**
   * TCP/UDP: the probe's source ports whose packets the kernel saw leave a namespace (its output hook): the tries
   * that were really sent. A try whose program gave up before sending (a datagram prober starved of CPU past its
   * timeout) left nothing, and is no evidence of "not reached".
   */
  left(): Promise<{ ns: string; sport: number }[]>;
  stop(): Promise<void>;
}

/**
 * The priority of the landing watch's second look at a UDP datagram on input: after every filter at a standard
 * priority (raw -300 … security 50, srcnat 100, conntrack helpers 300), so a datagram seen there was passed on to the
 * socket layer (a filter chain of the user's at a priority above this would go unnoticed).
 */
const RECEIVED_PRIORITY = 1000;

let watches = 0;
const WATCH_PORTS = 64;
// The source-port blocks of this process's live watches. A probe's tries use its watch's ports, and what the watch
// records is told apart by them: two probes at once from one namespace (a spec's Promise.all of toReach) with
// overlapping ranges each counted the other's packets. Blocks of 64 in 20000-29999, one per live watch; with every
// block taken (156 probes at once in one process) a block is shared, as any random range could be before.
const BLOCKS = Math.floor((30000 - 20000) / WATCH_PORTS);
const blocksInUse = new Map<number, number>();

/** A free block of source ports (its first port) that does not hold `avoid` (the target's own port). */
function takeBlock(avoid: number | undefined): number {
  const holds = (b: number) => avoid !== undefined && avoid >= 20000 + b * WATCH_PORTS && avoid < 20000 + (b + 1) * WATCH_PORTS;
  const candidates = Array.from({ length: BLOCKS }, (_, b) => b).filter((b) => !holds(b));
  const free = candidates.filter((b) => !blocksInUse.has(b));
  const pool = free.length ? free : candidates;
  const b = pool[randomInt(pool.length)]!;
  blocksInUse.set(b, (blocksInUse.get(b) ?? 0) + 1);
  return b;
}

function releaseBlock(b: number): void {
  const n = (blocksInUse.get(b) ?? 1) - 1;
  if (n > 0) blocksInUse.set(b, n);
  else blocksInUse.delete(b);
}

/**
 * Start a landing watch, or say why there can be none (attach mode adds no tables: its landing is not observed).
 * Every word of the table is netspec's own: a generated name, integers, a hex nonce, fixed keywords.
 */
export async function watchLanding(lab: Scope, target: { family: Family; protocol: Protocol; port?: number }, sourcePort?: number): Promise<LandingWatch | { unavailable: string }> {
  const refused = lab.refusesTables();
  if (refused) return { unavailable: `${refused}, so the landing place of the probe's packets is not observed` };
  // a source port the caller fixed (toReach's sourcePort) is the watch's only port
  const count = sourcePort === undefined ? WATCH_PORTS : 1;
  const block = sourcePort === undefined ? takeBlock(target.port) : undefined;
  const base = sourcePort ?? 20000 + block! * WATCH_PORTS;
  let released = false;
  const release = () => {
    if (block !== undefined && !released) releaseBlock(block);
    released = true;
  };
  const ports = Array.from({ length: count }, (_, i) => base + i);
  const range = count === 1 ? String(base) : `${base}-${base + count - 1}`;
  const nonce = randomBytes(8).toString('hex');
  const table = `netspec_land_${process.pid}_${++watches}`;
  const six = target.family === 6;
  const [ip, addr] = six ? ['ip6', 'ipv6_addr'] : ['ip', 'ipv4_addr'];
  let rule: string;
  let set: string;
  // UDP: a second look after every input filter, and the answers sent back to the probe's ports (silence is not refusal)
  let udp = '';
  // TCP: the connections the namespaces open themselves during the probe (a proxy connecting onward)
  let extra = '';
  if (target.protocol === 'icmp') {
    set = `set echoes { type ${addr} . ${addr}; flags dynamic; size 4096; }`;
    // iputils fills the payload with the pattern from byte 8 of the ICMP message and writes its 16-byte timestamp over
    // bytes 8-23: the nonce is whole at bytes 24-31
    const type = six ? 'icmpv6 type echo-request' : 'icmp type echo-request';
    rule = `meta nfproto ${six ? 'ipv6' : 'ipv4'} ${type} @th,192,64 0x${nonce} add @echoes { ${ip} daddr . ${ip} saddr }`;
  } else {
    set = `set flows { type ${addr} . inet_service . inet_service . ${addr}; flags dynamic; size 4096; }`;
    // TCP: the SYN only (not an answer, whatever its ports); UDP: every datagram from the probe's ports
    const syn = target.protocol === 'tcp' ? ' tcp flags & (syn | ack) == syn' : '';
    rule = `meta nfproto ${six ? 'ipv6' : 'ipv4'} meta l4proto ${target.protocol}${syn} th sport ${range} add @flows { ${ip} daddr . th dport . th sport . ${ip} saddr }`;
    if (target.protocol === 'tcp') {
      // a listener that connects onward (a proxy) opens a connection of its own: its SYN leaves its namespace's output
      // hook, in either family, whatever the probe's family; the probe's own SYNs (its source ports) are not counted
      const onward = (fam: 'ipv4' | 'ipv6', a: string, t: string) =>
        ` set onward${fam.slice(-1)} { type ${t} . inet_service . inet_service; flags dynamic; size 4096; };` +
        ` chain onward${fam.slice(-1)} { type filter hook output priority -300; policy accept; meta nfproto ${fam} meta l4proto tcp tcp flags & (syn | ack) == syn tcp sport != ${range} add @onward${fam.slice(-1)} { ${a} daddr . tcp dport . tcp sport }; };` +
        // where such connections land (any namespace's input, after DNAT), by their source port, to follow a proxy
        ` set inbound${fam.slice(-1)} { type ${t} . inet_service . inet_service . ${t}; flags dynamic; size 4096; };` +
        ` chain inbound${fam.slice(-1)} { type filter hook input priority -300; policy accept; meta nfproto ${fam} meta l4proto tcp tcp flags & (syn | ack) == syn tcp sport != ${range} add @inbound${fam.slice(-1)} { ${a} daddr . tcp dport . tcp sport . ${a} saddr }; };` +
        // the handshakes completed for them: a SYN-ACK arriving for that very connection (its conntrack original
        // tuple, as the onward SYN left: a SYN-ACK of another connection from the same local port is not its own)
        ` set synacks${fam.slice(-1)} { type ${t} . inet_service . inet_service; flags dynamic; size 4096; };` +
        ` chain synacks${fam.slice(-1)} { type filter hook input priority -300; policy accept; meta nfproto ${fam} meta l4proto tcp tcp flags & (syn | ack) == syn | ack ct direction reply add @synacks${fam.slice(-1)} { ct original ${a} daddr . ct original proto-dst . ct original proto-src };` +
        // untracked (the user's notrack) or invalid in conntrack: no NAT can have touched it, its own ports say it
        ` meta nfproto ${fam} meta l4proto tcp tcp flags & (syn | ack) == syn | ack ct state invalid,untracked add @synacks${fam.slice(-1)} { ${a} saddr . tcp sport . tcp dport }; };`;
      extra = onward('ipv4', 'ip', 'ipv4_addr') + onward('ipv6', 'ip6', 'ipv6_addr');
    }
    if (target.protocol === 'udp') {
      const nf = `meta nfproto ${six ? 'ipv6' : 'ipv4'} meta l4proto udp`;
      udp =
        ` set received { type ${addr} . inet_service . inet_service . ${addr}; flags dynamic; size 4096; };` +
        ` set answers { type ${addr} . inet_service . inet_service . ${addr}; flags dynamic; size 4096; };` +
        ` chain received { type filter hook input priority ${RECEIVED_PRIORITY}; policy accept; ${nf} th sport ${range} add @received { ${ip} daddr . th dport . th sport . ${ip} saddr }; };` +
        ` chain answers { type filter hook output priority -300; policy accept; ${nf} th dport ${range} add @answers { ${ip} saddr . th sport . th dport . ${ip} daddr }; };`;
    }
  }
  if (target.protocol !== 'icmp') {
    // the tries that really left: the probe's own packets on their way out of the source
    // (of the probe's family: a probe of the other family from the same namespace may draw ports from the same range)
    extra += ` set left { type inet_service; flags dynamic; size 4096; }; chain left { type filter hook output priority -10000; policy accept; meta nfproto ${six ? 'ipv6' : 'ipv4'} meta l4proto ${target.protocol} th sport ${range} add @left { th sport }; };`;
  }
  // before every filter (a packet a filter drops at input still landed there), after prerouting's DNAT
  const ruleset = `table inet ${table} { ${set}; chain input { type filter hook input priority -300; policy accept; ${rule}; };${udp}${extra} }`;
  const names = ['host', ...lab.namespaces()];
  try {
    await Promise.all([lab.run('host', ['nft', ruleset], { intent: 'add the landing watch', reject: false }), lab.inEveryNamespace(['nft', ruleset], { intent: 'add the landing watch' })]);
  } catch (error) {
    release();
    throw error;
  }
  const readAll = async (): Promise<{ deliveries: Delivery[]; received: Delivery[]; answers: Delivery[]; onward: Onward[]; inbound: Delivery[]; left: { ns: string; sport: number }[] }> => {
    const argv = ['nft', '-j', 'list', 'table', 'inet', table];
    const [host, rest] = await Promise.all([lab.run('host', argv, { intent: 'read the landing watch', reject: false }), lab.inEveryNamespace(argv, { intent: 'read the landing watch' })]);
    const outputs = new Map<string, string>([['host', host.stdout], ...rest.outputs]);
    const out: Delivery[] = [];
    const received: Delivery[] = [];
    const answers: Delivery[] = [];
    const onward: Onward[] = [];
    const inbound: Delivery[] = [];
    const left: { ns: string; sport: number }[] = [];
    const missing: string[] = [];
    for (const ns of names) {
      const text = outputs.get(ns)?.trim();
      // a namespace made during the probe has no watch; one that was there must answer
      if (!text) {
        missing.push(ns);
        continue;
      }
      let sets: Map<string, (string | number)[][]>;
      try {
        sets = tableSetElements(text, `${ns}$ ${argv.join(' ')}`);
      } catch (error) {
        throw new ProbeError(`${(error as Error).message}; no verdict about where the probe landed`);
      }
      for (const [d, p, sp, src] of sets.get('flows') ?? []) out.push({ ns, address: String(d), port: Number(p), sport: Number(sp), source: String(src) });
      for (const [d, src] of sets.get('echoes') ?? []) out.push({ ns, address: String(d), source: String(src) });
      for (const [d, p, sp, src] of sets.get('received') ?? []) received.push({ ns, address: String(d), port: Number(p), sport: Number(sp), source: String(src) });
      for (const [a, p, sp, to] of sets.get('answers') ?? []) answers.push({ ns, address: String(a), port: Number(p), sport: Number(sp), source: String(to) });
      for (const [p] of sets.get('left') ?? []) left.push({ ns, sport: Number(p) });
      const synacks = new Set([...(sets.get('synacks4') ?? []), ...(sets.get('synacks6') ?? [])].map(([d, p, sp]) => `${String(d)} ${Number(p)} ${Number(sp)}`));
      for (const [d, p, sp] of [...(sets.get('onward4') ?? []), ...(sets.get('onward6') ?? [])]) onward.push({ ns, address: String(d), port: Number(p), sport: Number(sp), accepted: synacks.has(`${String(d)} ${Number(p)} ${Number(sp)}`) });
      for (const [d, p, sp, src] of [...(sets.get('inbound4') ?? []), ...(sets.get('inbound6') ?? [])]) inbound.push({ ns, address: String(d), port: Number(p), sport: Number(sp), source: String(src) });
    }
    if (missing.length) {
      lab.assertAlive();
      const now = new Set(['host', ...lab.namespaces()]);
      const gone = missing.filter((n) => now.has(n));
      if (gone.length) throw new ProbeError(`netspec's landing watch could not be read in ${gone.join(', ')} (its table is missing there: nft could not add it, or something deleted it), so where the probe's packets landed is unknown; no verdict`);
    }
    return { deliveries: out, received, answers, onward, inbound, left };
  };
  return {
    ports,
    nonce,
    read: async () => (await readAll()).deliveries,
    udpFate: async () => {
      const { received, answers } = await readAll();
      return { received, answers };
    },
    onward: async (ns: string) => (await readAll()).onward.filter((o) => o.ns === ns),
    left: async () => (await readAll()).left,
    connections: async () => {
      const { onward, inbound, deliveries } = await readAll();
      return { onward, inbound, probes: deliveries };
    },
    async stop() {
      release();
      // not waited for: the verdict is already read, the table only accepts, and a lab that ends takes it along
      const argv = ['nft', 'delete', 'table', 'inet', table];
      void lab.run('host', argv, { intent: 'remove the landing watch', reject: false }).catch(() => undefined);
      void lab.inEveryNamespace(argv, { intent: 'remove the landing watch' }).catch(() => undefined);
    },
  };
}

/** Is something listening on `protocol` port `port` in `ns` (the user's own server)? */
export async function listens(lab: Scope, ns: string, protocol: 'tcp' | 'udp', port: number): Promise<boolean> {
  const ss = await lab.run(ns, ['ss', '-H', protocol === 'tcp' ? '-ltn' : '-lun', `sport = :${port}`], { intent: 'look for a listener', reject: false });
  checkRan(lab.get(ns), ss, 'looking for a listener (ss)');
  return ss.stdout.trim() !== '';
}

/** Start netspec's responder where the probe's packets were seen to land (never in the lab host: it stands for the machine). */
export async function startResponder(lab: Scope, ns: string, protocol: 'tcp' | 'udp', address: string, port: number, lifetimeMs: number): Promise<Server> {
  // bound to the landing address, so UDP replies leave from the address the client's packets were sent to
  return startServer(lab.enter(ns), { port, protocol, address, lifetimeMs }).catch((error: unknown) => {
    throw new ProbeError(`the ${protocol} responder in ${lab.get(ns)} on ${address}:${port} did not start (${(error as Error).message}); no verdict`, { cause: error });
  });
}

/**
 * For explaining only, never deciding: the DNAT rule netspec's reading of the rules finds for the target in its
 * owner's namespace, if it sends the packet where it was seen to land.
 */
export async function explainDnat(source: Netns, target: ProbeTarget, protocol: 'tcp' | 'udp', landed: { ns: string; address: string; port: number }): Promise<string> {
  const observed = `observed: the kernel delivered the probe's packets to ${landed.ns} as ${landed.address}:${landed.port}`;
  try {
    const owner = ownerIn(await labAddresses(source.lab), target.address);
    const rule = owner ? await dnatRule(source.lab.get(owner), target, protocol, target.port!, async () => (await source.routeGet(target.address))?.prefsrc) : undefined;
    if (rule && canonical(rule.address) === landed.address && (rule.port ?? target.port) === landed.port) {
      return `${owner}: DNAT ${target.address}:${target.port} → ${landed.address}:${landed.port} (rule \`${rule.rule}\`)`;
    }
  } catch {
    /* an explanation only: the observation stands without it */
  }
  return `DNAT ${target.address}:${target.port} → ${landed.address}:${landed.port} (${observed}; no rule netspec read explains it)`;
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
  /**
   * Bind to this address (so UDP answers leave from it); default all, IPv4 and IPv6 alike (one dual-stack socket,
   * `ipv6only=0`: an IPv4 peer is reported as its IPv4 address).
   */
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

async function startServer(enter: readonly string[], options: ServeOptions, ipv4Only = false): Promise<Server> {
  const { port, protocol, address, lifetimeMs } = checkServe(options);
  // no address: every address of both families, on one dual-stack socket (an IPv4 peer is ::ffff:a.b.c.d to it);
  // IPv4 alone on a kernel without IPv6
  const six = address?.includes(':') ?? !ipv4Only;
  const bind = address ? `,bind=${six ? `[${address}]` : address}` : six ? ',ipv6only=0' : '';
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
    if (!address && six && /Address family not supported/.test(err)) return startServer(enter, options, true);
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
  if (!bare || !ipFamily(bare)) return undefined;
  // an IPv4 peer of a dual-stack socket (serve() without an address) is an IPv4-mapped IPv6 address: the IPv4 one
  const mapped = /^(?:0{0,4}:){5}ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(bare.replace(/^::/, '0:0:0:0:0:')) ?? /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(bare);
  if (mapped) {
    const [hi, lo] = [parseInt(mapped[1]!, 16), parseInt(mapped[2]!, 16)];
    return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  }
  const dotted = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(bare);
  if (dotted) return dotted[1];
  return canonical(bare);
}

export function firstLine(text: string): string {
  const line = text.trim().split('\n').find((l) => l.trim());
  return line ? `: ${line.trim()}` : '';
}
