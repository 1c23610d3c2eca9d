/**
 * Checks of the target and the way back: who really replies (after DNAT, the host the packets were delivered to, from
 * its own address), the reverse-path filter there, `icmp_echo_ignore_all`, listening sockets, replies from an
 * unexpected source, the route back from the replying host's real address, and ICMP errors the source received.
 * Where none explains the evidence: "netspec cannot tell why", with the evidence.
 */
import { canonical } from '../address.js';
import { ownerOf, type NamespaceState } from '../state.js';
import { sightings } from '../trace.js';
import { article, describeRoute } from './describe.js';
import { packetEnds, received, sysctl, type Ctx, type Finding } from './facts.js';
import { routeBack, rpRefuses } from './router.js';

/** The host that answers the probe, its real address, and the source as it sees it. */
export interface Replier {
  state: NamespaceState;
  address: string;
  /** The probe's source address as the replier sees it (after any source NAT). */
  seenSource?: string;
  /** The interface the probe came in on there (from the trace). */
  iif?: string;
  /** Whether the trace saw the probe's packet delivered there. */
  traced: boolean;
}

export function replierOf(ctx: Ctx): Replier | undefined {
  const { after, target } = ctx;
  // the last namespace that received the probe's packet addressed to one of its own addresses (after DNAT, its real one)
  for (const s of [...received(ctx.trace)].reverse()) {
    const p = packetEnds(s.packet);
    const owner = p && ownerOf(after, p.dst);
    if (p && owner?.name === s.ns) return { state: owner, address: p.dst, seenSource: p.src, ...(p.iif ? { iif: p.iif } : {}), traced: true };
  }
  const l = ctx.outcome.landing;
  const landed = l?.ns ? after.find((s) => s.name === l.ns) : undefined;
  if (landed && l) return { state: landed, address: l.address, seenSource: ctx.router?.masqueradedAs ?? ctx.srcAddr, traced: false };
  const owner = ownerOf(after, target.address);
  return owner ? { state: owner, address: target.address, seenSource: ctx.router?.masqueradedAs ?? ctx.srcAddr, traced: false } : undefined;
}

/** ICMP errors the source received that name the cause (TTL expiry, fragmentation needed). */
export function icmpErrorCheck(ctx: Ctx): Finding | undefined {
  const e = ctx.outcome.icmpError;
  if (!e) return undefined;
  const from = /^From (\S+)/.exec(e)?.[1];
  const who = from ? (ownerOf(ctx.after, from)?.name ?? from) : 'a router';
  if (/Time to live exceeded/i.test(e)) return { disposition: 'NO_REPLY', at: who, says: [`${who}: the packets' TTL ran out there (ICMP time exceeded: "${e}"): a routing loop, or more routers on the way than the TTL allows`] };
  if (/Frag needed|mtu/i.test(e)) return { disposition: 'NO_REPLY', at: who, says: [`${who}: the packet is larger than the MTU on its way and may not be fragmented (DF): "${e}"`] };
  return undefined;
}

