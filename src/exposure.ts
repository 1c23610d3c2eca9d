/**
 * Exposure sweeps (issue 30): which ports of a target a source's packets reach, over the whole port space, with real
 * packets through the real kernels' rules.
 *
 * - The sender: a small raw sender of netspec's own (python3, run in the source namespace through exec.ts), one TCP
 *   SYN (or one UDP datagram) per port. Every probe carries a nonce: TCP in the upper 16 bits of its sequence number,
 *   UDP in its payload, and the port it was sent to in the lower 16 bits / the payload's last two bytes, so the port
 *   named is known where the packet lands even after a DNAT rewrote it.
 * - The observer: a table of netspec's own in every namespace of the lab (and its host) whose input hook, at priority
 *   1000 (after every filter at a standard priority: the user's firewall has accepted the packet by then), records
 *   each probe delivered there: the address and port it arrived at (after every NAT) and the port it was sent to. A
 *   packet a rule drops or rejects never gets there; a packet that gets there could be answered (a SYN-ACK from a
 *   listener, a RST from the TCP stack): the port is exposed, whether anything listens or not.
 * - Lost packets: the neighbours on the way are resolved first (a few probes, then a pause), and the drop counters of
 *   every interface of the lab are read around each pass; when they rose, the ports not seen are swept again, until a
 *   pass loses nothing (or it is a ProbeError: no verdict).
 *
 * Attach mode adds no tables, so there is no sweep there: the matchers refuse it (README, "Exposure").
 */
import { randomInt } from 'node:crypto';
import { InvalidInputError, ProbeError } from './errors.js';
import type { Family } from './address.js';
import type { Netns } from './netns.js';
import type { Scope } from './scope.js';
import { checkRan, firstLine } from './landing.js';
import { labAddresses, ownerIn } from './state.js';
import { counterValue, tableSetElements } from './parse/nft.js';
import { firstArray } from './parse/ip.js';

/** One port of the target that the source's probes reached: where the probe was delivered (after every NAT). */
export interface ExposedPort {
  /** The port the probe was sent to (at the target address). */
  port: number;
  protocol: 'tcp' | 'udp';
  /** The namespace whose input accepted it (`host` for the lab host). */
  ns: string;
  /** The address and port it was delivered to there: the target's, or a DNAT's. */
  address: string;
  landedPort: number;
  /** Something listens on the landing port there (ss), for `{ listening: true }`. Read only when asked for. */
  listening?: boolean;
}

/** What a sweep found, and its evidence. */
export interface SweepResult {
  protocol: 'tcp' | 'udp';
  target: string;
  family: Family;
  /** The ports swept (every port, 1-65535, unless a list was given). */
  swept: number;
  /** Exposed ports, by the port probed, ascending. */
  exposed: ExposedPort[];
  /** Probes the sender handed to the kernel, over all passes. */
  sent: number;
  /** Probes seen leaving the source (its postrouting hook, after its own output filters). */
  left: number;
  /** Probes the source's kernel refused to send, over all passes: for want of a route, or by its own output filters. */
  refusedBySource: { noRoute: number; filtered: number };
  passes: number;
  elapsedMs: number;
  /** `ns$ command → …` lines, for the message. */
  log: string[];
}

export interface SweepOptions {
  protocol: 'tcp' | 'udp';
  /** Read which landing ports something listens on (`{ listening: true }`). */
  listening?: boolean;
  /** Only these ports (default: all 65,535). */
  ports?: readonly number[];
}

/** The input priority of the observer: after every filter chain at a standard priority (raw -300 … srcnat 100, helpers 300). */
export const SWEEP_PRIORITY = 1000;
/** The prerouting priority where the probes are counted as they arrive in a namespace: before anything else (raw is -300). */
const ARRIVED_PRIORITY = -500;
/** How long a pass waits, at most, for the probes in flight to arrive after the sender is done. */
const DRAIN_MS = 2_000;
const MAX_PASSES = 4;
/** Source ports: one per pass, from a random base. */
const SPORTS = 8;
let sweeps = 0;

