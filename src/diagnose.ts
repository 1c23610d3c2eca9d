/**
 * Why a probe did not get through, told like a traceroute with a verdict (ARCHITECTURE.md, "An assertion"): the source's route lookup, the
 * next hop's neighbor state, forwarding and filtering on the router (rule counters diffed across a second probe), NAT
 * and the target's way back. Built from the lab's live state only.
 *
 * A little over 300 lines on purpose: the hop-by-hop walk, the trace and the counter fallback tell one story, read together.
 */
import { canonical, contains, parseCidr } from './address.js';
import type { IpRule, Netns, RouteInfo, RouteLookup } from './netns.js';
import { ruleAction, ruleExtras, ruleSelectors, userRules } from './parse/ip.js';
import { CommandError } from './errors.js';
import { probe, type PacketOptions, type ProbeOutcome, type ProbeTarget } from './probe.js';
import { accepts, drops, rewrites, sightings, traceDuring, type Trace, type TraceStep } from './trace.js';
import { ownerOf, readLabState, type NamespaceState } from './state.js';
import { hasOption, judge, masquerades, policyOf, risenCounters } from './parse/iptables.js';
import { dropPolicies, nftSourceNat, risenNft } from './parse/nft.js';

export const DISPOSITIONS = ['REACHED', 'NO_ROUTE', 'NEIGHBOR_UNREACHABLE', 'FORWARDING_DISABLED', 'FILTERED', 'REFUSED', 'NO_REPLY'] as const;
export type Disposition = (typeof DISPOSITIONS)[number];

export interface Diagnosis {
  disposition: Disposition;
  /** The namespaces the packet went through, in order (source first), as far as the lab's state says. */
  path: string[];
  /** The namespace where it stopped (or whose reply never came back). */
  stoppedAt: string;
  /** The lab's state read for the diagnosis (reused by failure reports). */
  states?: NamespaceState[];
  /** One line per hop or check, in path order. */
  hops: string[];
  /** The commands that were run, with their outcome. */
  log: string[];
}

const UNRESOLVED = new Set(['INCOMPLETE', 'FAILED']);

