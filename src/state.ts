/** A namespace's live state in as few processes as possible: what diagnoses and failure reports are built from. */
import { canonical } from './ip.js';
import type { World } from './world.js';
import type { AddrInfo, LinkInfo, NeighInfo, Netns, RouteInfo } from './netns.js';

export interface NamespaceState {
  readonly name: string;
  readonly links: LinkInfo[];
  readonly addresses: AddrInfo[];
  readonly routes: RouteInfo[];
  readonly routes6: RouteInfo[];
  readonly neighbours: NeighInfo[];
  readonly forwarding: { ipv4: boolean; ipv6: boolean };
  /** `iptables-save -c` output ('' when iptables is not installed). */
  readonly iptables: string;
  /** Native nftables rules (`nft list ruleset`, without iptables-nft's own tables and netspec's): '' when none. */
  readonly nft: string;
  readonly commands: string[];
}

/** Read links, addresses, routes and neighbours (one `ip -json -batch`), forwarding sysctls and iptables rules. */
export async function readState(ns: Netns, options: { iptables?: boolean } = {}): Promise<NamespaceState> {
  const batch = 'link show\naddr show\nroute show\nneigh show\n';
  const [ipOut, sysctl, ipt, ipOut6, nft] = await Promise.all([
    ns.lab.run(ns.name, ['ip', '-json', '-details', '-batch', '-'], { intent: 'read state', input: batch, reject: false }),
    ns.lab.run(ns.name, ['sysctl', '-n', 'net.ipv4.ip_forward', 'net.ipv6.conf.all.forwarding'], { intent: 'read forwarding', reject: false }),
    options.iptables === false
      ? Promise.resolve(undefined)
      : ns.lab.run(ns.name, ['iptables-save', '-c'], { intent: 'read iptables rules', reject: false }).catch(() => undefined),
    ns.lab.run(ns.name, ['ip', '-6', '-json', 'route', 'show'], { intent: 'read IPv6 routes', reject: false }),
    options.iptables === false
      ? Promise.resolve(undefined)
      : ns.lab.run(ns.name, ['nft', 'list', 'ruleset'], { intent: 'read nftables rules', reject: false }).catch(() => undefined),
  ]);
  const arrays = splitJsonArrays(ipOut.stdout);
  const [fw4, fw6] = sysctl.stdout.trim().split('\n');
  return {
    name: ns.name,
    links: (arrays[0] ?? []) as LinkInfo[],
    addresses: (arrays[1] ?? []) as AddrInfo[],
    routes: (arrays[2] ?? []) as RouteInfo[],
    neighbours: (arrays[3] ?? []) as NeighInfo[],
    routes6: (splitJsonArrays(ipOut6.stdout)[0] ?? []) as RouteInfo[],
    forwarding: { ipv4: fw4 === '1', ipv6: fw6 === '1' },
    iptables: ipt?.exitCode === 0 ? ipt.stdout : '',
    nft: nft?.exitCode === 0 ? nativeNft(nft.stdout) : '',
    commands: ['ip -json -batch - (link, addr, route, neigh)', 'ip -6 -json route show', 'sysctl -n net.ipv4.ip_forward net.ipv6.conf.all.forwarding', 'iptables-save -c', 'nft list ruleset'],
  };
}

/** `ip -json -batch` prints one JSON array per command, back to back. */
export function splitJsonArrays(text: string): unknown[][] {
  const out: unknown[][] = [];
  let depth = 0;
  let start = -1;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') inString = true;
    else if (c === '[') {
      if (depth === 0) start = i;
      depth++;
    } else if (c === ']') {
      depth--;
      if (depth === 0 && start >= 0) {
        out.push(JSON.parse(text.slice(start, i + 1)) as unknown[]);
        start = -1;
      }
    }
  }
  return out;
}

/**
 * Every namespace of the lab, host first, each with its state. In a lab, each kind of state is read from all its
 * namespaces by one `ip -all netns exec` (a handful of processes, whatever the number of namespaces); an attachment
 * reads namespace by namespace.
 */
export async function readLabState(lab: World, options: { iptables?: boolean } = {}): Promise<NamespaceState[]> {
  const names = lab.namespaces().sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  if (lab.readOnly || names.length < 3) {
    const all = [lab.host, ...names.map((n) => lab.get(n))];
    return Promise.all(all.map((ns) => readState(ns, options)));
  }
  const every = (argv: string[]) => everyNetns(lab, argv);
  const [host, links, addrs, routes, neigh, routes6, sysctl, ipt, nft] = await Promise.all([
    readState(lab.host, options),
    every(['ip', '-json', '-details', 'link', 'show']),
    every(['ip', '-json', 'addr', 'show']),
    every(['ip', '-json', 'route', 'show']),
    every(['ip', '-json', 'neigh', 'show']),
    every(['ip', '-6', '-json', 'route', 'show']),
    every(['sysctl', '-n', 'net.ipv4.ip_forward', 'net.ipv6.conf.all.forwarding']),
    options.iptables === false ? Promise.resolve(new Map<string, string>()) : every(['iptables-save', '-c']),
    options.iptables === false ? Promise.resolve(new Map<string, string>()) : every(['nft', 'list', 'ruleset']),
  ]);
  const json = (m: Map<string, string>, name: string) => (splitJsonArrays(m.get(name) ?? '')[0] ?? []) as never[];
  return [
    host,
    ...names.map((name): NamespaceState => {
      const [fw4, fw6] = (sysctl.get(name) ?? '').trim().split('\n');
      const save = ipt.get(name) ?? '';
      return {
        name,
        links: json(links, name),
        addresses: json(addrs, name),
        routes: json(routes, name),
        neighbours: json(neigh, name),
        routes6: json(routes6, name),
        forwarding: { ipv4: fw4 === '1', ipv6: fw6 === '1' },
        iptables: save.includes('*') ? save : '',
        nft: nativeNft(nft.get(name) ?? ''),
        commands: ['ip -all netns exec … (link, addr, route, neigh, sysctl, iptables-save -c, nft list ruleset)'],
      };
    }),
  ];
}