/**
 * The raw sender: argv family, protocol, target, source port, nonce (hex), primer source port; on stdin two lines: the
 * primer's ports (sent first from the primer source port, then a pause so the neighbours on the way resolve; may be
 * empty), and the ports (`all` or comma-separated). A send the kernel refuses for want of buffer space is tried again;
 * it prints `sent noroute filtered other`: probes handed to the kernel, refused for want of a route (ENETUNREACH,
 * EHOSTUNREACH, EACCES, EINVAL: a blackhole or prohibit route), refused by the source's own output filters (EPERM), and
 * refused otherwise (the ports of the last kind follow, comma-separated).
 */
const SENDER = String.raw`
import errno, socket, struct, sys, time
fam, proto, dst, sport, nonce, psport = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5], 16), int(sys.argv[6])
lines = sys.stdin.read().split('\n')
primer = [int(p) for p in lines[0].split(',') if p]
spec = lines[1].strip() if len(lines) > 1 else ''
ports = range(1, 65536) if spec == 'all' else [int(p) for p in spec.split(',') if p]
six = fam == '6'
AF = socket.AF_INET6 if six else socket.AF_INET
ROUTE = (errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EACCES, errno.EINVAL)
try:
    u = socket.socket(AF, socket.SOCK_DGRAM)
    u.connect((dst, 9))
    here = u.getsockname()
    src = here[0]
    # the probes leave from the address a connected socket would use, bound: the route of an unbound sender is looked up
    # without a source, so an ip rule "from ADDR" or "not from ADDR" would send the probes where no client's traffic goes
    bound = (src, 0, 0, here[3]) if six else (src, 0)
    u.close()
except OSError as e:
    if e.errno not in ROUTE:
        raise
    print(0, len(ports), 0, 0, '')
    sys.exit(0)
count = {'sent': 0, 'noroute': 0, 'filtered': 0}
other = []
def emit(s, pkt, addr, p):
    for _ in range(500):
        try:
            s.sendto(pkt, addr)
            count['sent'] += 1
            return
        except OSError as e:
            if e.errno in (errno.ENOBUFS, errno.EAGAIN):
                time.sleep(0.001)
                continue
            if e.errno in ROUTE:
                count['noroute'] += 1
            elif e.errno == errno.EPERM:
                count['filtered'] += 1
            else:
                other.append(p)
            return
    other.append(p)
def send(sport, ports):
    if proto == 'tcp':
        s = socket.socket(AF, socket.SOCK_RAW, socket.IPPROTO_TCP)
        s.bind(bound)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
        head = nonce << 16
        if six:
            s.setsockopt(socket.IPPROTO_IPV6, 7, 16)  # IPV6_CHECKSUM: the kernel fills the TCP checksum (offset 16)
            for p in ports:
                pkt = struct.pack('!HHIIBBHHH', sport, p, head | p, 0, 0x50, 0x02, 65535, 0, 0)
                try:
                    s.sendto(pkt, (dst, 0))
                    count['sent'] += 1
                except OSError:
                    emit(s, pkt, (dst, 0), p)
        else:
            base = sum(struct.unpack('!6H', socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack('!BBH', 0, 6, 20))) + sport + nonce + 0x5002 + 65535
            for p in ports:
                c = base + p + p
                c = (c & 0xffff) + (c >> 16)
                c = (c & 0xffff) + (c >> 16)
                pkt = struct.pack('!HHIIBBHHH', sport, p, head | p, 0, 0x50, 0x02, 65535, ~c & 0xffff, 0)
                try:
                    s.sendto(pkt, (dst, 0))
                    count['sent'] += 1
                except OSError:
                    emit(s, pkt, (dst, 0), p)
    else:
        s = socket.socket(AF, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
        s.bind((src, sport) + bound[2:])
        pre = struct.pack('!IH', nonce, 0)
        for p in ports:
            pkt = pre + struct.pack('!H', p)
            try:
                s.sendto(pkt, (dst, p))
                count['sent'] += 1
            except OSError:
                emit(s, pkt, (dst, p), p)
if primer:
    send(psport, primer)
    time.sleep(0.15)
    count = {'sent': 0, 'noroute': 0, 'filtered': 0}
    other = []
send(sport, ports)
print(count['sent'], count['noroute'], count['filtered'], len(other), ','.join(map(str, other[:50])))
`;