export async function diagnose(source: Netns, target: ProbeTarget, outcome: ProbeOutcome, options: { from?: string; responder?: boolean; packet?: PacketOptions }): Promise<Diagnosis> {
  const lab = source.lab;
  const hops: string[] = [];
  const log = [...outcome.log];
  const path = [source.name];
  let states: NamespaceState[] | undefined;
  const done = (disposition: Disposition, stoppedAt: string): Diagnosis => {
    if (path[path.length - 1] !== stoppedAt && !path.includes(stoppedAt)) path.push(stoppedAt);
    return { disposition, hops, log, path, stoppedAt, states };
  };
  const fromAddr = options.from && /[.:]/.test(options.from) ? options.from : undefined;
  const lookup = await source.lookupRoute(target.address, fromAddr ? { from: fromAddr } : {});
  let route = lookup.route;
  log.push(`${source.name}$ ${lookup.command.replace(/^ip /, 'ip -j ')} → ${route ? describeRoute(route) : `error: ${lookup.refusal}`}`);
  if (!route || isReject(route.type)) {
    // a route of a reject type fails the lookup itself; the kernel's errno says which type it was
    const type = route?.type ?? (lookup.refusedBy !== 'none' ? lookup.refusedBy : undefined);
    hops.push(
      type
        ? `${source.name}: no route to ${target.address} (${article(type)} ${type} route: ${type === 'blackhole' ? 'the kernel drops the packets' : 'the kernel refuses to send'}, "${lookup.refusal}"); delete or replace that route (ns.routes() lists it)`
        : `${source.name}: no route to ${target.address} (${lookup.refusal ?? 'Network is unreachable'}); add one (a default route via a gateway, or a prefix route)`,
    );
    const rules = await policyRules(source, target.family);
    if (rules.length) hops.push(`${source.name}: its policy rules choose the table the lookup uses: ${rules.map(describeRule).join('; ')} (ns.rules(${target.family === 6 ? '{ family: 6 }' : ''}) lists them, ns.routes({ table }) a table's routes)`);
    return done('NO_ROUTE', source.name);
  }
  hops.push(`${source.name}: route to ${target.address} ${describeRoute(route)}`);
  if (outcome.noRoute) return done('NO_ROUTE', source.name);

  // a second probe, traced, between two counter snapshots: which rule or policy saw our packets?
  const ports = [target.port, outcome.landing?.port].filter((p): p is number => p !== undefined);
  const { before, after, trace, ran, why } = await observe(source, target, { ...options, ports }, [500, 2000]);
  log.push(`every namespace$ ip -json (link, addr, neigh, rule; -4 and -6 route show table all; -6 rule); sysctl forwarding; iptables-save -c; nft -j list ruleset`);
  const unexplained = !ran;
  if (unexplained) hops.push(`(the explaining probe could not run: ${why}; what follows comes from the lab's rules and routes only, not from the kernel's trace)`);
  log.push(`every namespace$ nft monitor, with a trace table of netspec's own marking the probe's packets → ${trace.steps.length} verdicts${trace.unavailable.length ? ` (no trace: ${trace.unavailable.join('; ')})` : ''}`);
  states = after;
  const src = after.find((s) => s.name === source.name)!;
  // the socket's source address comes from the first lookup, even when a mark sends the packets another way
  const srcAddr = fromAddr ?? lookup.route!.prefsrc;

  // the source's own rules may mark its packets (mangle OUTPUT, nft `meta mark set`): the kernel then routes them again,
  // and a policy rule on that mark may send them elsewhere, or nowhere (dropped without a word to the sender)
  const marking = markOf(source.name, trace, before, after);
  if (marking) {
    const again = await source.lookupRoute(target.address, { ...(fromAddr ? { from: fromAddr } : {}), mark: marking.mark });
    const hex = `0x${marking.mark.toString(16)}`;
    log.push(`${source.name}$ ${again.command.replace(/^ip /, 'ip -j ')} → ${again.route ? describeRoute(again.route) : `error: ${again.refusal}`}`);
    const type = again.route?.type;
    if (!again.route || isReject(type)) {
      const why = type ?? (again.refusedBy && again.refusedBy !== 'none' ? `${again.refusedBy} route` : undefined);
      hops.push(`${source.name}: its packets are marked ${hex} by ${marking.by}, and the kernel routes marked packets again: no route to ${target.address} (${why ? `${article(why)} ${why.replace(/ route$/, '')} route, ` : ''}"${again.refusal ?? type}"), so they are dropped as they leave; a policy rule on that mark (ns.rules()) picks the table`);
      const rules = userRules(target.family === 6 ? src.ipRules6 : src.ipRules);
      if (rules.length) hops.push(`${source.name}: its policy rules: ${rules.map(describeRule).join('; ')}`);
      return done('NO_ROUTE', source.name);
    }
    if (describeRoute(again.route) !== describeRoute(route)) {
      hops.push(`${source.name}: its packets are marked ${hex} by ${marking.by}, and the kernel routes marked packets again: ${describeRoute(again.route)}`);
      route = again.route;
    }
  }

  const nextHop = route.gateway ?? target.address;
  const dev = route.dev ?? '';
  const neigh = src.neighbors.find((n) => n.dst === nextHop && n.dev === dev);
  const state = neigh?.state?.join(',') ?? 'absent';
  if (!neigh || neigh.state.some((s) => UNRESOLVED.has(s))) {
    const owner = ownerOf(after, nextHop);
    const why = owner
      ? `${owner.name} has ${nextHop}, but its ARP/ND replies do not come back on ${dev} (link down, not cabled to the same bridge, or on another subnet?)`
      : `no namespace in the lab has ${nextHop}, so nothing answers ARP/ND for it`;
    hops.push(`${source.name}: neighbor ${nextHop} on ${dev} is ${state}: ${why}`);
    return done('NEIGHBOR_UNREACHABLE', source.name);
  }
  hops.push(`${source.name}: neighbor ${nextHop} on ${dev} is ${neigh.state.join(',')} (${neigh.lladdr ?? 'no lladdr'})`);

  // what the kernel did with the probe's packets: a drop anywhere on the way there or back, NAT rewrites
  for (const r of [...new Map(rewrites(trace).map((x) => [`${x.ns} ${x.chain} ${x.rule} ${x.packet}`, x])).values()]) hops.push(`${r.ns}: ${r.chain}: \`${r.rule}\` rewrites ${r.packet} (kernel trace)`);
  const dropped = drops(trace)[0];
  if (dropped) {
    const bridged = /\biif (\S+), oif \1\)/.test(dropped.packet) ? ' (bridged traffic goes through iptables because net.bridge.bridge-nf-call-iptables=1)' : '';
    // how far the packets went, then where they stopped (the last hop is the reason: meshes quote it)
    const traced = tracedPath(trace);
    if (traced) hops.push(traced);
    hops.push(`${dropped.ns}: dropped by ${stepRule(dropped, before, after)} — ${dropped.packet} (kernel trace)${bridged}`);
    return done('FILTERED', dropped.ns);
  }
  // no trace (attach mode): a DROP/REJECT rule or DROP policy whose counter rose during the probe
  for (const b of before) {
    const a = after.find((s) => s.name === b.name);
    if (!a) continue;
    const risen = risenCounters(b.iptablesRules, a.iptablesRules).filter((c) => c.policy === 'DROP' || c.parsed?.target === 'DROP' || c.parsed?.target === 'REJECT');
    if (risen.length) {
      const c = risen[0]!;
      const what = c.policy ? `the ${c.chain} policy DROP (table ${c.table})` : `rule \`${c.rule}\` (table ${c.table})`;
      hops.push(`${b.name}: dropped by ${what}; its counter rose during the probe`);
      return done('FILTERED', b.name);
    }
    // native nft rules count only where they have a `counter` (a policy has none)
    const nft = risenNft(b.nftRules, a.nftRules).find((r) => r.expr.some((e) => 'drop' in e || 'reject' in e));
    if (nft) {
      hops.push(`${b.name}: dropped by ${nft.family} ${nft.table} ${nft.chain} rule \`${nft.text.replace(/ counter packets \d+ bytes \d+/, ' counter')}\`; its counter rose during the probe`);
      return done('FILTERED', b.name);
    }
  }

  if (outcome.refused) {
    const l = outcome.landing;
    if (l?.dnat) hops.push(l.dnat);
    const where = l ? `${l.address}:${l.port}` : `${target.address}:${target.port}`;
    hops.push(`${where}: answered with a refusal (TCP RST / ICMP port unreachable): nothing listens there${l?.why ? ` (${l.why})` : ''}`);
    return done('REFUSED', l?.ns ?? ownerOf(after, target.address)?.name ?? source.name);
  }
  if (outcome.icmpError) hops.push(`${source.name}: received an ICMP error: ${outcome.icmpError}`);

  // the router, if the next hop is not the target itself
  let masqueradedAs: string | undefined;
  if (route.gateway) {
    const router = ownerOf(after, route.gateway);
    if (!router) {
      hops.push(`${route.gateway}: no namespace in the lab has this gateway address`);
      return done('NO_REPLY', source.name);
    }
    const fw = target.family === 6 ? router.forwarding.ipv6 : router.forwarding.ipv4;
    const targetOwner = ownerOf(after, target.address);
    path.push(router.name);
    if (targetOwner?.name !== router.name) {
      if (!fw) {
        hops.push(`${router.name} (${route.gateway}): forwarding is off (${target.family === 6 ? 'net.ipv6.conf.all.forwarding' : 'net.ipv4.ip_forward'}=0), so it does not route packets on`);
        return done('FORWARDING_DISABLED', router.name);
      }
      const policy = policyOf(router.iptablesRules, 'FORWARD') ?? 'ACCEPT';
      const nftDrop = dropPolicies(router.nftRules, 'forward').map((c) => `${c.family} ${c.table} ${c.name} policy drop`);
      // an nft policy has no counter: without a trace, the rules are all the evidence there is (unless an accepting
      // rule of that chain counted the probe's packets)
      const untraced = trace.steps.length === 0 && trace.unavailable.length > 0;
      const nftAccepted = risenNft(before.find((b) => b.name === router.name)?.nftRules ?? router.nftRules, router.nftRules).some((r) => r.expr.some((e) => 'accept' in e));
      if ((policy === 'DROP' && unexplained) || (nftDrop.length && (unexplained || untraced) && !nftAccepted)) {
        // no packet to trace or count: the rules themselves say the router drops what no rule accepts
        const what = policy === 'DROP' ? 'the FORWARD policy is DROP' : `the nft forward chain ${nftDrop[0]} drops what it does not accept`;
        hops.push(`${router.name} (${route.gateway}): ${what} (read from its rules; ${unexplained ? 'no packet of the explaining probe was traced or counted' : 'no kernel trace, and a policy has no counter'})`);
        return done('FILTERED', router.name);
      }
      hops.push(`${router.name} (${route.gateway}): forwards; FORWARD policy ${policy}${nftDrop.length ? `; nft ${nftDrop.join(', ')}` : ''}`);
      // the router's own lookup for the forwarded packet (`ip route get TARGET from SOURCE iif IN`): policy rules by
      // source or interface count, and its outgoing interface is the one MASQUERADE takes the address of
      const routerNs = lab.get(router.name);
      const inDev = linkWith(router, route.gateway);
      const onward = srcAddr && inDev ? await forwardLookup(routerNs, target.address, srcAddr, inDev) : undefined;
      if (onward) log.push(`${router.name}$ ${onward.command.replace(/^ip /, 'ip -j ')} → ${onward.route ? describeRoute(onward.route) : `error: ${onward.refusal}`}`);
      if (onward && !onward.route) {
        hops.push(`${router.name}: no route on to ${target.address} for packets from ${srcAddr} coming in on ${inDev} ("${onward.refusal}"); add one to its routes (or to the table its policy rules pick)`);
        return done('NO_ROUTE', router.name);
      }
      const outDev = onward?.route?.dev ?? onward?.route?.nexthops?.[0]?.dev;
      const masq = masqueradeFor(router, srcAddr, target, outDev);
      if (masq) {
        const egress = outDev ? (addressOn(router, outDev, onward?.route?.gateway ?? target.address, target.family) ?? (await egressAddress(routerNs, target.address))) : await egressAddress(routerNs, target.address);
        masqueradedAs = egress;
        hops.push(`${router.name}: \`${masq}\` rewrites ${srcAddr} to ${egress ?? 'its outgoing address'}`);
      } else if (srcAddr && !(targetOwner && (await routeBack(lab.get(targetOwner.name), srcAddr, target.address)).route)) {
        hops.push(`${router.name}: no MASQUERADE covers ${srcAddr}`);
      }
    }
  }

  const traced = tracedPath(trace);
  if (traced) hops.push(traced);
  else if (trace.unavailable.length) hops.push(`(no kernel trace: ${trace.unavailable.join('; ')})`);
  // the way back
  const targetOwner = ownerOf(after, target.address);
  if (!targetOwner) {
    hops.push(`${target.address}: no namespace in the lab has this address, so nothing can answer`);
    return done('NO_REPLY', path[path.length - 1]!);
  }
  const replyTo = masqueradedAs ?? srcAddr;
  if (!replyTo) {
    hops.push(`${targetOwner.name} (${target.address}): no reply arrived within the deadline`);
    return done('NO_REPLY', targetOwner.name);
  }
  // the kernel's own lookup for the reply (`ip route get SOURCE from TARGET`), so policy rules and every table count
  const back = await routeBack(lab.get(targetOwner.name), replyTo, target.address);
  log.push(`${targetOwner.name}$ ${back.command.replace(/^ip /, 'ip -j ')} → ${back.route ? describeRoute(back.route) : `error: ${back.refusal}`}`);
  if (!back.route) {
    const why = back.refusedBy && back.refusedBy !== 'none' ? `${article(back.refusedBy)} ${back.refusedBy} route, "${back.refusal}"` : `"${back.refusal}"`;
    hops.push(`${targetOwner.name} (${target.address}): no route back to ${replyTo} (${why}), so its reply has nowhere to go${masqueradedAs ? '' : ' (NAT would make the source an address it knows)'}`);
    return done('NO_REPLY', targetOwner.name);
  }
  hops.push(`${targetOwner.name} (${target.address}): its route back to ${replyTo} is ${describeRoute(back.route)}, yet no reply arrived within the deadline`);
  return done('NO_REPLY', targetOwner.name);
}

