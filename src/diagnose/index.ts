/**
 * Why a probe did not get through (ARCHITECTURE.md, "Diagnosis"): a set of checks, one per stage the packets meet —
 * the source (its route, marks, its own filtering), the link (neighbor entry, carrier, bridge ports, isolation,
 * arp_ignore, who owns a pinned MAC), the router (forwarding, rp_filter, route types, filtering, NAT), the target
 * (rp_filter, echo settings, listening sockets) and the way back from the replying host's real address. Each check
 * reads kernel facts (src/diagnose/facts.ts) and returns a finding or nothing; the kernel trace decides first, so no
 * check contradicts what the kernel did with the packets. Where no check explains the evidence, the finding says
 * "netspec cannot tell why" with the evidence, never the nearest generic sentence.
 */
import type { Netns } from '../netns.js';
import type { PacketOptions, ProbeOutcome, ProbeTarget } from '../probe.js';
import { accepts, rewrites } from '../trace.js';
import { risenCounters } from '../parse/iptables.js';
import { risenNft } from '../parse/nft.js';
import type { NamespaceState } from '../state.js';
import { describeRoute } from './describe.js';
import { observe, ownSteps, readListeners, readSysctls, type Ctx, type Disposition, type Finding } from './facts.js';
import { dedupe, rewriteLine, tracedPath } from './format.js';
import { countedDrop, sourceMark, sourceRoute, stepRule, tracedDrop } from './source.js';
import { neighborCheck } from './link.js';
import { routerChecks } from './router.js';
import { icmpErrorCheck, refusedCheck, targetChecks, wrongSourceCheck } from './target.js';

export { DISPOSITIONS, type Disposition } from './facts.js';
export { describeRoute, describeRule } from './describe.js';

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

export async function diagnose(
  source: Netns,
  target: ProbeTarget,
  outcome: ProbeOutcome,
  options: { from?: string; responder?: boolean; packet?: PacketOptions; /** `learner`: no API names, no answer commands (MatcherContext.audience) */ audience?: 'spec' | 'learner' },
): Promise<Diagnosis> {
  const log = [...outcome.log];
  const fromAddr = options.from && /[.:]/.test(options.from) ? options.from : undefined;
  const lookup = await source.lookupRoute(target.address, fromAddr ? { from: fromAddr } : {});
  // a refused lookup is said here; a route is the diagnosis's first line
  if (!lookup.route) log.push(`${source.name}$ ${lookup.command.replace(/^ip /, 'ip -j ')} → error: ${lookup.refusal}`);
  const noRoute = await sourceRoute(source, target, lookup, options.audience);
  if (noRoute) return { disposition: noRoute.disposition, hops: noRoute.says, log, path: [source.name], stoppedAt: source.name };
  const route = lookup.route!;
  const routeLine = `${source.name}: route to ${target.address} ${describeRoute(route)}`;
  if (outcome.noRoute) return { disposition: 'NO_ROUTE', hops: [routeLine], log, path: [source.name], stoppedAt: source.name };

  // a second probe, traced, between two counter snapshots, with the sysctls (and sockets) read after it
  const ports = [target.port, outcome.landing?.port].filter((p): p is number => p !== undefined);
  const seen = await observe(source, target, { ...options, ports }, [500, 2000]);
  const reads = log.length;
  log.push(
    `every namespace$ ip -json (link, addr, neigh, rule, route table all), iptables-save -c, nft -j list ruleset; nft monitor with netspec's trace table → ${seen.trace.steps.length} verdicts${seen.trace.unavailable.length ? ` (no trace: ${seen.trace.unavailable.join('; ')})` : ''}`,
  );
  const ctx: Ctx = {
    source,
    target,
    ...(options.audience ? { audience: options.audience } : {}),
    outcome,
    ...(fromAddr ? { fromAddr } : {}),
    lookup,
    route,
    // the socket's source address comes from the first lookup, even when a mark sends the packets another way
    srcAddr: fromAddr ?? route.prefsrc,
    ...seen,
    sysctls: new Map(),
    listeners: new Map(),
    // the probe's own packets: probes running beside it are traced too
    trace: ownSteps(seen.trace, [target.address, ...(outcome.landing?.address ? [outcome.landing.address] : [])]),
    rawTrace: seen.trace,
    notes: [routeLine],
    log,
    path: [source.name],
  };
  if (!seen.ran) ctx.notes.push(`(the explaining probe could not run: ${seen.why}; what follows comes from the lab's rules and routes only, not from the kernel's trace)`);

  // in the order the packets meet them; the trace and the probe's own log first
  const stages: ((ctx: Ctx) => Finding | undefined | Promise<Finding | undefined>)[] = [
    sourceMark,
    (c) => tracedDrop(c, tracedPath),
    countedDrop,
    // the facts the later checks read, only when the trace and the counters have not told already (the failure path's time)
    async (c) => {
      const ss = c.outcome.refused && target.protocol !== 'icmp';
      [c.sysctls, c.listeners] = await Promise.all([readSysctls(source.lab), ss ? readListeners(source.lab) : Promise.resolve(c.listeners)]);
      log[reads] = log[reads]!.replace('nft -j list ruleset;', `nft -j list ruleset, /proc/sys/net${ss ? ', ss -lntu' : ''};`);
      return undefined;
    },
    refusedCheck,
    wrongSourceCheck,
    icmpErrorCheck,
    neighborCheck,
    routerChecks,
    afterRouter,
    targetChecks,
  ];
  for (const check of stages) {
    const finding = await check(ctx);
    if (finding) return conclude(ctx, finding);
  }
  // targetChecks always concludes; this is never reached
  return conclude(ctx, { disposition: 'NO_REPLY', at: source.name, says: [`netspec cannot tell why`] });
}