/**
 * Sweep the ports of `target` from `source` (see the file's comment). The caller checked the target (an address of the
 * lab, not the source's own). Throws InvalidInputError where netspec may add no tables (attach mode), ProbeError where
 * the sweep could not produce evidence (the sender failed, packets were lost on every pass).
 */
export async function sweepPorts(source: Netns, target: { address: string; family: Family }, options: SweepOptions): Promise<SweepResult> {
  const lab = source.lab;
  const refused = lab.refusesTables();
  if (refused) {
    throw new InvalidInputError(
      'namespace for an exposure sweep',
      String(source),
      `${refused}: an exposure sweep needs a table of netspec's own in every namespace to see which probes the target's rules let in, so there is none here. Assert the ports that matter one at a time with toReach({ address, port }) (it works in attach mode), or rebuild the topology in a lab (a topology file, the dockerHost emulation) and sweep there`,
    );
  }
  const started = performance.now();
  const { protocol, family } = { protocol: options.protocol, family: target.family };
  const log: string[] = [];
  const nonce = protocol === 'tcp' ? randomInt(1, 0xffff) : randomInt(1, 0xffffffff);
  const base = randomInt(40000, 60000 - SPORTS);
  const table = `netspec_sweep_${process.pid}_${++sweeps}`;
  const six = family === 6;
  const ip = six ? 'ip6' : 'ip';
  const nf = `meta nfproto ${six ? 'ipv6' : 'ipv4'}`;
  const hex = nonce.toString(16);
  // every word is netspec's own: a generated name, integers, a hex nonce, fixed keywords
  const [match, key] =
    protocol === 'tcp'
      ? [`${nf} meta l4proto tcp tcp flags & (syn | ack) == syn th sport ${base}-${base + SPORTS - 1} @th,32,16 0x${hex}`, `${ip} daddr . tcp dport . @th,48,16`]
      : [`${nf} meta l4proto udp th sport ${base}-${base + SPORTS - 1} @th,64,32 0x${hex} @th,96,16 0`, `${ip} daddr . udp dport . @th,112,16`];
  // two tables: the counters are read while the sweep runs, and listing anything of a table loads its sets' elements
  // (seconds, with tens of thousands of them)
  const ruleset =
    `table inet ${table} { set seen { typeof ${key}; flags dynamic; size 262144; }; ` +
    `chain input { type filter hook input priority ${SWEEP_PRIORITY}; policy accept; ${match} add @seen { ${key} }; }; }; ` +
    `table inet ${table}_n { counter left { }; counter arrived { }; ` +
    `chain arrived { type filter hook prerouting priority ${ARRIVED_PRIORITY}; policy accept; ${match} counter name arrived; }; ` +
    `chain left { type filter hook postrouting priority ${SWEEP_PRIORITY}; policy accept; ${match} counter name left; }; }`;
  const names = ['host', ...lab.namespaces()];
  // the drop counters before anything is sent, and the first hop (the namespace the source hands its packets to),
  // read beside adding the observer
  const [host, rest, dropped, firstHop] = await Promise.all([
    lab.run('host', ['nft', ruleset], { intent: 'add the sweep observer', reject: false }),
    lab.inEveryNamespace(['nft', ruleset], { intent: 'add the sweep observer' }),
    dropCounters(lab, names),
    nextHopOwner(source, target.address),
  ]);
  if (host.exitCode !== 0 || rest.failures.length) {
    lab.assertAlive();
    throw new ProbeError(`netspec's sweep observer could not be added (${host.exitCode !== 0 ? `host: ${host.stderr.trim().split('\n')[0]}` : rest.failures.join('; ')}), so which probes were let in cannot be seen; no verdict`);
  }
  log.push(`every namespace$ nft add table inet ${table}: input priority ${SWEEP_PRIORITY} (after the filters) records the ${protocol.toUpperCase()} probes delivered, after every NAT`);
  try {
    const found = new Map<number, ExposedPort>();
    const wanted = options.ports ? [...new Set(options.ports)] : undefined;
    const total = wanted?.length ?? 65535;
    let sent = 0;
    let passes = 0;
    const refusedBySource = { noRoute: 0, filtered: 0 };
    // the probes counted leaving the source, as of the last pass's drain
    let left = Number.NaN;
    const send = async (sport: number, ports: 'all' | readonly number[], primer: readonly number[]) => {
      const argv = ['python3', '-c', SENDER, String(family), protocol, target.address, String(sport), hex, String(base + SPORTS - 1)];
      const r = await lab.run(source.name, argv, { intent: `${protocol} sweep of ${target.address}`, input: `${primer.join(',')}\n${ports === 'all' ? 'all' : ports.join(',')}\n`, reject: false, timeoutMs: 120_000 });
      checkRan(source, r, `the ${protocol.toUpperCase()} sweep sender (python3)`);
      const [ok, noroute, filtered, other] = r.stdout.trim().split(/\s+/).map(Number);
      if (r.exitCode !== 0 || [ok, noroute, filtered, other].some((n) => n === undefined || !Number.isFinite(n))) {
        throw new ProbeError(`the ${protocol.toUpperCase()} sweep sender in ${source} failed: exit ${r.exitCode}${firstLine(r.stderr)}; no verdict`);
      }
      const n = ports === 'all' ? 65535 : ports.length;
      if (other! > 0) {
        throw new ProbeError(`the kernel in ${source} refused to send ${other} of the ${protocol.toUpperCase()} sweep's probes (ports ${r.stdout.trim().split(/\s+/)[4] ?? ''}…) for a reason other than a route or a filter, so those ports were never probed; no verdict`);
      }
      const refused = [noroute ? `${noroute} refused for want of a route` : '', filtered ? `${filtered} refused by ${source.name}'s own output filters (EPERM)` : ''].filter(Boolean).join(', ');
      log.push(`${source.name}$ python3 (netspec's raw ${protocol} sender) → ${target.address}, ${n} port${n === 1 ? '' : 's'}, source port ${sport}${primer.length ? ` (after ${primer.length} probes to resolve the neighbours on the way)` : ''}: ${ok} sent${refused ? `, ${refused}` : ''}`);
      sent += ok! + primer.length;
      refusedBySource.noRoute += noroute!;
      refusedBySource.filtered += filtered!;
      return { ok: ok! };
    };
    // the first pass resolves the neighbours on the way first: packets queued behind an unresolved neighbour beyond its
    // queue are dropped (and counted nowhere the lab can read)
    const primer = [65535, 65534, 65533, 1, 2, 3].filter((p) => !wanted || wanted.includes(p));
    let remaining: 'all' | number[] = wanted ?? 'all';
    let before = dropped;
    for (;;) {
      const { ok } = await send(base + passes, remaining, passes === 0 ? (primer.length ? primer : wanted!.slice(0, 3)) : []);
      passes++;
      const { shortfall, left: leftNow } = await drained(lab, source.name, names, table, firstHop, log);
      left = leftNow;
      const [seen, after] = await Promise.all([readSeen(lab, names, table, protocol), dropCounters(lab, names)]);
      for (const e of seen) if (!found.has(e.port) && (!wanted || wanted.includes(e.port))) found.set(e.port, e);
      const lost = after - before + shortfall;
      before = after;
      if (ok === 0 || lost <= 0) break;
      const rest = (wanted ?? Array.from({ length: 65535 }, (_, i) => i + 1)).filter((p) => !found.has(p));
      log.push(`${lost} packet${lost === 1 ? ' was' : 's were'} lost during pass ${passes} (the lab's drop counters, or probes that left the source and never arrived at the next hop): the ${rest.length} ports not seen are swept again`);
      if (passes >= MAX_PASSES) {
        throw new ProbeError(`packets were lost in each of ${MAX_PASSES} passes of the ${protocol.toUpperCase()} sweep (${lost} in the last, by the lab's drop counters and the probes that never arrived at the next hop: the machine is overloaded, or a queue on the way is too short), so a port not seen may have been lost, not closed; no verdict`);
      }
      if (!rest.length) break;
      remaining = rest;
    }
    const exposed = [...found.values()].sort((a, b) => a.port - b.port);
    if (options.listening) await markListening(lab, protocol, exposed);
    return { protocol, target: target.address, family, swept: total, exposed, sent, left, refusedBySource, passes, elapsedMs: performance.now() - started, log };
  } finally {
    // not waited for: the table only records, and a lab that ends takes it along
    const argv = ['nft', `delete table inet ${table}; delete table inet ${table}_n`];
    void lab.run('host', argv, { intent: 'remove the sweep observer', reject: false }).catch(() => undefined);
    void lab.inEveryNamespace(argv, { intent: 'remove the sweep observer' }).catch(() => undefined);
  }
}