/**
 * The mark the source's own rules put on the probe's packets as they leave: the last `meta mark set VALUE` the kernel
 * traced on an outgoing packet of the source in a chain that re-routes (iptables-nft's `-j MARK --set-mark` in mangle
 * OUTPUT is traced so too). Without a trace
 * (attach mode), a mangle OUTPUT `-j MARK --set-xmark VALUE/0xffffffff` whose counter rose during the probe.
 */
function markOf(source: string, trace: Trace, before: readonly NamespaceState[], after: readonly NamespaceState[]): { mark: number; by: string } | undefined {
  let found: { mark: number; by: string } | undefined;
  const chains = after.find((x) => x.name === source)?.nftRules.chains ?? [];
  // only a chain of type route re-routes what it marks (iptables' mangle OUTPUT is one); a mark set in a filter chain,
  // or in a regular chain whose caller is not known here, changes no route, so it is not followed
  const reroutes = (chain: string) => {
    const [family, table, name] = chain.split(' ');
    if ((family === 'ip' || family === 'ip6') && table === 'mangle' && name === 'OUTPUT') return true;
    return chains.some((c) => c.family === family && c.table === table && c.name === name && c.type === 'route');
  };
  for (const step of trace.steps) {
    // outgoing packets carry only an oif; replies coming in have an iif
    if (step.ns !== source || !step.rule || /\biif /.test(step.packet) || !reroutes(step.chain)) continue;
    const m = /\bmeta mark set (0x[0-9a-f]+|\d+)(?=\s|$)/.exec(step.rule);
    if (m) found = { mark: Number(m[1]), by: `${step.chain} rule \`${step.rule}\` (kernel trace)` };
  }
  if (found || trace.steps.length) return found;
  const b = before.find((x) => x.name === source);
  const a = after.find((x) => x.name === source);
  if (!a || !b) return undefined;
  for (const c of risenCounters(b.iptablesRules, a.iptablesRules)) {
    const m = c.table === 'mangle' && c.chain === 'OUTPUT' ? /-j MARK --set-xmark (0x[0-9a-f]+)\/0xffffffff\b/.exec(c.rule) : null;
    if (m) found = { mark: Number(m[1]), by: `rule \`${c.rule}\` (table mangle; its counter rose during the probe)` };
  }
  return found;
}

