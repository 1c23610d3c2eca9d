/**
 * Checks of the router between the source and the target: forwarding (global and on the interface the packets come
 * in on), the reverse-path filter, the type of the route it would forward by (blackhole, prohibit, unreachable), its
 * forward filtering read from its rules when nothing was traced, and source NAT.
 */
import { contains, parseCidr } from '../address.js';
import { CommandError } from '../errors.js';
import type { Netns, RouteInfo, RouteLookup } from '../netns.js';
import { judge, masquerades, policyOf } from '../parse/iptables.js';
import { dropPolicies, nftSourceNat, risenNft } from '../parse/nft.js';
import { ownerOf, type NamespaceState } from '../state.js';
import type { ProbeTarget } from '../probe.js';
import { article, describeRoute, describeRule, isReject } from './describe.js';
import { ruleAction, userRules } from '../parse/ip.js';
import { linkWith, sysctl, type Ctx, type Finding } from './facts.js';

/** The router's facts and checks, in the order a packet meets them. Undefined when the next hop is the target itself. */
export async function routerChecks(ctx: Ctx): Promise<Finding | undefined> {
  const { route, target, after, source } = ctx;
  if (!route.gateway) return undefined;
  const router = ownerOf(after, route.gateway);
  if (!router) return { disposition: 'NO_REPLY', at: source.name, says: [`${route.gateway}: no namespace in the lab has this gateway address`] };
  const targetOwner = ownerOf(after, target.address);
  ctx.path.push(router.name);
  if (targetOwner?.name === router.name) return undefined;
  const inDev = linkWith(router, route.gateway);
  ctx.router = { state: router, gateway: route.gateway, ...(inDev ? { inDev } : {}) };
  const fw = target.family === 6 ? router.forwarding.ipv6 : router.forwarding.ipv4;
  const name = `${router.name} (${route.gateway})`;
  if (!fw) return { disposition: 'FORWARDING_DISABLED', at: router.name, says: [`${name}: forwarding is off (${target.family === 6 ? 'net.ipv6.conf.all.forwarding' : 'net.ipv4.ip_forward'}=0), so it does not route packets on`] };
  // IPv4 forwards what comes in on an interface whose own forwarding is on (net.ipv4.conf.IF.forwarding)
  if (target.family === 4 && inDev && sysctl(ctx, router.name, 'net', 'ipv4', 'conf', inDev, 'forwarding') === '0') {
    return { disposition: 'FORWARDING_DISABLED', at: router.name, says: [`${name}: forwarding is off on ${inDev} (net.ipv4.conf.${inDev}.forwarding=0, although net.ipv4.ip_forward=1), so it does not route packets coming in on ${inDev}`] };
  }
  const policy = policyOf(router.iptablesRules, 'FORWARD') ?? 'ACCEPT';
  const nftDrop = dropPolicies(router.nftRules, 'forward').map((c) => `${c.family} ${c.table} ${c.name} policy drop`);
  // an nft policy has no counter: without a trace, the rules are all the evidence there is (unless an accepting rule of
  // that chain counted the probe's packets)
  const untraced = ctx.trace.steps.length === 0 && ctx.trace.unavailable.length > 0;
  const nftAccepted = risenNft(ctx.before.find((b) => b.name === router.name)?.nftRules ?? router.nftRules, router.nftRules).some((r) => r.expr.some((e) => 'accept' in e));
  if ((policy === 'DROP' && !ctx.ran) || (nftDrop.length && (!ctx.ran || untraced) && !nftAccepted)) {
    const what = policy === 'DROP' ? 'the FORWARD policy is DROP' : `the nft forward chain ${nftDrop[0]} drops what it does not accept`;
    return { disposition: 'FILTERED', at: router.name, says: [`${name}: ${what} (read from its rules; ${!ctx.ran ? 'no packet of the explaining probe was traced or counted' : 'no kernel trace, and a policy has no counter'})`] };
  }
  ctx.notes.push(`${name}: forwards; FORWARD policy ${policy}${nftDrop.length ? `; nft ${nftDrop.join(', ')}` : ''}`);
  // what follows about this router goes on the same line
  const more = (text: string) => (ctx.notes[ctx.notes.length - 1] += `; ${text}`);
  // the router's own lookup for the forwarded packet: policy rules by source or interface count, and its outgoing
  // interface is the one MASQUERADE takes the address of
  const routerNs = source.lab.get(router.name);
  const srcAddr = ctx.srcAddr;
  if (srcAddr && inDev) {
    try {
      ctx.router.onward = await routerNs.lookupRoute(target.address, { from: srcAddr, iif: inDev });
    } catch (error) {
      if (!(error instanceof CommandError)) throw error;
      ctx.router.onwardError = /Invalid cross-device link/.test(error.message) ? 'Invalid cross-device link' : error.message.split('\n')[0];
    }
  }
  const onward = ctx.router.onward;
  // a route found is said on the router's line (the lookup with it); a refusal among the commands
  const routeOn = onward?.route && !isReject(onward.route.type) ? `its route on: ${describeRoute(onward.route)} (${onward.command})` : undefined;
  if (onward && !routeOn) ctx.log.push(`${router.name}$ ${onward.command.replace(/^ip /, 'ip -j ')} → ${onward.route ? describeRoute(onward.route) : `error: ${onward.refusal}`}`);
  else if (ctx.router.onwardError) ctx.log.push(`${router.name}$ ip -j route get ${target.address} from ${srcAddr} iif ${inDev} → error: ${ctx.router.onwardError}`);
  // the reverse-path filter: the kernel's lookup for the packet refuses it with EXDEV
  if (ctx.router.onwardError === 'Invalid cross-device link' && srcAddr && inDev) {
    const rp = await rpRefuses(ctx, router.name, target.address, srcAddr, inDev);
    if (rp) return { disposition: 'FILTERED', at: router.name, says: [`${router.name}: ${rp}`] };
  }
  if (onward && (!onward.route || isReject(onward.route.type))) {
    const reject = (onward.route && isReject(onward.route.type) ? { ...onward.route, dst: onward.route.dst || target.address } : undefined) ?? rejectRouteFor(target.family === 6 ? router.routes6 : router.routes, target.address);
    if (reject) {
      return { disposition: 'NO_ROUTE', at: router.name, says: [`${router.name}: its route to ${reject.dst} is ${article(reject.type!)} ${reject.type} route${reject.table && reject.table !== 'main' ? ` (table ${reject.table})` : ''}: the route exists, but ${reject.type === 'blackhole' ? 'the kernel drops what it carries without a word' : `the kernel refuses what it carries ("${onward.refusal}")`}; delete or replace it`] };
    }
    // a policy rule of a reject type (`ip rule add … prohibit`) refuses without a route
    const rules = userRules(target.family === 6 ? router.ipRules6 : router.ipRules).filter((r) => ['blackhole', 'prohibit', 'unreachable'].includes(ruleAction(r)));
    if (rules.length) return { disposition: 'NO_ROUTE', at: router.name, says: [`${router.name}: no route on to ${target.address} for packets from ${srcAddr} coming in on ${inDev} ("${onward.refusal}"); its policy rules of a reject type: ${rules.map(describeRule).join('; ')}`] };
    return { disposition: 'NO_ROUTE', at: router.name, says: [`${router.name}: no route on to ${target.address} for packets from ${srcAddr} coming in on ${inDev} ("${onward.refusal}"); add one to its routes (or to the table its policy rules pick)`] };
  }
  const outDev = onward?.route?.dev ?? onward?.route?.nexthops?.[0]?.dev;
  const masq = masqueradeFor(router, srcAddr, target, outDev);
  if (masq) {
    const egress = outDev ? (addressOn(router, outDev, onward?.route?.gateway ?? target.address, target.family) ?? (await egressAddress(routerNs, target.address))) : await egressAddress(routerNs, target.address);
    ctx.router.masqueradedAs = egress;
    more(`\`${masq}\` rewrites ${srcAddr} to ${egress ?? 'its outgoing address'}`);
  } else if (srcAddr && !(targetOwner && (await routeBack(source.lab.get(targetOwner.name), srcAddr, target.address)).route)) {
    more(`no MASQUERADE covers ${srcAddr}`);
  }
  if (routeOn) more(routeOn);
  return undefined;
}