/** The probes every namespace recorded: `[address, landed port, probed port]` per element. */
async function readSeen(lab: Scope, names: readonly string[], table: string, protocol: 'tcp' | 'udp'): Promise<ExposedPort[]> {
  const argv = ['nft', '-j', 'list', 'set', 'inet', table, 'seen'];
  const [host, rest] = await Promise.all([lab.run('host', argv, { intent: 'read the sweep observer', reject: false }), lab.inEveryNamespace(argv, { intent: 'read the sweep observer' })]);
  const outputs = new Map<string, string>([['host', host.stdout], ...rest.outputs]);
  const out: ExposedPort[] = [];
  for (const ns of names) {
    const text = outputs.get(ns)?.trim();
    if (!text) {
      lab.assertAlive();
      if (lab.namespaces().includes(ns) || ns === 'host') throw new ProbeError(`netspec's sweep observer could not be read in ${ns} (its table is missing: something deleted it), so which probes were delivered there is unknown; no verdict`);
      continue;
    }
    // src/parse/nft.ts: output that is not nft's JSON, or an element of another shape, is a ProbeError naming the command
    for (const c of tableSetElements(text, `${ns}$ ${argv.join(' ')}`).get('seen') ?? []) {
      if (c.length !== 3) continue;
      out.push({ ns, protocol, address: String(c[0]), landedPort: Number(c[1]), port: Number(c[2]) });
    }
  }
  return out;
}

