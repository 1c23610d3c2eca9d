/**
 * A picture of a lab: namespaces, bridges, veth pairs with their addresses, the wan and NAT, read from the live state;
 * the failing probe's path drawn in red, with the hop where it stopped. As Mermaid text (GitHub renders it) and SVG.
 */
import type { Scope } from './scope.js';
import type { LinkInfo } from './netns.js';
import { readLabState, type NamespaceState } from './state.js';
import { parseNsIds } from './parse/ip.js';
import { masqueradeSource, masquerades, policyOf } from './parse/iptables.js';
import { dropPolicies, type NftRuleset } from './parse/nft.js';
import { escapeControlInText } from './errors.js';

export interface Endpoint {
  ns: string;
  ifname: string;
  addresses: string[];
  master?: string;
}

export interface TopologyModel {
  namespaces: {
    name: string;
    addresses: string[];
    forwarding: boolean;
    /** Sources NATed (iptables MASQUERADE `-s`, `! 10.0.0.0/8`, `any`). */
    nat: string[];
    /** The iptables filter FORWARD policy. */
    policy?: string;
    /** Native nftables rules worth a line in the picture: base chains that drop by policy, NAT rules. */
    nft: string[];
    isWan: boolean;
  }[];
  bridges: { ns: string; name: string; addresses: string[] }[];
  /** veth pairs (both ends known), or single links whose peer is outside the lab. */
  cables: { a: Endpoint; b: Endpoint }[];
}

export interface FailedPath {
  source: string;
  target: string;
  disposition: string;
  /** Namespaces along the way, source first. */
  path: string[];
  stoppedAt: string;
}

function addressesOf(state: NamespaceState, ifname: string): string[] {
  return (state.addresses.find((l) => l.ifname === ifname)?.addr_info ?? []).filter((a) => a.scope === 'global').map((a) => `${a.local}/${a.prefixlen}`);
}

/** Read the lab's topology: one state read per namespace plus `ip netns list-id` for veth peers. */
export async function readTopology(lab: Scope, states?: NamespaceState[]): Promise<TopologyModel> {
  const all = states ?? (await readLabState(lab));
  const ids = new Map<string, Map<number, string | undefined>>();
  const parse = (name: string, text: string) => ids.set(name, parseNsIds(text));
  const listIds = ['ip', '-j', 'netns', 'list-id'];
  // the host's view, and every other namespace's
  const [host, rest] = await Promise.all([lab.run('host', listIds, { intent: 'map namespace ids', reject: false }), lab.inEveryNamespace(listIds, { intent: 'map namespace ids' })]);
  parse('host', host.stdout);
  for (const [name, text] of rest.outputs) parse(name, text);
  const model: TopologyModel = { namespaces: [], bridges: [], cables: [] };
  const seen = new Set<string>();
  for (const s of all) {
    const nat = masquerades(s.iptablesRules).map(masqueradeSource);
    const policy = policyOf(s.iptablesRules, 'FORWARD');
    const own = s.links.filter((l) => l.ifname !== 'lo').flatMap((l) => addressesOf(s, l.ifname));
    const lo = addressesOf(s, 'lo');
    model.namespaces.push({ name: s.name, addresses: [...own, ...lo], forwarding: s.forwarding.ipv4, nat, policy, nft: nftNotes(s.nftRules), isWan: lo.some((a) => /^(192\.0\.2|198\.51\.100|203\.0\.113)\./.test(a)) });
    for (const l of s.links as (LinkInfo & { link_index?: number; link_netnsid?: number })[]) {
      const kind = l.linkinfo?.info_kind;
      if (kind === 'bridge') model.bridges.push({ ns: s.name, name: l.ifname, addresses: addressesOf(s, l.ifname) });
      if (kind !== 'veth') continue;
      const key = `${s.name}/${l.ifindex}`;
      if (seen.has(key)) continue;
      // an nsid without a name is the lab's host seen from a namespace; seen from an attachment's host (whose
      // /run/netns is not the one the attached namespaces are named in), the peer is the namespace whose veth pairs
      // with this one by ifindex
      const named = l.link_netnsid === undefined ? s.name : ids.get(s.name)?.get(l.link_netnsid);
      const paired = all.find((x) => x !== s && x.links.some((p) => p.ifindex === l.link_index && (p as { link_index?: number }).link_index === l.ifindex));
      const peerNs = named ?? (s.name === 'host' ? paired?.name : undefined) ?? 'host';
      const peerState = all.find((x) => x.name === peerNs);
      const peer = peerState?.links.find((p) => p.ifindex === l.link_index) as (LinkInfo & { link_index?: number }) | undefined;
      const a: Endpoint = { ns: s.name, ifname: l.ifname, addresses: addressesOf(s, l.ifname), master: l.master };
      if (!peer || !peerState) {
        model.cables.push({ a, b: { ns: peerNs, ifname: '?', addresses: [] } });
        continue;
      }
      seen.add(key);
      seen.add(`${peerNs}/${peer.ifindex}`);
      model.cables.push({ a, b: { ns: peerNs, ifname: peer.ifname, addresses: addressesOf(peerState, peer.ifname), master: peer.master } });
    }
  }
  return model;
}