/**
 * The router's lookup for a packet it forwards. Anything but a route or the kernel's "no route" (the reverse-path
 * filter's "Invalid cross-device link", ip failing) is no answer: the diagnosis then goes on without it, as before.
 */
async function forwardLookup(router: Netns, destination: string, from: string, iif: string): Promise<RouteLookup | undefined> {
  try {
    return await router.lookupRoute(destination, { from, iif });
  } catch (error) {
    // the namespace gone, the lab gone: an error, as anywhere else
    if (!(error instanceof CommandError)) throw error;
    return undefined;
  }
}

/** The router's link that has `address` (the gateway its neighbors send to: where their packets come in). */
function linkWith(state: NamespaceState, address: string): string | undefined {
  const want = canonical(address);
  return state.addresses.find((l) => l.addr_info?.some((a) => canonical(a.local) === want))?.ifname;
}

/**
 * The address MASQUERADE gives a packet leaving on `dev` (the kernel's inet_select_addr): a global address of that
 * link, one on the next hop's subnet first.
 */
function addressOn(state: NamespaceState, dev: string, nextHop: string, family: 4 | 6): string | undefined {
  const addrs = (state.addresses.find((l) => l.ifname === dev)?.addr_info ?? []).filter((a) => a.scope === 'global' && (family === 6 ? a.local.includes(':') : !a.local.includes(':')));
  const onLink = addrs.find((a) => {
    try {
      return contains(parseCidr(`${a.local}/${a.prefixlen}`), nextHop);
    } catch {
      return false;
    }
  });
  return (onLink ?? addrs[0])?.local;
}