/** A reply that came back from another address than the one probed: the source's socket takes none of it. */
export function wrongSourceCheck(ctx: Ctx): Finding | undefined {
  const { source, target } = ctx;
  // only TCP/UDP: the explaining probe's source port tells its own answers from those of probes running beside it (an
  // echo reply has no port to tell it by)
  if (target.protocol === 'icmp' || target.port === undefined || ctx.sourcePorts.length === 0) return undefined;
  const want = canonical(target.address);
  for (const s of sightings(ctx.rawTrace)) {
    if (s.ns !== source.name || s.chain !== 'prerouting' || !s.reply) continue;
    const p = packetEnds(s.packet);
    if (!p || /^icmp/.test(p.what) || (p.sport !== target.port && p.sport !== ctx.outcome.landing?.port) || !ctx.sourcePorts.includes(p.dport!) || canonical(p.src) === want) continue;
    const unreachable = ctx.rawTrace.steps.some((x) => x.ns === source.name && x.chain === 'output' && x.verdict === 'seen' && /destination-unreachable/.test(x.packet));
    const owner = ownerOf(ctx.after, p.src)?.name;
    return {
      disposition: 'NO_REPLY',
      at: source.name,
      says: [`${source.name}: a reply came from ${p.src}${owner ? ` (${owner})` : ''}, not from ${target.address}: ${p.what} ${p.src}${p.sport ? `:${p.sport}` : ''} → ${p.dst}${p.dport ? `:${p.dport}` : ''} (kernel trace); the probe's socket takes answers only from the address it sent to${unreachable ? `, and ${source.name}'s kernel answered that reply with port unreachable` : ''}`],
    };
  }
  return undefined;
}

export async function targetChecks(ctx: Ctx): Promise<Finding | undefined> {
  const { target, source } = ctx;
  const replier = replierOf(ctx);
  if (!replier) return { disposition: 'NO_REPLY', at: ctx.path[ctx.path.length - 1]!, says: [`${target.address}: no namespace in the lab has this address, so nothing can answer`] };
  const name = `${replier.state.name} (${replier.address})`;
  const at = replier.state.name;
  // the reverse-path filter where the packets are delivered: the kernel's input lookup refuses them with EXDEV
  if (replier.traced && replier.iif && replier.seenSource) {
    const rp = await rpRefuses(ctx, at, replier.address, replier.seenSource, replier.iif);
    if (rp) return { disposition: 'FILTERED', at, says: [`${at}: ${rp}`] };
  }
  const repliesSent = ctx.trace.steps.some((s) => s.ns === at && s.verdict === 'seen' && s.chain === 'output' && s.reply);
  if (target.protocol === 'icmp' && !repliesSent) {
    const key = target.family === 6 ? ['net', 'ipv6', 'icmp', 'echo_ignore_all'] : ['net', 'ipv4', 'icmp_echo_ignore_all'];
    if (sysctl(ctx, at, ...key) === '1') {
      return { disposition: 'NO_REPLY', at, says: [`${name}: it ignores echo requests (${key.join('.')}=1)${replier.traced ? ': the kernel trace shows them delivered there, and no reply leaving' : ''}`] };
    }
  }
  const replyTo = replier.seenSource;
  if (!replyTo) return { disposition: 'NO_REPLY', at, says: [`${name}: netspec cannot tell why no reply arrived: the probe's source address is not known`] };
  // the kernel's own lookup for the reply, from the replying host's real address: policy rules and every table count
  const back = await routeBack(source.lab.get(at), replyTo, replier.address);
  ctx.log.push(`${at}$ ${back.command.replace(/^ip /, 'ip -j ')} → ${back.route ? describeRoute(back.route) : `error: ${back.refusal}`}`);
  if (!back.route) {
    const why = back.refusedBy && back.refusedBy !== 'none' ? `${article(back.refusedBy)} ${back.refusedBy} route, "${back.refusal}"` : `"${back.refusal}"`;
    return { disposition: 'NO_REPLY', at, says: [`${name}: no route back to ${replyTo} (${why}), so its reply has nowhere to go${ctx.router?.masqueradedAs ? '' : ' (NAT would make the source an address it knows)'}`] };
  }
  // replies that leave another way than the requests came in (policy routing, a second uplink)
  const outDev = back.route.dev ?? back.route.nexthops?.[0]?.dev;
  if (replier.iif && outDev && outDev !== replier.iif && outDev !== 'lo') {
    return { disposition: 'NO_REPLY', at, says: [`${name}: its replies to ${replyTo} leave by ${outDev} (${describeRoute(back.route)}), not by ${replier.iif}, where the requests came in (kernel trace): the way back is another way than the way there`] };
  }
  const seen = sightings(ctx.trace);
  const last = seen[seen.length - 1];
  const evidence = last ? `the kernel trace last saw ${last.reply ? 'an answer' : 'the probe'} in ${last.ns}: ${last.ns} ${last.chain === 'output' ? 'sent' : 'received'} ${last.packet}` : ctx.trace.steps.length ? 'the kernel trace saw none of the probe\'s packets' : `no kernel trace${ctx.trace.unavailable.length ? ` (${ctx.trace.unavailable.join('; ')})` : ''}`;
  return { disposition: 'NO_REPLY', at, says: [`${name}: netspec cannot tell why no reply arrived: its route back to ${replyTo} is ${describeRoute(back.route)}, and ${evidence}`] };
}



/** A refusal (TCP RST, ICMP port unreachable): what listens there, from `ss`, when something listens on another address. */
export function refusedCheck(ctx: Ctx): Finding | undefined {
  if (!ctx.outcome.refused) return undefined;
  const { target, after } = ctx;
  const l = ctx.outcome.landing;
  const says: string[] = [];
  if (l?.dnat) says.push(l.dnat);
  const address = l?.address ?? target.address;
  const port = l?.port ?? target.port;
  const where = `${address}${port !== undefined ? `:${port}` : ''}`;
  const ns = l?.ns ?? ownerOf(after, target.address)?.name;
  const others = ns && port !== undefined && target.protocol !== 'icmp' ? (ctx.listeners.get(ns) ?? []).filter((x) => x.protocol === target.protocol && x.port === port) : [];
  const covers = others.some((x) => x.address === '*' || x.address === '0.0.0.0' || x.address === '::' || canonical(x.address) === canonical(address));
  const bound = others.length && !covers ? `; in ${ns}, ${target.protocol} port ${port} is bound only to ${others.map((x) => `${x.address}${x.dev ? `%${x.dev}` : ''}`).join(', ')} (ss -lntu), not to ${address}` : '';
  says.push(`${where}: answered with a refusal (TCP RST / ICMP port unreachable): nothing listens there${l?.why ? ` (${l.why})` : ''}${bound}`);
  return { disposition: 'REFUSED', at: ns ?? ctx.source.name, says };
}