/** Each namespace's counters: probes seen leaving (postrouting, after its output filters) and arriving (prerouting, before anything). */
async function readCounters(lab: Scope, names: readonly string[], table: string): Promise<Map<string, { left: number; arrived: number }>> {
  const argv = ['nft', '-j', 'list', 'counters', 'table', 'inet', `${table}_n`];
  const all = names.filter((n) => n !== 'host');
  const [host, rest] = await Promise.all([
    names.includes('host') ? lab.run('host', argv, { intent: 'read the sweep counters', reject: false }) : undefined,
    all.length === 1 ? lab.run(all[0]!, argv, { intent: 'read the sweep counters', reject: false }).then((r) => ({ outputs: new Map([[all[0]!, r.stdout]]) })) : all.length ? lab.inEveryNamespace(argv, { intent: 'read the sweep counters' }) : { outputs: new Map<string, string>() },
  ]);
  const outputs = new Map<string, string>([...(host ? ([['host', host.stdout]] as [string, string][]) : []), ...rest.outputs]);
  const out = new Map<string, { left: number; arrived: number }>();
  for (const ns of names) {
    const counts = { left: 0, arrived: 0 };
    const text = outputs.get(ns) ?? '';
    if (!text.trim()) {
      out.set(ns, counts);
      continue;
    }
    try {
      counts.left = counterValue(text, 'left', `${ns}$ ${argv.join(' ')}`).packets;
      counts.arrived = counterValue(text, 'arrived', `${ns}$ ${argv.join(' ')}`).packets;
    } catch {
      continue;
    }
    out.set(ns, counts);
  }
  return out;
}

