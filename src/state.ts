/** A namespace's live state in as few processes as possible: what diagnoses and failure reports are built from. */
import { canonical } from './address.js';
import type { Scope } from './scope.js';
import type { AddrInfo, LinkInfo, NeighInfo, Netns, RouteInfo } from './netns.js';
import { globalAddresses, parseAddresses, parseIpBatch, parseIpRules, parseLinks, parseNeighbors, parseRoutes, type IpRule } from './parse/ip.js';
import { EMPTY_IPTABLES, parseIptablesSave, type IptablesRuleset } from './parse/iptables.js';
import { EMPTY_NFT, formatNft, nativeOnly, parseNftJson, type NftRuleset } from './parse/nft.js';

export interface NamespaceState {
  readonly name: string;
  readonly links: LinkInfo[];
  readonly addresses: AddrInfo[];
  /** IPv4 routes of every table but `local` (`table` is set on a route outside main, as iproute2 prints it). */
  readonly routes: RouteInfo[];
  /** IPv6 routes, the same way. */
  readonly routes6: RouteInfo[];
  readonly neighbors: NeighInfo[];
  /** IPv4 policy routing rules (`ip -j rule show`). */
  readonly ipRules: IpRule[];
  /** IPv6 policy routing rules (`ip -6 -j rule show`). */
  readonly ipRules6: IpRule[];
  readonly forwarding: { ipv4: boolean; ipv6: boolean };
  /** `iptables-save -c` output ('' when iptables is not installed). */
  readonly iptables: string;
  /** The same, parsed (src/parse/iptables.ts): what every reader of iptables rules uses. */
  readonly iptablesRules: IptablesRuleset;
  /** Native nftables rules (`nft -j list ruleset`, without iptables-nft's own tables and netspec's), parsed. */
  readonly nftRules: NftRuleset;
  /** The same, as `nft list ruleset` prints it: '' when none. */
  readonly nft: string;
  readonly commands: string[];
}

const IP_BATCH = 'link show\naddr show\nneigh show\nrule show\n';
// policy routing puts routes in other tables: every table is read, but `local` (the kernel's own, one per address)
const ROUTES4 = ['ip', '-4', '-json', 'route', 'show', 'table', 'all'];
const ROUTES6 = ['ip', '-6', '-json', 'route', 'show', 'table', 'all'];
const RULES6 = ['ip', '-6', '-json', 'rule', 'show'];
const COMMANDS = ['ip -json -batch - (link, addr, neigh, rule)', 'ip -4 -json route show table all', 'ip -6 -json route show table all', 'ip -6 -json rule show', 'sysctl -n net.ipv4.ip_forward net.ipv6.conf.all.forwarding', 'iptables-save -c', 'nft -j list ruleset'];

type IpState = Pick<NamespaceState, 'links' | 'addresses' | 'routes' | 'neighbors' | 'ipRules' | 'routes6' | 'ipRules6'>;

/** Routes of `ip route show table all`, without the `local` table's. */
function routesOf(text: string, command?: string): RouteInfo[] {
  return parseRoutes(text, command).filter((r) => r.table !== 'local');
}

/** A state from the parsed `ip` reads and the raw output of the others (the one place rules become a NamespaceState). */
function stateOf(name: string, ip: IpState, raw: { sysctl: string; iptables: string; nft: string }, commands: string[]): NamespaceState {
  const [fw4, fw6] = raw.sysctl.trim().split('\n');
  const iptables = raw.iptables.includes('*') ? raw.iptables : '';
  const nftRules = raw.nft ? nativeOnly(parseNftJson(raw.nft, `${name}$ nft -j list ruleset`)) : EMPTY_NFT;
  return {
    name,
    ...ip,
    forwarding: { ipv4: fw4 === '1', ipv6: fw6 === '1' },
    iptables,
    iptablesRules: iptables ? parseIptablesSave(iptables, `${name}$ iptables-save -c`) : EMPTY_IPTABLES,
    nftRules,
    nft: formatNft(nftRules),
    commands,
  };
}

/** Read links, addresses, routes, neighbors and policy rules (one `ip -json -batch`), forwarding sysctls, iptables and nft rules. */
export async function readState(ns: Netns, options: { iptables?: boolean } = {}): Promise<NamespaceState> {
  const [ipOut, sysctl, ipt, routes4, routes6, rules6, nft] = await Promise.all([
    ns.lab.run(ns.name, ['ip', '-json', '-details', '-batch', '-'], { intent: 'read state', input: IP_BATCH, reject: false }),
    ns.lab.run(ns.name, ['sysctl', '-n', 'net.ipv4.ip_forward', 'net.ipv6.conf.all.forwarding'], { intent: 'read forwarding', reject: false }),
    options.iptables === false
      ? Promise.resolve(undefined)
      : ns.lab.run(ns.name, ['iptables-save', '-c'], { intent: 'read iptables rules', reject: false }).catch(() => undefined),
    ns.lab.run(ns.name, ROUTES4, { intent: 'read IPv4 routes', reject: false }),
    ns.lab.run(ns.name, ROUTES6, { intent: 'read IPv6 routes', reject: false }),
    ns.lab.run(ns.name, RULES6, { intent: 'read IPv6 policy rules', reject: false }),
    options.iptables === false
      ? Promise.resolve(undefined)
      : ns.lab.run(ns.name, ['nft', '-j', 'list', 'ruleset'], { intent: 'read nftables rules', reject: false }).catch(() => undefined),
  ]);
  return stateOf(
    ns.name,
    { ...parseIpBatch(ipOut.stdout, `${ns.name}$ ${COMMANDS[0]}`), routes: routesOf(routes4.stdout, `${ns.name}$ ${COMMANDS[1]}`), routes6: routesOf(routes6.stdout, `${ns.name}$ ${COMMANDS[2]}`), ipRules6: parseIpRules(rules6.stdout, `${ns.name}$ ${COMMANDS[3]}`) },
    { sysctl: sysctl.stdout, iptables: ipt?.exitCode === 0 ? ipt.stdout : '', nft: nft?.exitCode === 0 ? nft.stdout : '' },
    COMMANDS,
  );
}