/** A route of a type that fails the lookup itself: the kernel drops or refuses what it would carry. */
const isReject = (type: string | undefined): type is 'unreachable' | 'blackhole' | 'prohibit' => type === 'unreachable' || type === 'blackhole' || type === 'prohibit';

const article = (word: string): string => (/^[aeiou]/.test(word) ? 'an' : 'a');

/** The kernel's route for a reply from `from` (an address of `ns`) to `to`: a refusal is "no route back". */
async function routeBack(ns: Netns, to: string, from: string): Promise<RouteLookup> {
  const lookup = await ns.lookupRoute(to, { from });
  const type = lookup.route?.type;
  if (lookup.route && isReject(type)) return { command: lookup.command, refusal: `a ${type} route`, refusedBy: type as RouteLookup['refusedBy'] };
  return lookup;
}

/** The namespace's own policy rules (not the three every namespace starts with). */
async function policyRules(ns: Netns, family: 4 | 6): Promise<IpRule[]> {
  return userRules(await ns.rules({ family }));
}

/** The kernel trace's sightings of the probe's packets, as one line (the path they took). */
function tracedPath(trace: Trace): string | undefined {
  const seen = sightings(trace).slice(0, 8);
  if (!seen.length) return undefined;
  return `kernel trace: ${seen.map((s) => `${s.ns} ${s.chain === 'output' ? 'sent' : 'received'} ${s.packet}`).join('; ')}`;
}