/**
 * Run `argv` in every named namespace of a lab with one `ip -all netns exec` in its host; each namespace's output, by
 * name (ip prints it after a `netns: NAME` line).
 */
export async function everyNetns(lab: World, argv: readonly string[]): Promise<Map<string, string>> {
  const r = await lab.run('host', ['ip', '-all', 'netns', 'exec', ...argv], { intent: `read ${argv.join(' ')} everywhere`, reject: false });
  const out = new Map<string, string>();
  const stdout = r.stdout;
  for (const block of stdout.split(/^netns: /m).slice(1)) {
    const nl = block.indexOf('\n');
    out.set(block.slice(0, nl).trim(), block.slice(nl + 1));
  }
  return out;
}

/** The namespace (state) that owns `address`, if any. */
export function ownerOf(states: readonly NamespaceState[], address: string): NamespaceState | undefined {
  const want = canonical(address);
  return states.find((s) => s.addresses.some((l) => l.addr_info?.some((a) => canonical(a.local) === want)));
}

export interface Counter {
  table: string;
  chain: string;
  rule: string;
  packets: number;
  /** A chain policy line (`:FORWARD DROP`) rather than a rule. */
  policy?: string;
}

/** Packet counters of every rule and chain policy in `iptables-save -c` output. */
export function parseCounters(save: string): Counter[] {
  const out: Counter[] = [];
  let table = '';
  for (const line of save.split('\n')) {
    if (line.startsWith('*')) table = line.slice(1);
    const pol = /^:(\S+) (\S+) \[(\d+):\d+\]/.exec(line);
    if (pol) {
      out.push({ table, chain: pol[1]!, rule: `policy ${pol[2]}`, packets: Number(pol[3]), policy: pol[2]! });
      continue;
    }
    const rule = /^\[(\d+):\d+\] (-A (\S+) .*)$/.exec(line);
    if (rule) out.push({ table, chain: rule[3]!, rule: rule[2]!, packets: Number(rule[1]) });
  }
  return out;
}

/** Rules and policies whose counters rose between two `iptables-save -c` outputs. */
export function risenCounters(before: string, after: string): Counter[] {
  const a = parseCounters(before);
  const b = parseCounters(after);
  return b.filter((c, i) => {
    const prev = a[i];
    return prev && prev.rule === c.rule && prev.chain === c.chain && c.packets > prev.packets;
  });
}

/** The policy of a filter chain, from `iptables-save` output. */
export function chainPolicy(save: string, chain: string): string | undefined {
  let table = '';
  for (const line of save.split('\n')) {
    if (line.startsWith('*')) table = line.slice(1);
    const m = /^:(\S+) (\S+)/.exec(line);
    if (table === 'filter' && m && m[1] === chain) return m[2];
  }
  return undefined;
}

const IPTABLES_NFT_TABLES = /^table (ip|ip6|arp|bridge) (filter|nat|mangle|raw|security) \{$/;

/**
 * The tables of `nft list ruleset` that are neither iptables-nft's (shown once, in iptables form, from iptables-save)
 * nor netspec's own (trace and witness tables): the rules a user wrote with nft.
 */
export function nativeNft(ruleset: string): string {
  const out: string[] = [];
  let keep = false;
  for (const line of ruleset.split('\n')) {
    if (line.startsWith('table ')) keep = !IPTABLES_NFT_TABLES.test(line) && !/^table \S+ netspec_/.test(line);
    if (keep && line.trim()) out.push(line);
    if (line === '}') keep = false;
  }
  return out.join('\n');
}

/** Global addresses of every namespace of the lab (one process), by namespace name. */
export async function labAddresses(lab: World): Promise<Map<string, { address: string; prefixLength: number }[]>> {
  if (lab.readOnly) {
    // an attachment: no private /run/netns to list, so read each namespace
    const out = new Map<string, { address: string; prefixLength: number }[]>();
    for (const name of ['host', ...lab.namespaces()]) out.set(name, (await lab.get(name).globalAddresses()).map(({ address, prefixLength }) => ({ address, prefixLength })));
    return out;
  }
  const [all, host] = await Promise.all([everyNetns(lab, ['ip', '-j', 'addr', 'show']), lab.host.addresses()]);
  const out = new Map<string, { address: string; prefixLength: number }[]>();
  const globals = (links: AddrInfo[]) =>
    links.flatMap((l) => (l.addr_info ?? []).filter((a) => a.scope === 'global').map((a) => ({ address: a.local, prefixLength: a.prefixlen, lo: l.ifname === 'lo' })))
      // addresses on lo last: the link address is the one a neighbour reaches first
      .sort((a, b) => Number(a.lo) - Number(b.lo))
      .map(({ address, prefixLength }) => ({ address, prefixLength }));
  out.set('host', globals(host));
  for (const [name, text] of all) out.set(name, globals((splitJsonArrays(text)[0] ?? []) as AddrInfo[]));
  return out;
}

/** The namespace (by name) that has `address` as one of its global addresses, from one address read of the lab. */
export async function addressOwner(lab: World, address: string): Promise<string | undefined> {
  return ownerIn(await labAddresses(lab), address);
}

/** Of addresses read with labAddresses, the namespace that has `address`. */
export function ownerIn(addresses: ReadonlyMap<string, readonly { address: string }[]>, address: string): string | undefined {
  const want = canonical(address);
  for (const [name, list] of addresses) if (list.some((a) => canonical(a.address) === want)) return name;
  return undefined;
}