/** The reverse-path filter's setting for an interface (the kernel uses the larger of `all` and the interface's). */
export function rpFilter(ctx: Ctx, ns: string, dev: string): string {
  const all = sysctl(ctx, ns, 'net', 'ipv4', 'conf', 'all', 'rp_filter');
  const own = sysctl(ctx, ns, 'net', 'ipv4', 'conf', dev, 'rp_filter');
  return `net.ipv4.conf.all.rp_filter=${all ?? '?'}, net.ipv4.conf.${dev}.rp_filter=${own ?? '?'}`;
}

/** The most specific route of the main table that covers `address`, if it is of a reject type. */
function rejectRouteFor(routes: readonly RouteInfo[], address: string): RouteInfo | undefined {
  let best: { route: RouteInfo; len: number } | undefined;
  for (const r of routes) {
    // the main table only: which other table a policy rule picks for this packet is the kernel's lookup's to say
    if (r.table && r.table !== 'main') continue;
    const dst = r.dst === 'default' ? (address.includes(':') ? '::/0' : '0.0.0.0/0') : r.dst.includes('/') ? r.dst : `${r.dst}/${address.includes(':') ? 128 : 32}`;
    try {
      const cidr = parseCidr(dst);
      if (!contains(cidr, address)) continue;
      const len = Number(dst.split('/')[1]);
      if (!best || len > best.len) best = { route: r, len };
    } catch {
      continue;
    }
  }
  return best && isReject(best.route.type) ? best.route : undefined;
}