/** The native nft rules a picture names: base chains that drop by policy, and NAT rules (`nft inet site pre: dnat …`). */
function nftNotes(ruleset: NftRuleset): string[] {
  const notes = dropPolicies(ruleset).map((c) => `nft ${c.family} ${c.table} ${c.name}: ${c.hook} policy drop`);
  for (const r of ruleset.rules) {
    if (!r.expr.some((e) => 'dnat' in e || 'snat' in e || 'masquerade' in e || 'redirect' in e)) continue;
    notes.push(`nft ${r.family} ${r.table} ${r.chain}: ${r.text.replace(/ ?counter packets \d+ bytes \d+/, '')}`);
  }
  return notes;
}

const id = (s: string) => s.replace(/[^A-Za-z0-9_]/g, '_');

/** Mermaid `graph LR` text. */
export function toMermaid(model: TopologyModel, failed?: FailedPath): string {
  const lines = ['graph LR'];
  const onPath = new Set(failed?.path ?? []);
  for (const n of model.namespaces) {
    const bridges = model.bridges.filter((b) => b.ns === n.name);
    const label = [
      n.name === 'host' ? 'lab host' : n.isWan ? `${n.name} (the Internet)` : n.name,
      n.forwarding ? 'forwarding on' : '',
      n.nat.length ? `MASQUERADE ${n.nat.join(', ')}` : '',
      n.policy && n.policy !== 'ACCEPT' ? `FORWARD ${n.policy}` : '',
      ...n.nft.map(mermaidText),
      n.isWan ? n.addresses.filter((a) => a.endsWith('/32')).map((a) => a.replace('/32', '')).join(', ') : '',
    ].filter(Boolean).join('<br/>');
    if (bridges.length) {
      lines.push(`  subgraph ${id(n.name)}_box["${label}"]`);
      for (const b of bridges) lines.push(`    ${id(`${n.name}_${b.name}`)}{{"${b.name}${b.addresses.length ? `<br/>${b.addresses.join('<br/>')}` : ''}"}}`);
      lines.push(`    ${id(n.name)}(("${n.name}"))`);
      lines.push('  end');
    } else {
      lines.push(`  ${id(n.name)}["${label}"]`);
    }
  }
  let edge = 0;
  const red: number[] = [];
  for (const c of model.cables) {
    const from = c.a.master ? id(`${c.a.ns}_${c.a.master}`) : id(c.a.ns);
    const to = c.b.master ? id(`${c.b.ns}_${c.b.master}`) : id(c.b.ns);
    const label = `${c.a.ifname}${c.a.addresses.length ? ` ${c.a.addresses.join(' ')}` : ''} — ${c.b.ifname}${c.b.addresses.length ? ` ${c.b.addresses.join(' ')}` : ''}`;
    lines.push(`  ${from} ---|"${label}"| ${to}`);
    if (onPath.has(c.a.ns) && onPath.has(c.b.ns)) red.push(edge);
    edge++;
  }
  if (failed) {
    lines.push(`  ${id(failed.stoppedAt)}_stop[/"✗ ${failed.disposition}: ${failed.source} → ${failed.target} stops here"/]`);
    lines.push(`  ${id(failed.stoppedAt)}_stop -.- ${model.bridges.some((b) => b.ns === failed.stoppedAt) && failed.stoppedAt !== 'host' ? id(failed.stoppedAt) : id(failed.stoppedAt)}`);
    lines.push(`  style ${id(failed.stoppedAt)}_stop fill:#fdd,stroke:#c00,color:#900`);
    for (const e of red) lines.push(`  linkStyle ${e} stroke:#c00,stroke-width:3px`);
  }
  return escapeControlInText(lines.join('\n'));
}