/** After the router: the NAT the trace saw, and the path the packets took (context for the target's checks). */
function afterRouter(ctx: Ctx): undefined {
  for (const r of dedupe(rewrites(ctx.trace).map((x) => rewriteLine(x, x.rule ?? '')))) ctx.notes.push(r);
  const traced = tracedPath(ctx.trace);
  if (traced) ctx.notes.push(traced);
  else if (ctx.trace.unavailable.length) ctx.notes.push(`(no kernel trace: ${ctx.trace.unavailable.join('; ')})`);
  return undefined;
}

function conclude(ctx: Ctx, finding: Finding): Diagnosis {
  const path = [...ctx.path];
  // the namespaces the kernel trace saw the probe in belong to the path too (the failure picture draws it)
  for (const s of tracedNamespaces(ctx)) if (!path.includes(s)) path.push(s);
  if (!path.includes(finding.at)) path.push(finding.at);
  const says = finding.disposition === 'FILTERED' && ctx.target.family === 4 ? [...finding.says, ...unreachableRules(ctx.after.find((s) => s.name === finding.at))] : finding.says;
  const hops = dedupe([...ctx.notes, ...says.filter((l) => !ctx.notes.includes(l))]);
  return { disposition: finding.disposition, hops, log: ctx.log, path, stoppedAt: finding.at, states: ctx.after };
}

/**
 * Rules no packet reaches: in a chain, every rule after one that matches everything and ends the chain's walk (`-j
 * RETURN`, `ACCEPT`, `DROP` or `REJECT` with no match before its target). An ACCEPT appended to Docker's DOCKER-USER
 * after its `-j RETURN` (20.10 to 27.x) is the classic: the rule is there, and never met. Said where an IPv4 probe
 * was filtered, from the namespace's own iptables-save (IPv4 only: ip6tables is not read), for the chains a packet can
 * enter (the built-in ones and those they jump or go to), three lines at most.
 */
function unreachableRules(state: NamespaceState | undefined): string[] {
  if (!state) return [];
  const { chains, rules } = state.iptablesRules;
  // the chains a packet can enter: the built-in ones (with a policy), then whatever a rule of an entered chain jumps to
  const entered = new Set(chains.filter((c) => c.policy !== undefined).map((c) => `${c.table} ${c.name}`));
  for (let grew = true; grew; ) {
    grew = false;
    for (const r of rules) {
      const to = `${r.table} ${r.target}`;
      if (r.target && entered.has(`${r.table} ${r.chain}`) && !entered.has(to) && chains.some((c) => `${c.table} ${c.name}` === to)) {
        entered.add(to);
        grew = true;
      }
    }
  }
  const out: string[] = [];
  const ender = new Map<string, string>();
  for (const rule of rules) {
    const chain = `${rule.table} ${rule.chain}`;
    if (!entered.has(chain)) continue;
    const before = ender.get(chain);
    if (before !== undefined) {
      out.push(`${state.name}: \`${rule.text}\` comes after \`${before}\`, which every packet matches and which ends the chain: no packet reaches it`);
      continue;
    }
    const at = rule.options.findIndex((o) => o.name === '-j' || o.name === '-g');
    if (at === 0 && ['RETURN', 'ACCEPT', 'DROP', 'REJECT'].includes(rule.target ?? '')) ender.set(chain, rule.text);
  }
  return out.length > 3 ? [...out.slice(0, 3), `${state.name}: and ${out.length - 3} more rule(s) after a rule that ends their chain (iptables-save lists them in order)`] : out;
}

function tracedNamespaces(ctx: Ctx): string[] {
  const out: string[] = [];
  for (const s of ctx.trace.steps) if (s.verdict === 'seen' && !s.reply && !out.includes(s.ns)) out.push(s.ns);
  return out;
}

/**
 * What let a probe through (for a failing `.not`): the rules that matched the probe's packets with a verdict or a
 * rewrite, each once with the number of packets (×N); no chain policies, no per-segment lines.
 */
export async function explainReach(source: Netns, target: ProbeTarget, options: { from?: string; responder?: boolean; packet?: PacketOptions }): Promise<string[]> {
  const { before, after, trace } = await observe(source, target, { ...options, ports: target.port ? [target.port] : [] }, [1000]);
  const counts = new Map<string, { line: string; n: number }>();
  for (const s of new Set([...accepts(trace), ...rewrites(trace)])) {
    if (!s.rule) continue;
    const rule = stepRule(s, before, after);
    const key = `${s.ns} ${rule} ${s.verdict}`;
    const c = counts.get(key);
    if (c) c.n++;
    else counts.set(key, { line: `${s.ns}: ${rule} (verdict ${s.verdict}) — ${s.packet} (kernel trace)`, n: 1 });
  }
  const lines = [...counts.values()].map((c) => (c.n > 1 ? `${c.line} (×${c.n})` : c.line));
  if (lines.length || trace.steps.length) return lines;
  // no trace (attach mode): the rules whose counters rose (not the chain policies)
  for (const b of before) {
    const a = after.find((s) => s.name === b.name);
    if (!a) continue;
    for (const r of risenNft(b.nftRules, a.nftRules)) lines.push(`${b.name}: ${r.family} ${r.table} ${r.chain} rule \`${r.text.replace(/ counter packets \d+ bytes \d+/, ' counter')}\` matched`);
    for (const c of risenCounters(b.iptablesRules, a.iptablesRules)) {
      if (c.policy) continue;
      if (!c.parsed?.target || /^(ACCEPT|DNAT|SNAT|MASQUERADE|RETURN|DOCKER\S*)$/.test(c.parsed.target)) lines.push(`${b.name}: rule \`${c.rule}\` (table ${c.table}) matched`);
    }
  }
  return lines;
}
