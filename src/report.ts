/**
 * When a spec fails: the lab's state per namespace (links, addresses, routes, neighbors, forwarding, rules with
 * counters), a picture of the topology with the failing probe's path, and the diagnosis, written under the output
 * folder. The Vitest fixture (src/vitest.ts) decides when, and attaches them to the test as annotations.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Scope } from './scope.js';
import { readTopology, toMermaid, toSvg, type FailedPath, type TopologyModel } from './graph.js';
import { readLabState, type NamespaceState } from './state.js';
import { describeRoute, describeRule } from './diagnose/index.js';
import { userRules } from './parse/ip.js';
import { escapeControl, escapeControlInText } from './errors.js';

export interface FailureReport {
  /** The whole state of every namespace (the report file's). */
  dump: string;
  /** What the console shows: the namespaces on the failing probe's path, concise (all of them with NETSPEC_REPORT=full). */
  console: string;
  /** The namespaces the console leaves out (they are in the report file). */
  offPath: string[];
  mermaid: string;
  svg: string;
  model: TopologyModel;
  /** Where the files were written. */
  files: { dump: string; mermaid: string; svg: string };
}

/**
 * Compact, readable state of every namespace. `only`: the namespaces to show (a failing probe's path: what the console
 * shows by default), the others counted in one line; `concise` (the console's) puts a namespace's links on one line
 * and leaves out what the diagnosis says already or what says nothing of the failure: neighbor entries, a loopback with
 * only its loopback addresses, the routes the kernel adds for an address, iptables' table headers.
 */
export function formatState(states: readonly NamespaceState[], options: { only?: readonly string[]; concise?: boolean } = {}): string {
  const out: string[] = [];
  const shown = options.only ? states.filter((s) => options.only!.includes(s.name)) : states;
  for (const s of shown) {
    out.push(`── ${s.name === 'host' ? 'lab host' : `namespace ${s.name}`} ── forwarding ipv4=${s.forwarding.ipv4 ? 1 : 0} ipv6=${s.forwarding.ipv6 ? 1 : 0}`);
    const links: string[] = [];
    for (const l of s.links) {
      const addrs = (s.addresses.find((a) => a.ifname === l.ifname)?.addr_info ?? []).filter((a) => a.scope !== 'link').map((a) => `${a.local}/${a.prefixlen}`);
      if (options.concise && l.link_type === 'loopback' && addrs.every((a) => a === '127.0.0.1/8' || a === '::1/128')) continue;
      if (options.concise) {
        links.push([l.ifname, l.linkinfo?.info_kind ?? l.link_type, l.operstate, l.master && `master ${l.master}`, ...addrs].filter(Boolean).join(' '));
        continue;
      }
      out.push(`  link  ${l.ifname.padEnd(15)} ${(l.linkinfo?.info_kind ?? l.link_type).padEnd(9)} ${l.operstate.padEnd(8)}${l.master ? ` master ${l.master}` : ''}${addrs.length ? `  ${addrs.join(' ')}` : ''}`);
    }
    if (links.length) out.push(`  links ${links.join(' · ')}`);
    for (const r of [...s.routes, ...s.routes6.filter((r) => !r.dst.startsWith('fe80') && r.dst !== 'multicast')]) {
      if (options.concise && r.protocol === 'kernel' && r.scope === 'link' && !r.gateway) continue;
      // describeRoute: a route's type (blackhole, …) and a multipath route's every path are shown too
      out.push(`  route ${r.dst} ${describeRoute(r)}`);
    }
    // policy rules, but the ones every namespace starts with (local, main, default)
    for (const rule of userRules(s.ipRules)) out.push(`  rule  ${describeRule(rule)}`);
    for (const rule of userRules(s.ipRules6)) out.push(`  rule6 ${describeRule(rule)}`);
    for (const n of options.concise ? [] : s.neighbors) out.push(`  neigh ${n.dst} dev ${n.dev}${n.lladdr ? ` lladdr ${n.lladdr}` : ''} ${n.state.join(',')}`);
    // iptables from the one parser (src/parse/iptables.ts): per table, its chains but untouched built-in ACCEPT ones, and
    // its rules with their counters; a table with neither is left out
    const ipt = s.iptablesRules;
    for (const table of ipt.tables) {
      const counter = (x: { packets?: number; bytes?: number }) => `[${x.packets ?? 0}:${x.bytes ?? 0}]`;
      const chains = ipt.chains.filter((c) => c.table === table && !(c.policy === 'ACCEPT' && !c.packets && !c.bytes)).map((c) => `:${c.name} ${c.policy ?? '-'} ${counter(c)}`);
      const rules = ipt.rules.filter((r) => r.table === table).map((r) => (r.packets === undefined ? r.text : `${counter(r)} ${r.text}`));
      if (options.concise) for (const l of [...chains, ...rules]) out.push(`  ipt   ${table} ${l}`);
      else if (chains.length + rules.length) for (const l of [`*${table}`, ...chains, ...rules]) out.push(`  ipt   ${l}`);
    }
    for (const l of (s.nft ?? '').split('\n').filter(Boolean)) out.push(`  nft   ${l.replace(/^\t+/, (t) => '  '.repeat(t.length))}`);
  }
  // names, aliases and rule comments are the kernel's: a control byte in one is escaped, never a raw ESC or line break
  return out.map(escapeControl).join('\n');
}