export function describeRoute(route: RouteInfo): string {
  const parts: string[] = [];
  if (route.type && route.type !== 'unicast') parts.push(route.type);
  if (route.gateway) parts.push(`via ${route.gateway}`);
  if (route.dev) parts.push(`dev ${route.dev}`);
  if (route.prefsrc) parts.push(`src ${route.prefsrc}`);
  // policy routing: the table the route is in (or, from `ip route get`, the table that answered)
  if (route.table && route.table !== 'main') parts.push(`table ${route.table}`);
  if (route.nexthops?.length) {
    const hops = route.nexthops.map((h) => [h.gateway && `via ${h.gateway}`, h.dev && `dev ${h.dev}`, h.weight !== undefined && `weight ${h.weight}`, h.flags?.length && h.flags.join(' ')].filter(Boolean).join(' '));
    parts.push(`nexthops: ${hops.join(', ')}`);
  }
  return parts.join(' ') || 'unknown';
}

/**
 * A rule as `ip rule show` prints it, every selector included: `100: not from 10.1.0.2 tos 0x10 fwmark 0x5/0xff
 * ipproto 6 dport 53 lookup 100`. Selectors netspec does not model are printed as iproute2 words, never dropped.
 */
export function describeRule(x: IpRule): string {
  const s = ruleSelectors(x);
  const parts = [`${x.priority}:`];
  if (s.not) parts.push('not');
  parts.push(`from ${x.src === 'all' || x.src === undefined ? 'all' : `${x.src}${x.srclen !== undefined ? `/${x.srclen}` : ''}`}`);
  if (x.dst !== undefined) parts.push(`to ${x.dst}${x.dstlen !== undefined ? `/${x.dstlen}` : ''}`);
  if (x.tos !== undefined) parts.push(`tos ${s.tos === undefined ? String(x.tos) : `0x${s.tos.toString(16).padStart(2, '0')}`}`);
  if (s.fwmark !== undefined) parts.push(`fwmark 0x${s.fwmark.toString(16)}${s.fwmask !== 0xffffffff ? `/0x${s.fwmask!.toString(16)}` : ''}`);
  if (x.iif !== undefined) parts.push(`iif ${x.iif}`);
  if (x.oif !== undefined) parts.push(`oif ${x.oif}`);
  if (s.uidrange !== undefined) parts.push(`uidrange ${s.uidrange}`);
  if (x.ipproto !== undefined) parts.push(`ipproto ${String(x.ipproto)}`);
  if (s.sport !== undefined) parts.push(`sport ${s.sport}`);
  if (s.dport !== undefined) parts.push(`dport ${s.dport}`);
  const action = ruleAction(x);
  parts.push(action === 'lookup' ? `lookup ${x.table ?? '?'}` : action === 'goto' ? `goto ${String(x.goto)}` : action);
  parts.push(...ruleExtras(x));
  return parts.join(' ');
}