/** The namespace of the lab the source hands its packets for `address` to (the gateway's owner, or the target's), if one. */
async function nextHopOwner(source: Netns, address: string): Promise<string | undefined> {
  const [route, addresses] = await Promise.all([source.routeGet(address).catch(() => undefined), labAddresses(source.lab).catch(() => undefined)]);
  if (!route || !addresses || route.nexthops?.length) return undefined;
  return ownerIn(addresses, route.gateway ?? address);
}

/**
 * Wait until the probes in flight have arrived: every probe counted leaving the source has been counted arriving (before
 * any filter) at the next hop (`firstHop`; where it is not known, anywhere else in the lab), and the count has stopped
 * growing (a delayed link delivers the last ones late). Returns how many never arrived there after DRAIN_MS (lost on
 * the first link: a neighbour's queue, a qdisc; to be swept again), and the probes counted leaving the source so far.
 * Nothing arriving anywhere is no loss: the next hop does not answer, and no probe can reach the target (said in the log).
 */
async function drained(lab: Scope, source: string, names: readonly string[], table: string, firstHop: string | undefined, log: string[]): Promise<{ shortfall: number; left: number }> {
  const until = performance.now() + DRAIN_MS;
  let last = -1;
  for (;;) {
    await new Promise((r) => setTimeout(r, 50));
    const counts = await readCounters(lab, names, table);
    const left = counts.get(source)?.left ?? 0;
    const anywhere = [...counts].filter(([ns]) => ns !== source).reduce((n, [, c]) => n + c.arrived, 0);
    const atHop = firstHop && firstHop !== source && counts.has(firstHop) ? counts.get(firstHop)!.arrived : undefined;
    // a DNAT in the source's own output sends the probes elsewhere than the route to the target: then anywhere counts
    const arrived = atHop !== undefined && atHop > 0 ? atHop : anywhere;
    if (arrived >= left && arrived === last) return { shortfall: 0, left };
    if (performance.now() > until) {
      if (anywhere === 0) {
        log.push(`${left} probes left the source and none arrived anywhere in the lab within ${DRAIN_MS} ms: the next hop does not answer (a neighbour that does not resolve?), so no probe can reach the target`);
        return { shortfall: 0, left };
      }
      log.push(`${left} probes left the source, ${arrived} were counted arriving at ${atHop !== undefined && atHop > 0 ? firstHop : "the lab's other namespaces"} after ${DRAIN_MS} ms`);
      return { shortfall: Math.max(0, left - arrived), left };
    }
    last = arrived;
  }
}

/**
 * What the lab dropped for want of room, summed over its namespaces and host: every interface's rx/tx drop counters,
 * and conntrack's drops (a full table, a failed insert: `/proc/net/stat/nf_conntrack`, one line per CPU, in hex).
 */
async function dropCounters(lab: Scope, names: readonly string[]): Promise<number> {
  const argv = ['sh', '-c', 'ip -s -j link show; echo; tc -s -j qdisc show; echo; cat /proc/net/stat/nf_conntrack 2>/dev/null; true'];
  const [host, rest] = await Promise.all([lab.run('host', argv, { intent: 'read the drop counters', reject: false }), lab.inEveryNamespace(argv, { intent: 'read the drop counters' })]);
  const outputs = new Map<string, string>([['host', host.stdout], ...rest.outputs]);
  let sum = 0;
  for (const ns of names) {
    const [links = '', qdiscs = '', ...conntrack] = (outputs.get(ns) ?? '').trim().split('\n');
    try {
      for (const link of firstArray(links, 'ip -s -j link show') as { stats64?: { rx?: { dropped?: number; missed?: number }; tx?: { dropped?: number } } }[]) {
        sum += (link.stats64?.rx?.dropped ?? 0) + (link.stats64?.rx?.missed ?? 0) + (link.stats64?.tx?.dropped ?? 0);
      }
      // a qdisc's drops (tbf, netem…) are its own, not the link's; the kernel does not tell a raw socket about them
      for (const q of firstArray(qdiscs, 'tc -s -j qdisc show') as { drops?: number }[]) sum += q.drops ?? 0;
    } catch {
      /* a namespace whose counters cannot be read adds nothing; the observer's reading still decides */
    }
    sum += conntrackDrops(conntrack);
  }
  return sum;
}