/** Mermaid labels are in double quotes: a rule's quotes become #quot; (Mermaid's entity). */
function mermaidText(s: string): string {
  return s.replace(/"/g, '#quot;');
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/**
 * SVG. Namespaces cabled to a bridge of the lab host sit in the left column, grouped by bridge; each bridge is a
 * vertical bar inside the host that spans its group, so every cable is a short horizontal line with its interface
 * names above it. Namespaces cabled straight to the host (the wan) sit on the right; namespace-to-namespace cables are
 * arcs on the far left. The failing probe's path is red, and the namespace where it stopped is marked ✗.
 */
export function toSvg(model: TopologyModel, failed?: FailedPath): string {
  const onPath = new Set(failed?.path ?? []);
  const host = model.namespaces.find((n) => n.name === 'host');
  const others = model.namespaces.filter((n) => n.name !== 'host');
  const hostBridges = model.bridges.filter((b) => b.ns === 'host');
  const hostEnd = (c: { a: Endpoint; b: Endpoint }, ns: string) => (c.a.ns === 'host' && c.b.ns === ns ? c.a : c.b.ns === 'host' && c.a.ns === ns ? c.b : undefined);
  const bridgeOf = (ns: string) => model.cables.map((c) => hostEnd(c, ns)?.master).find((m) => m && hostBridges.some((b) => b.name === m));
  const direct = (ns: string) => model.cables.some((c) => { const h = hostEnd(c, ns); return h !== undefined && !h.master; });
  const right = others.filter((n) => !bridgeOf(n.name) && direct(n.name));
  const groups = hostBridges.map((b) => ({ bridge: b, members: others.filter((n) => bridgeOf(n.name) === b.name) }));
  const loose = others.filter((n) => !right.includes(n) && !bridgeOf(n.name));
  const left = [...groups.flatMap((g) => g.members), ...loose];

  const W = 1200;
  const boxW = 220;
  const boxH = 64;
  const gap = 20;
  const top = 80;
  const leftX = 40;
  const rowY = (i: number) => top + 20 + i * (boxH + gap);
  const rows = Math.max(left.length, right.length, 1) + groups.filter((g) => g.members.length === 0).length;
  const H = top + 60 + rows * (boxH + gap);
  const hostX = 400;
  const hostW = 380;
  const barW = 110;
  const pos = new Map<string, { x: number; y: number }>();
  left.forEach((n, i) => pos.set(n.name, { x: leftX, y: rowY(i) }));
  right.forEach((n, i) => pos.set(n.name, { x: W - boxW - 30, y: rowY(i) }));
  // bridges: a bar spanning the rows of their members (an empty bridge gets a row of its own below)
  const bars = new Map<string, { x: number; y: number; h: number }>();
  let spare = left.length;
  for (const g of groups) {
    const ys = g.members.map((m) => pos.get(m.name)!.y);
    const y0 = ys.length ? Math.min(...ys) : rowY(spare++);
    const y1 = ys.length ? Math.max(...ys) + boxH : y0 + boxH;
    bars.set(g.bridge.name, { x: hostX + 30, y: y0, h: y1 - y0 });
  }
  const out: string[] = [];
  const line = (x1: number, y1: number, x2: number, y2: number, hot: boolean) =>
    out.push(`<line x1="${x1}" y1="${y1}" x2="${x2}" y2="${y2}" stroke="${hot ? '#c00' : '#666'}" stroke-width="${hot ? 3 : 1.5}"/>`);
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="DejaVu Sans, Arial, sans-serif" font-size="13">`);
  out.push(`<rect width="${W}" height="${H}" fill="#ffffff"/>`);
  out.push(`<text x="20" y="30" font-size="18" font-weight="bold">netspec lab</text>`);
  if (failed) out.push(`<text x="20" y="54" font-size="14" fill="#c00">✗ ${esc(`${failed.source} → ${failed.target}: ${failed.disposition}, stopped at ${failed.stoppedAt}`)}</text>`);
  const hostStop = failed?.stoppedAt === 'host';
  out.push(`<rect x="${hostX}" y="${top - 10}" width="${hostW}" height="${H - top - 20}" rx="14" fill="#f3f6fb" stroke="${hostStop ? '#c00' : onPath.has('host') ? '#c66' : '#8aa'}" stroke-width="${hostStop ? 4 : 2}"/>`);
  const notes = [host?.forwarding ? 'forwarding on' : 'forwarding off', host?.nat.length ? `MASQUERADE ${host.nat.join(', ')}` : '', host?.policy && host.policy !== 'ACCEPT' ? `FORWARD policy ${host.policy}` : '', ...(host?.nft ?? [])].filter(Boolean);
  const notesX = hostX + 30 + barW + 16;
  out.push(`<text x="${notesX}" y="${top + 14}" font-weight="bold">lab host${hostStop ? '  ✗' : ''}</text>`);
  notes.forEach((t, i) => out.push(`<text x="${notesX}" y="${top + 32 + i * 15}" font-size="11" fill="#444">${esc(t)}</text>`));
  for (const g of groups) {
    const b = bars.get(g.bridge.name)!;
    const cx = b.x + barW / 2;
    out.push(`<rect x="${b.x}" y="${b.y}" width="${barW}" height="${b.h}" rx="8" fill="#e2ecf9" stroke="#5a7fb5" stroke-width="1.5"/>`);
    out.push(`<text x="${cx}" y="${b.y + b.h / 2 - 6}" text-anchor="middle" font-weight="bold">${esc(g.bridge.name)}</text>`);
    out.push(`<text x="${cx}" y="${b.y + b.h / 2 + 10}" text-anchor="middle" font-size="10">bridge</text>`);
    g.bridge.addresses.forEach((a, i) => out.push(`<text x="${cx}" y="${b.y + b.h / 2 + 26 + i * 13}" text-anchor="middle" font-size="11">${esc(a)}</text>`));
  }
  for (const c of model.cables) {
    const ends = [c.a, c.b];
    const hostSide = ends.find((e) => e.ns === 'host');
    const nsSide = ends.find((e) => e.ns !== 'host');
    const hot = onPath.has(c.a.ns) && onPath.has(c.b.ns);
    if (hostSide && nsSide) {
      const p = pos.get(nsSide.ns);
      if (!p) continue;
      const y = p.y + boxH / 2;
      const bar = hostSide.master ? bars.get(hostSide.master) : undefined;
      if (left.some((n) => n.name === nsSide.ns)) {
        const x2 = bar ? bar.x : hostX;
        line(leftX + boxW, y, x2, y, hot);
        out.push(`<text x="${(leftX + boxW + x2) / 2}" y="${y - 6}" text-anchor="middle" font-size="10" fill="#333">${esc(`${nsSide.ifname} ↔ ${hostSide.ifname}`)}</text>`);
      } else {
        line(hostX + hostW, y, p.x, y, hot);
        out.push(`<text x="${(hostX + hostW + p.x) / 2}" y="${y - 6}" text-anchor="middle" font-size="10" fill="#333">${esc(`${hostSide.ifname} ↔ ${nsSide.ifname}`)}</text>`);
        out.push(`<text x="${(hostX + hostW + p.x) / 2}" y="${y + 14}" text-anchor="middle" font-size="10" fill="#333">${esc(hostSide.addresses.join(' '))}</text>`);
      }
    } else {
      // namespace to namespace: an arc on the far left
      const p1 = pos.get(c.a.ns);
      const p2 = pos.get(c.b.ns);
      if (!p1 || !p2) continue;
      const y1 = p1.y + boxH / 2;
      const y2 = p2.y + boxH / 2;
      out.push(`<path d="M ${leftX} ${y1} C ${leftX - 34} ${y1}, ${leftX - 34} ${y2}, ${leftX} ${y2}" fill="none" stroke="${hot ? '#c00' : '#666'}" stroke-width="${hot ? 3 : 1.5}"/>`);
      out.push(`<text x="${leftX + 4}" y="${(y1 + y2) / 2 + 4}" font-size="10" fill="#333">${esc(`${c.a.ifname} ↔ ${c.b.ifname}`)}</text>`);
    }
  }
  for (const n of others) {
    const p = pos.get(n.name)!;
    const stop = failed?.stoppedAt === n.name;
    out.push(`<rect x="${p.x}" y="${p.y}" width="${boxW}" height="${boxH}" rx="10" fill="${n.isWan ? '#eef7ee' : '#fffdf3'}" stroke="${stop ? '#c00' : onPath.has(n.name) ? '#c66' : '#998'}" stroke-width="${stop ? 4 : 2}"/>`);
    out.push(`<text x="${p.x + 12}" y="${p.y + 21}" font-weight="bold">${esc(n.isWan ? `${n.name} (the Internet)` : n.name)}${n.forwarding ? ' · forwards' : ''}</text>`);
    out.push(`<text x="${p.x + 12}" y="${p.y + 39}" font-size="11">${esc(n.addresses.slice(0, 2).join('  '))}</text>`);
    if (n.addresses.length > 2) out.push(`<text x="${p.x + 12}" y="${p.y + 54}" font-size="11">${esc(n.addresses.slice(2, 4).join('  '))}</text>`);
    if (stop) out.push(`<text x="${p.x + boxW - 12}" y="${p.y + 24}" text-anchor="end" font-size="20" fill="#c00">✗</text>`);
  }
  out.push('</svg>');
  return escapeControlInText(out.join('\n'));
}