function slug(text: string): string {
  return text.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 80) || 'lab';
}

/** The folder failure reports go to: $NETSPEC_OUTPUT_DIR, or .netspec/failures under the current directory. */
export function outputDir(): string {
  return process.env.NETSPEC_OUTPUT_DIR ?? join(process.cwd(), '.netspec', 'failures');
}

/** What a failure report says beyond the lab's state: the test, the failing probe's path, what failed. */
export interface FailureContext {
  /** The failed test's name (the files are named after it). */
  test: string;
  /** The failing probe's path, drawn in red; without one the picture shows the lab as it is (files end in `-state`). */
  failed?: FailedPath;
  /** The state the diagnosis read already, reused rather than read again. */
  states?: NamespaceState[];
  /** Why the test failed: the failing assertions' messages, or the error thrown. */
  diagnosis?: string[];
}

/**
 * Build the report from the world's live state and write its files (the state dump with the diagnosis, Mermaid, SVG).
 * Only the Vitest fixture calls it, once per failed test, and attaches the result to the test (src/vitest.ts).
 */
export async function writeFailureReport(world: Scope, context: FailureContext): Promise<FailureReport | undefined> {
  if (!world.alive) return undefined;
  const { failed } = context;
  const all = context.states ?? (await readLabState(world));
  const model = await readTopology(world, all);
  const dump = formatState(all);
  const full = process.env.NETSPEC_REPORT === 'full';
  // the console: a failing probe's path, concise (without one, every namespace, in full)
  const only = failed && !full ? (failed.path.includes(failed.stoppedAt) ? failed.path : [...failed.path, failed.stoppedAt]) : undefined;
  const onConsole = only ? formatState(all, { concise: true, only }) : dump;
  const offPath = only ? all.map((s) => s.name).filter((n) => !only.includes(n)) : [];
  const mermaid = escapeControlInText(toMermaid(model, failed));
  const svg = escapeControlInText(toSvg(model, failed));
  const dir = outputDir();
  mkdirSync(dir, { recursive: true });
  const base = join(dir, `${slug(context.test)}-${process.pid}-${world.id}${failed ? '' : '-state'}`);
  const files = { dump: `${base}.txt`, mermaid: `${base}.mmd`, svg: `${base}.svg` };
  const head = failed ? `${failed.source} → ${failed.target}: ${failed.disposition}, stopped at ${failed.stoppedAt}\n\n` : '';
  const why = context.diagnosis?.length ? `${escapeControlInText(context.diagnosis.join('\n\n'))}\n\n` : '';
  writeFileSync(files.dump, `${head}${why}${dump}\n`);
  writeFileSync(files.mermaid, `${mermaid}\n`);
  writeFileSync(files.svg, svg);
  return { dump, console: onConsole, offPath, mermaid, svg, model, files };
}