/** The kernel's route for a reply from `from` (an address of `ns`) to `to`: a refusal is "no route back". */
export async function routeBack(ns: Netns, to: string, from: string): Promise<RouteLookup> {
  const lookup = await ns.lookupRoute(to, { from });
  const type = lookup.route?.type;
  if (lookup.route && isReject(type)) return { command: lookup.command, refusal: `a ${type} route`, refusedBy: type as RouteLookup['refusedBy'] };
  return lookup;
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

async function egressAddress(ns: Netns, destination: string): Promise<string | undefined> {
  return (await ns.routeGet(destination))?.prefsrc;
}

/** Whether the reverse-path filter is on for packets coming in on `dev` (the larger of `all` and the interface's). */
export function rpOn(ctx: Ctx, ns: string, dev: string): boolean {
  const v = Math.max(Number(sysctl(ctx, ns, 'net', 'ipv4', 'conf', 'all', 'rp_filter') ?? 0), Number(sysctl(ctx, ns, 'net', 'ipv4', 'conf', dev, 'rp_filter') ?? 0));
  return v > 0;
}

/**
 * Whether the reverse-path filter of `ns` refuses a packet from `from` to `to` coming in on `iif`: the kernel's own input
 * lookup (`ip route get TO from FROM iif IIF`) refuses it (EXDEV when it would forward, EINVAL — a martian source —
 * when `to` is its own), and its route back to `from` leaves by another interface. Returns the fact, or undefined.
 */
export async function rpRefuses(ctx: Ctx, ns: string, to: string, from: string, iif: string): Promise<string | undefined> {
  if (ctx.target.family !== 4 || !rpOn(ctx, ns, iif)) return undefined;
  const netns = ctx.source.lab.get(ns);
  let refusal: string | undefined;
  try {
    const r = await netns.lookupRoute(to, { from, iif });
    refusal = r.route ? undefined : r.refusal;
  } catch (error) {
    if (!(error instanceof CommandError)) throw error;
    refusal = /Invalid cross-device link/.test(error.message) ? 'Invalid cross-device link' : undefined;
  }
  if (refusal !== 'Invalid cross-device link' && refusal !== 'Invalid argument') return undefined;
  const back = await netns.lookupRoute(from, {}).catch(() => undefined);
  const dev = back?.route?.dev ?? back?.route?.nexthops?.[0]?.dev;
  if (dev === iif) return undefined;
  ctx.log.push(`${ns}$ ip -j route get ${to} from ${from} iif ${iif} → error: ${refusal}`);
  return `its reverse-path filter (${rpFilter(ctx, ns, iif)}) drops packets from ${from} coming in on ${iif}: its route back to ${from} ${dev ? `leaves by ${dev}` : 'does not exist'}, not by ${iif} (the kernel's lookup: "${refusal}")`;
}