/** `/proc/net/stat/nf_conntrack`: the sum of its insert_failed, drop and early_drop columns over every CPU's line. */
export function conntrackDrops(lines: readonly string[]): number {
  const header = lines.find((l) => /\bentries\b/.test(l))?.trim().split(/\s+/);
  if (!header) return 0;
  const cols = ['insert_failed', 'drop', 'early_drop'].map((c) => header.indexOf(c)).filter((i) => i >= 0);
  let sum = 0;
  for (const line of lines) {
    const cells = line.trim().split(/\s+/);
    if (cells.length !== header.length || !/^[0-9a-f]+$/i.test(cells[0]!)) continue;
    for (const i of cols) sum += parseInt(cells[i]!, 16);
  }
  return sum;
}

/** Mark each exposed port whose landing port something listens on, in its landing namespace (ss). */
async function markListening(lab: Scope, protocol: 'tcp' | 'udp', exposed: ExposedPort[]): Promise<void> {
  const byNs = new Map<string, { address: string; port: number }[]>();
  await Promise.all(
    [...new Set(exposed.map((e) => e.ns))].map(async (ns) => {
      const r = await lab.run(ns, ['ss', '-H', protocol === 'tcp' ? '-ltn' : '-lun'], { intent: 'list the listeners', reject: false });
      checkRan(lab.get(ns), r, 'listing the listeners (ss)');
      byNs.set(ns, parseListeners(r.stdout));
    }),
  );
  for (const e of exposed) {
    const ls = byNs.get(e.ns) ?? [];
    e.listening = ls.some((l) => l.port === e.landedPort && (l.address === '*' || l.address === '0.0.0.0' || l.address === '::' || l.address === e.address || l.address === `::ffff:${e.address}`));
  }
}

/** `ss -H -ltn` / `-lun` lines: the local address and port of each listener (`*`, `0.0.0.0`, `::` for any). */
export function parseListeners(text: string): { address: string; port: number }[] {
  const out: { address: string; port: number }[] = [];
  for (const line of text.split('\n')) {
    const local = line.trim().split(/\s+/)[3];
    if (!local) continue;
    const at = local.lastIndexOf(':');
    const port = Number(local.slice(at + 1));
    if (!Number.isInteger(port)) continue;
    const address = local
      .slice(0, at)
      .replace(/^\[(.*)\]$/, '$1')
      .replace(/%.*$/, '');
    out.push({ address: address.toLowerCase(), port });
  }
  return out;
}

/** Consecutive ports as ranges: `22, 1000-2001, 8080`. */
export function portRanges(ports: readonly number[]): string {
  return groupRuns(ports.map((p) => ({ port: p })), () => '').map((g) => (g.first === g.last ? String(g.first) : `${g.first}-${g.last}`)).join(', ');
}

/** Consecutive ports with the same `key` as one run. */
export function groupRuns<T extends { port: number }>(items: readonly T[], key: (t: T) => string): { first: number; last: number; items: T[] }[] {
  const out: { first: number; last: number; items: T[] }[] = [];
  for (const item of [...items].sort((a, b) => a.port - b.port)) {
    const last = out[out.length - 1];
    if (last && item.port === last.last + 1 && key(item) === key(last.items[0]!)) {
      last.last = item.port;
      last.items.push(item);
    } else out.push({ first: item.port, last: item.port, items: [item] });
  }
  return out;
}