/** The first source NAT rule of the router (iptables MASQUERADE/SNAT or native nft) that may apply to the probe's packets. */
function masqueradeFor(router: NamespaceState, srcAddr: string | undefined, target: ProbeTarget, oif?: string): string | undefined {
  if (!srcAddr) return undefined;
  const packet = { protocol: target.protocol, destination: target.address, port: target.port, source: srcAddr, local: false, ...(oif ? { oif } : {}) };
  const ipt = masquerades(router.iptablesRules).find((r) => judge(r, packet) !== 'no');
  if (ipt) return `iptables -t nat ${ipt.text}`;
  const nft = nftSourceNat(router.nftRules, packet)[0];
  return nft ? `nft ${nft.family} ${nft.table} ${nft.chain}: ${nft.text.replace(/ counter packets \d+ bytes \d+/, ' counter')}` : undefined;
}

async function egressAddress(ns: Netns, destination: string): Promise<string | undefined> {
  return (await ns.routeGet(destination))?.prefsrc;
}

/**
 * What let a probe through (for a failing `.not`): every iptables rule and chain policy whose counter rose while the
 * probe ran again, per namespace, with the NAT rules among them.
 */
export async function explainReach(source: Netns, target: ProbeTarget, options: { from?: string; responder?: boolean; packet?: PacketOptions }): Promise<string[]> {
  const { before, after, trace } = await observe(source, target, { ...options, ports: target.port ? [target.port] : [] }, [1000]);
  const lines: string[] = [];
  const seen = new Set<string>();
  for (const s of [...accepts(trace), ...rewrites(trace)]) {
    const line = `${s.ns}: ${stepRule(s, before, after)}${s.rule ? ` (verdict ${s.verdict})` : ''} — ${s.packet} (kernel trace)`;
    if (!seen.has(line)) lines.push(line);
    seen.add(line);
  }
  // no trace (attach mode): the rules and policies whose counters rose
  for (const b of lines.length ? [] : before) {
    const a = after.find((s) => s.name === b.name);
    if (!a) continue;
    for (const r of risenNft(b.nftRules, a.nftRules)) lines.push(`${b.name}: ${r.family} ${r.table} ${r.chain} rule \`${r.text.replace(/ counter packets \d+ bytes \d+/, ' counter')}\` matched`);
    for (const c of risenCounters(b.iptablesRules, a.iptablesRules)) {
      if (c.policy) {
        if (c.policy !== 'DROP') lines.push(`${b.name}: the ${c.chain} policy ${c.policy} (table ${c.table}) let ${c.packets} packets through`);
      } else if (!c.parsed?.target || /^(ACCEPT|DNAT|SNAT|MASQUERADE|RETURN|DOCKER\S*)$/.test(c.parsed.target)) {
        lines.push(`${b.name}: rule \`${c.rule}\` (table ${c.table}) matched`);
      }
    }
  }
  return lines;
}