/**
 * Every namespace of the scope, host first, each with its state: each kind of state is read from all namespaces at
 * once (Scope.inEveryNamespace: in a lab through its runner, eight namespaces at a time, or one `ip -all netns exec`;
 * an attachment namespace by namespace).
 */
export async function readLabState(lab: Scope, options: { iptables?: boolean } = {}): Promise<NamespaceState[]> {
  const names = lab.namespaces().sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  const every = async (argv: string[]) => (await lab.inEveryNamespace(argv, { intent: `read ${argv.join(' ')}` })).outputs;
  const none = Promise.resolve(new Map<string, string>());
  const [host, links, addrs, routes, neigh, rules, routes6, rules6, sysctl, ipt, nft] = await Promise.all([
    readState(lab.host, options),
    every(['ip', '-json', '-details', 'link', 'show']),
    every(['ip', '-json', 'addr', 'show']),
    every(ROUTES4),
    every(['ip', '-json', 'neigh', 'show']),
    every(['ip', '-json', 'rule', 'show']),
    every(ROUTES6),
    every(RULES6),
    every(['sysctl', '-n', 'net.ipv4.ip_forward', 'net.ipv6.conf.all.forwarding']),
    options.iptables === false ? none : every(['iptables-save', '-c']),
    options.iptables === false ? none : every(['nft', '-j', 'list', 'ruleset']),
  ]);
  const commands = ['in every namespace: ip -json (link, addr, route table all, neigh, rule, IPv6 rule), sysctl forwarding, iptables-save -c, nft -j list ruleset'];
  return [
    host,
    ...names.map((name) =>
      stateOf(
        name,
        {
          links: parseLinks(links.get(name) ?? '', `${name}$ ip -json -details link show`),
          addresses: parseAddresses(addrs.get(name) ?? '', `${name}$ ip -json addr show`),
          routes: routesOf(routes.get(name) ?? '', `${name}$ ${ROUTES4.join(' ')}`),
          neighbors: parseNeighbors(neigh.get(name) ?? '', `${name}$ ip -json neigh show`),
          ipRules: parseIpRules(rules.get(name) ?? '', `${name}$ ip -json rule show`),
          routes6: routesOf(routes6.get(name) ?? '', `${name}$ ${ROUTES6.join(' ')}`),
          ipRules6: parseIpRules(rules6.get(name) ?? '', `${name}$ ${RULES6.join(' ')}`),
        },
        { sysctl: sysctl.get(name) ?? '', iptables: ipt.get(name) ?? '', nft: nft.get(name) ?? '' },
        commands,
      ),
    ),
  ];
}

/** The namespace (state) that owns `address`, if any. */
export function ownerOf(states: readonly NamespaceState[], address: string): NamespaceState | undefined {
  const want = canonical(address);
  return states.find((s) => s.addresses.some((l) => l.addr_info?.some((a) => canonical(a.local) === want)));
}

/** Global addresses of every namespace of the lab (one process), by namespace name. */
export async function labAddresses(lab: Scope): Promise<Map<string, { address: string; prefixLength: number }[]>> {
  const [all, host] = await Promise.all([lab.inEveryNamespace(['ip', '-j', 'addr', 'show'], { intent: 'read addresses' }), lab.host.addresses()]);
  const out = new Map<string, { address: string; prefixLength: number }[]>();
  out.set('host', globalAddresses(host));
  for (const [name, text] of all.outputs) out.set(name, globalAddresses(parseAddresses(text, `${name}$ ip -j addr show`)));
  return out;
}

/** The namespace (by name) that has `address` as one of its global addresses, from one address read of the lab. */
export async function addressOwner(lab: Scope, address: string): Promise<string | undefined> {
  return ownerIn(await labAddresses(lab), address);
}

/** Of addresses read with labAddresses, the namespace that has `address`. */
export function ownerIn(addresses: ReadonlyMap<string, readonly { address: string }[]>, address: string): string | undefined {
  const want = canonical(address);
  for (const [name, list] of addresses) if (list.some((a) => canonical(a.address) === want)) return name;
  return undefined;
}
