/**
 * Checks of the link to the next hop: the neighbor entry, and when it is unresolved, why — a link or its carrier down,
 * a bridge port that does not forward or is isolated, a target that ignores ARP (arp_ignore) — and a pinned entry
 * whose MAC no one on the link owns.
 */
import { ownerOf, type NamespaceState } from '../state.js';
import { rpRefuses } from './router.js';
import { received, linkOf, vethPeer, downWord, macOwner, linkWith, sysctl, dotted, type Ctx, type Finding, type Link } from './facts.js';

const UNRESOLVED = new Set(['INCOMPLETE', 'FAILED']);

/**
 * What stops a link's frames on their way to its neighbors: the link or its veth peer turned off (the first cause, not
 * what follows from it: a veth whose peer is down has no carrier, a bridge port without carrier is disabled), else no
 * carrier, else the bridge port its peer is not forwarding.
 */
function linkProblems(states: readonly NamespaceState[], state: NamespaceState, ifname: string): string[] {
  const link = linkOf(state, ifname);
  if (!link) return [];
  if (!link.flags.includes('UP')) return [`${state.name}: its link ${ifname} is administratively down (no UP flag)`];
  const peer = vethPeer(states, state, link);
  if (peer && !peer.link.flags.includes('UP')) return [`the other end of ${state.name}'s ${ifname}, ${peer.link.ifname} in ${peer.state.name}, is administratively down (no UP flag)`];
  const down = downWord(link);
  if (down) return [`${state.name}: its link ${ifname} is ${down}`];
  const port = peer && portFacts(peer.link);
  if (port?.state && port.state !== 'forwarding') return [`${peer!.state.name}: bridge port ${peer!.link.ifname} (of ${peer!.link.master ?? 'its bridge'}) is in state ${port.state}, so the bridge forwards no frame to or from it`];
  return [];
}

/** A bridge port's settings, from `ip -d -j link` (the same as `bridge -j -d link`). */
function portFacts(link: Link): { state?: string; isolated?: boolean; bridge?: string } | undefined {
  if (link.linkinfo?.info_slave_kind !== 'bridge') return undefined;
  const d = link.linkinfo.info_slave_data ?? {};
  return { state: typeof d.state === 'string' ? d.state : undefined, isolated: d.isolated === true || d.isolated === 'on', bridge: link.master };
}

/** The bridge port a namespace's link hangs off (through its veth peer), if any. */
function portOf(states: readonly NamespaceState[], state: NamespaceState, ifname: string): { state: NamespaceState; link: Link } | undefined {
  const link = linkOf(state, ifname);
  const peer = link && vethPeer(states, state, link);
  return peer && portFacts(peer.link) ? peer : undefined;
}

