/** Checks of the source: its route lookup (policy rules, marks) and its own filtering. */
import type { Netns } from '../netns.js';
import type { ProbeTarget } from '../probe.js';
import { userRules } from '../parse/ip.js';
import { hasOption, risenCounters } from '../parse/iptables.js';
import { risenNft } from '../parse/nft.js';
import { drops, type Trace, type TraceStep } from '../trace.js';
import type { NamespaceState } from '../state.js';
import { globalAddressesOf, type RouteLookup } from '../netns.js';
import { canonical, contains, networkOf, parseCidr } from '../address.js';
import { article, describeRoute, describeRule, isReject } from './describe.js';
import { linkOf, vethPeer, type Ctx, type Finding, type Link } from './facts.js';
import { readLabState } from '../state.js';

/** The source's first lookup: no route, or a route of a reject type (the kernel's errno says which). */
export async function sourceRoute(source: Netns, target: ProbeTarget, lookup: RouteLookup, audience: 'spec' | 'learner' = 'spec'): Promise<Finding | undefined> {
  const learner = audience === 'learner';
  const route = lookup.route;
  if (route && !isReject(route.type)) return undefined;
  const type = route?.type ?? (lookup.refusedBy !== 'none' ? lookup.refusedBy : undefined);
  const says = [
    type
      ? `${source.name}: no route to ${target.address} (${article(type)} ${type} route: ${type === 'blackhole' ? 'the kernel drops the packets' : 'the kernel refuses to send'}, "${lookup.refusal}")${learner ? '' : '; delete or replace that route (ns.routes() lists it)'}`
      : `${source.name}: no route to ${target.address} (${lookup.refusal ?? 'Network is unreachable'}); add one (a default route via a gateway, or a prefix route)`,
  ];
  const rules = userRules(await source.rules({ family: target.family }));
  // no route at all, and no policy rule of its own picking another table: a prefix length narrower than the network the
  // target is on is the usual cause (a /32 where its neighbours have /24): said as facts (both addresses as the kernel
  // holds them), before the generic line
  if (!type && rules.length === 0) {
    const mask = await narrowMask(source, target).catch(() => undefined);
    if (mask) says.unshift(mask);
  }
  if (rules.length) says.push(`${source.name}: its policy rules choose the table the lookup uses: ${rules.map(describeRule).join('; ')}${learner ? '' : ` (ns.rules(${target.family === 6 ? '{ family: 6 }' : ''}) lists them, ns.routes({ table }) a table's routes)`}`);
  return { disposition: 'NO_ROUTE', at: source.name, says };
}

/**
 * The source's own rules may mark its packets (mangle OUTPUT, nft `meta mark set`): the kernel then routes them again,
 * and a policy rule on that mark may send them elsewhere, or nowhere (dropped without a word to the sender).
 */
export async function sourceMark(ctx: Ctx): Promise<Finding | undefined> {
  const { source, target, trace, before, after } = ctx;
  const marking = markOf(source.name, trace, before, after);
  if (!marking) return undefined;
  const again = await source.lookupRoute(target.address, { ...(ctx.fromAddr ? { from: ctx.fromAddr } : {}), mark: marking.mark });
  const hex = `0x${marking.mark.toString(16)}`;
  ctx.log.push(`${source.name}$ ${again.command.replace(/^ip /, 'ip -j ')} → ${again.route ? describeRoute(again.route) : `error: ${again.refusal}`}`);
  const type = again.route?.type;
  if (!again.route || isReject(type)) {
    const why = type ?? (again.refusedBy && again.refusedBy !== 'none' ? `${again.refusedBy} route` : undefined);
    const says = [`${source.name}: its packets are marked ${hex} by ${marking.by}, and the kernel routes marked packets again: no route to ${target.address} (${why ? `${article(why)} ${why.replace(/ route$/, '')} route, ` : ''}"${again.refusal ?? type}"), so they are dropped as they leave; a policy rule on that mark${ctx.audience === 'learner' ? '' : ' (ns.rules())'} picks the table`];
    const src = after.find((s) => s.name === source.name)!;
    const rules = userRules(target.family === 6 ? src.ipRules6 : src.ipRules);
    if (rules.length) says.push(`${source.name}: its policy rules: ${rules.map(describeRule).join('; ')}`);
    return { disposition: 'NO_ROUTE', at: source.name, says };
  }
  if (describeRoute(again.route) !== describeRoute(ctx.route)) {
    ctx.notes.push(`${source.name}: its packets are marked ${hex} by ${marking.by}, and the kernel routes marked packets again: ${describeRoute(again.route)}`);
    ctx.route = again.route;
  }
  return undefined;
}

/**
 * The mark the source's own rules put on the probe's packets as they leave: the last `meta mark set VALUE` the kernel
 * traced on an outgoing packet of the source in a chain that re-routes (iptables-nft's `-j MARK --set-mark` in mangle
 * OUTPUT is traced so too). Without a trace (attach mode), a mangle OUTPUT `-j MARK --set-xmark VALUE/0xffffffff` whose
 * counter rose during the probe.
 */
function markOf(source: string, trace: Trace, before: readonly NamespaceState[], after: readonly NamespaceState[]): { mark: number; by: string } | undefined {
  let found: { mark: number; by: string } | undefined;
  const chains = after.find((x) => x.name === source)?.nftRules.chains ?? [];
  // only a chain of type route re-routes what it marks (iptables' mangle OUTPUT is one)
  const reroutes = (chain: string) => {
    const [family, table, name] = chain.split(' ');
    if ((family === 'ip' || family === 'ip6') && table === 'mangle' && name === 'OUTPUT') return true;
    return chains.some((c) => c.family === family && c.table === table && c.name === name && c.type === 'route');
  };
  for (const step of trace.steps) {
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

/** A drop the kernel traced, anywhere on the way there or back (the source's own OUTPUT included): FILTERED, named. */
export function tracedDrop(ctx: Ctx, tracedPath: (trace: Trace) => string | undefined): Finding | undefined {
  const dropped = drops(ctx.trace)[0];
  if (!dropped) return undefined;
  const bridged = /\biif (\S+), oif \1\)/.test(dropped.packet) ? ' (bridged traffic goes through iptables because net.bridge.bridge-nf-call-iptables=1)' : '';
  // the source's own output filtering: the packet never left, so no ARP/ND ran either
  const own = dropped.ns === ctx.source.name && !/\biif /.test(dropped.packet) && !dropped.reply ? `; ${ctx.source.name}'s own output filtering, so the packet never left it` : '';
  const says: string[] = [];
  const traced = tracedPath(ctx.trace);
  if (traced) says.push(traced);
  says.push(`${dropped.ns}: dropped by ${stepRule(dropped, ctx.before, ctx.after)} — ${dropped.packet} (kernel trace)${bridged}${own}`);
  return { disposition: 'FILTERED', at: dropped.ns, says };
}

/**
 * No trace (attach mode, NETSPEC_TRACE=0): a DROP/REJECT rule or DROP policy whose counter rose during the probe. With
 * a trace, only in a namespace the trace saw the probe's own packets arrive in: a counter also counts the packets of
 * probes running beside this one (a mesh), which must not be blamed on this one.
 */
export function countedDrop(ctx: Ctx): Finding | undefined {
  // with a trace that missed the verdict (a busy machine), only where the trace saw the probe's own packets arrive
  const traced = ctx.rawTrace.steps.length > 0;
  const arrived = new Set(ctx.trace.steps.filter((s) => s.verdict === 'seen' && s.chain === 'prerouting').map((s) => s.ns));
  for (const b of ctx.before) {
    if (traced && !arrived.has(b.name)) continue;
    const a = ctx.after.find((s) => s.name === b.name);
    if (!a) continue;
    const risen = risenCounters(b.iptablesRules, a.iptablesRules).filter((c) => c.policy === 'DROP' || c.parsed?.target === 'DROP' || c.parsed?.target === 'REJECT');
    if (risen.length) {
      const c = risen[0]!;
      const what = c.policy ? `the ${c.chain} policy DROP (table ${c.table})` : `rule \`${c.rule}\` (table ${c.table})`;
      return { disposition: 'FILTERED', at: b.name, says: [`${b.name}: dropped by ${what}; its counter rose during the probe`] };
    }
    // native nft rules count only where they have a `counter` (a policy has none)
    const nft = risenNft(b.nftRules, a.nftRules).find((r) => r.expr.some((e) => 'drop' in e || 'reject' in e));
    if (nft) return { disposition: 'FILTERED', at: b.name, says: [`${b.name}: dropped by ${nft.family} ${nft.table} ${nft.chain} rule \`${nft.text.replace(/ counter packets \d+ bytes \d+/, ' counter')}\`; its counter rose during the probe`] };
  }
  return undefined;
}

const IPTABLES_TABLES = new Set(['filter', 'nat', 'mangle', 'raw', 'security']);

/**
 * A traced verdict's rule, shown once: in iptables form when iptables(-nft) wrote it (the rule of that chain whose
 * counter rose with the same target), else in nftables form.
 */
export function stepRule(step: TraceStep, before: readonly NamespaceState[], after: readonly NamespaceState[]): string {
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

/**
 * The source holds an address whose prefix does not cover the target, while a namespace on the same link (the veth's
 * other end, or anything on the bridge that end is a port of) holds the target on a network that includes the source's
 * address (192.168.15.1/32 beside 192.168.15.2/24): with the holder's prefix length the source would have a prefix
 * route to the target on that link. Said only when that is so: the source's link is UP, the address makes prefix
 * routes (no `noprefixroute`), no other address of the source covers the target (and, its caller checks, no policy
 * rule of its own picks another table). Facts of both namespaces, or nothing.
 */
const cidrOf = (a: { address: string; prefixLength: number }) => parseCidr(`${a.address}/${a.prefixLength}`, 'address');

async function narrowMask(source: Netns, target: ProbeTarget): Promise<string | undefined> {
  const states = await readLabState(source.lab, { iptables: false });
  const self = states.find((s) => s.name === source.name);
  if (!self) return undefined;
  const own = globalAddressesOf(self.addresses, target.family);
  if (own.some((a) => contains(cidrOf(a), target.address))) return undefined;
  const want = canonical(target.address);
  for (const mine of own) {
    const link = linkOf(self, mine.dev);
    if (!link?.flags.includes('UP') || makesNoPrefixRoute(self, mine)) continue;
    const onLink = sameLink(states, self, link);
    for (const st of states) {
      if (st === self) continue;
      const held = globalAddressesOf(st.addresses, target.family).find((a) => canonical(a.address) === want);
      if (!held || held.prefixLength >= mine.prefixLength || !contains(cidrOf(held), mine.address) || !onLink.has(`${st.name}\0${held.dev}`)) continue;
      const covers = mine.prefixLength === (mine.family === 4 ? 32 : 128) ? 'only itself' : `only ${networkOf(cidrOf(mine))}/${mine.prefixLength}`;
      return `${source.name}: its address ${mine.address}/${mine.prefixLength} on ${mine.dev} covers ${covers}, so it has no route to ${target.address}; ${st.name} holds ${held.address}/${held.prefixLength} on the same link, a network that includes ${mine.address}: with /${held.prefixLength} (as ${st.name} has) ${source.name} would have a route to it on ${mine.dev}`;
    }
  }
  return undefined;
}

/** Whether the address was added with `noprefixroute` (then no prefix length gives a route). */
function makesNoPrefixRoute(state: NamespaceState, a: { address: string; dev: string }): boolean {
  const want = canonical(a.address);
  const info = state.addresses.find((l) => l.ifname === a.dev)?.addr_info.find((x) => canonical(x.local) === want) as { noprefixroute?: boolean } | undefined;
  return Boolean(info?.noprefixroute);
}

/**
 * The links on the same link layer as `link`: the other end of its veth, and when that end is a port of a bridge, the
 * bridge itself and the far ends of its other veth ports. As `NAMESPACE\0IFNAME`.
 */
function sameLink(states: readonly NamespaceState[], self: NamespaceState, link: Link): Set<string> {
  const out = new Set<string>();
  const peer = vethPeer(states, self, link);
  if (!peer) return out;
  out.add(`${peer.state.name}\0${peer.link.ifname}`);
  const bridge = peer.link.master;
  if (!bridge) return out;
  out.add(`${peer.state.name}\0${bridge}`);
  for (const port of peer.state.links as Link[]) {
    if (port.master !== bridge || port.ifindex === peer.link.ifindex) continue;
    const far = vethPeer(states, peer.state, port);
    if (far) out.add(`${far.state.name}\0${far.link.ifname}`);
  }
  return out;
}