/**
 * The explaining probe: the lab's state, then a probe under a kernel trace, then the state again (counters diffed
 * by the callers). It must send something: on a busy machine a short probe may be starved before its first request,
 * and a trace of nothing explains nothing, so it is tried again for each longer duration before giving up.
 */
async function observe(
  source: Netns,
  target: ProbeTarget,
  options: { from?: string; responder?: boolean; packet?: PacketOptions; ports: number[] },
  durations: readonly number[],
): Promise<{ before: NamespaceState[]; after: NamespaceState[]; trace: Trace; ran: boolean; why?: string }> {
  const lab = source.lab;
  const before = await readLabState(lab);
  let last: { trace: Trace; error?: unknown; result?: ProbeOutcome } | undefined;
  for (const durationMs of durations) {
    last = await traceDuring(lab, { protocol: target.protocol, family: target.family, ports: options.ports }, () =>
      probe(source, target, { durationMs, until: 'success', from: options.from, responder: options.responder, packet: options.packet }),
    );
    if (last.result && last.result.sent > 0) break;
  }
  const after = await readLabState(lab);
  const ran = Boolean(last!.result && last!.result.sent > 0);
  const why = ran ? undefined : last!.result ? 'it sent nothing' : ((last!.error as Error)?.message ?? 'unknown');
  return { before, after, trace: last!.trace, ran, why };
}

const IPTABLES_TABLES = new Set(['filter', 'nat', 'mangle', 'raw', 'security']);

/**
 * A traced verdict's rule, shown once: in iptables form when iptables(-nft) wrote it (the rule of that chain whose
 * counter rose with the same target), else in nftables form.
 */
function stepRule(step: TraceStep, before: readonly NamespaceState[], after: readonly NamespaceState[]): string {
  const [family, table, chain] = step.chain.split(' ') as [string, string, string];
  const nft = step.rule ? `${step.chain} rule \`${step.rule}\`` : `${step.chain} policy ${step.verdict}`;
  if ((family !== 'ip' && family !== 'ip6') || !IPTABLES_TABLES.has(table)) return nft;
  if (!step.rule) return `the ${chain} policy ${step.verdict.toUpperCase()} (table ${table})`;
  const b = before.find((x) => x.name === step.ns);
  const a = after.find((x) => x.name === step.ns);
  if (!a || !b) return nft;
  const risen = risenCounters(b.iptablesRules, a.iptablesRules).filter((c) => !c.policy && c.table === table && c.chain === chain);
  const target = /\b(drop|reject|accept|masquerade|dnat|snat|redirect)\b/.exec(step.rule)?.[1]?.toUpperCase();
  // the nft rule's own matches, in iptables options: the iptables rule must have them all
  const wanted: [string, string, boolean][] = [];
  for (const [re, opt] of [[/\bip6? saddr (!= )?(\S+)/, '-s'], [/\bip6? daddr (!= )?(\S+)/, '-d'], [/\biifname (!= )?"?([^"\s]+)"?/, '-i'], [/\boifname (!= )?"?([^"\s]+)"?/, '-o'], [/\b(?:tcp|udp) dport (!= )?(\S+)/, '--dport'], [/\b(?:tcp|udp) sport (!= )?(\S+)/, '--sport']] as const) {
    const m = re.exec(step.rule);
    if (m) wanted.push([opt, m[2]!, Boolean(m[1])]);
  }
  const fits = risen.filter((r) => r.parsed && wanted.every(([opt, value, negated]) => hasOption(r.parsed!, opt, value, negated)) && (!target || r.parsed.target === target));
  const c = fits.length === 1 ? fits[0] : undefined;
  return c ? `rule \`${c.rule}\` (table ${table})` : nft;
}