export async function neighborCheck(ctx: Ctx): Promise<Finding | undefined> {
  const { route, target, source, after: states } = ctx;
  const dev = route.dev ?? '';
  // a local destination (the source's own address) takes no neighbor: never ARP "on lo"
  if (route.type === 'local' || dev === 'lo') return undefined;
  const nextHop = route.gateway ?? target.address;
  const src = states.find((s) => s.name === source.name)!;
  const neigh = src.neighbors.find((n) => n.dst === nextHop && n.dev === dev);
  const owner = ownerOf(states, nextHop);
  // a pinned entry: the frames go to that MAC, whoever has it (a bridge floods a MAC it does not know, so the trace
  // may see them in the bridge's namespace: that is no delivery)
  if (neigh?.lladdr && neigh.state.some((s) => s === 'PERMANENT' || s === 'NOARP')) {
    const has = macOwner(states, neigh.lladdr);
    const ownerLink = owner && linkOf(owner, linkWith(owner, nextHop) ?? '');
    if (!has) return found(source.name, `${source.name}: neighbor ${nextHop} on ${dev} is pinned (${neigh.state.join(',')}) to ${neigh.lladdr}, and no link in the lab has that MAC${ownerLink?.address ? ` (${owner!.name}'s ${ownerLink.ifname}, which has ${nextHop}, is ${ownerLink.address})` : ''}: the frames go to no one`);
    if (owner && has.state.name !== owner.name) return found(source.name, `${source.name}: neighbor ${nextHop} on ${dev} is pinned (${neigh.state.join(',')}) to ${neigh.lladdr}, the MAC of ${has.state.name}'s ${has.link.ifname}, not of ${owner.name}, which has ${nextHop}`);
  }
  // the kernel trace saw the probe's packets arrive at the next hop: it was reached, whatever the entry says now (a
  // namespace that only bridges them, br_netfilter's, is no next hop)
  const beyond = received(ctx.trace).some((s) => (owner ? s.ns === owner.name : s.ns !== source.name));
  if (beyond) {
    if (neigh && !neigh.state.some((s) => UNRESOLVED.has(s))) ctx.notes[ctx.notes.length - 1] += `; neighbor ${nextHop} on ${dev} is ${neigh.state.join(',')}`;
    return undefined;
  }
  if (!neigh || neigh.state.some((s) => UNRESOLVED.has(s))) {
    const state = neigh?.state?.join(',') ?? 'absent';
    const head = `${source.name}: neighbor ${nextHop} on ${dev} is ${state}`;
    if (!owner) return found(source.name, `${head}: no namespace in the lab has ${nextHop}, so nothing answers ARP/ND for it`);
    const ownerDev = linkWith(owner, nextHop) ?? '?';
    const problems = [...linkProblems(states, src, dev), ...(owner.name === source.name ? [] : linkProblems(states, owner, ownerDev))];
    // isolated bridge ports forward only to ports that are not isolated
    const a = portOf(states, src, dev);
    const b = portOf(states, owner, ownerDev);
    if (a && b && a.link.master === b.link.master && a.state === b.state && portFacts(a.link)?.isolated && portFacts(b.link)?.isolated) {
      problems.push(`${a.state.name}: bridge ports ${a.link.ifname} and ${b.link.ifname} of ${a.link.master} are both isolated (bridge link set … isolated on), and isolated ports forward nothing to each other`);
    }
    if (target.family === 4) {
      const ignore = Math.max(Number(sysctl(ctx, owner.name, 'net', 'ipv4', 'conf', 'all', 'arp_ignore') ?? 0), Number(sysctl(ctx, owner.name, 'net', 'ipv4', 'conf', ownerDev, 'arp_ignore') ?? 0));
      const kind = linkOf(owner, ownerDev)?.linkinfo?.info_kind;
      if (ignore === 8) problems.push(`${owner.name}: arp_ignore is 8 (${dotted('net', 'ipv4', 'conf', 'all|' + ownerDev, 'arp_ignore')}), so it answers no ARP request at all`);
      else if (ignore >= 1 && ignore <= 3 && (ownerDev === 'lo' || kind === 'dummy')) problems.push(`${owner.name}: arp_ignore is ${ignore}, and ${nextHop} is on ${ownerDev}, not on the link the request comes in on, so it does not answer ARP for it`);
    }
    // the reverse-path filter checks ARP requests too: one from a source the owner routes out another link is dropped
    const arpFrom = ctx.srcAddr;
    const rp = arpFrom && owner.name !== source.name ? await rpRefuses(ctx, owner.name, nextHop, arpFrom, ownerDev) : undefined;
    if (rp) problems.push(`${owner.name}: ${rp.replace('drops packets from', 'drops ARP requests (and packets) from')}`);
    if (problems.length) return found(source.name, `${head}, and ${problems.join('; ')}`);
    return found(source.name, `${head}: netspec cannot tell why: ${owner.name} has ${nextHop} on ${ownerDev}, its links and bridge ports are up and forwarding, and no ARP/ND setting netspec reads silences it${ctx.trace.steps.length ? '; the kernel trace saw the probe nowhere beyond ' + source.name : ''}`);
  }
  ctx.notes[ctx.notes.length - 1] += `; neighbor ${nextHop} on ${dev} is ${neigh.state.join(',')}${neigh.lladdr ? ` (${neigh.lladdr})` : ''}`;
  return undefined;
}

const found = (at: string, line: string): Finding => ({ disposition: 'NEIGHBOR_UNREACHABLE', at, says: [line] });
