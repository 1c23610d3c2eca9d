/** A namespace's live state in as few processes as possible: what diagnoses and failure reports are built from. */
import { canonical } from './address.js';
import type { Scope } from './scope.js';
import type { AddrInfo, LinkInfo, NeighInfo, Netns, RouteInfo } from './netns.js';
import { globalAddresses, parseAddresses, parseIp6Batch, parseIpBatch, parseRoutes, type IpRule } from './parse/ip.js';
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
const IP6_BATCH = 'route show table all\nrule show\n';

/**
 * What a namespace's state is read with: six processes (`ip -batch` runs its lines in one process; the family is an
 * option of the whole batch, so IPv4 routes and the IPv6 lines are batches of their own). The same reads for one
 * namespace and for a whole lab (through the lab runner: a namespace's six, eight namespaces at a time).
 */
const READS = {
  ip: { argv: ['ip', '-json', '-details', '-batch', '-'], input: IP_BATCH, intent: 'read state', shown: 'ip -json -batch - (link, addr, neigh, rule)' },
  routes4: { argv: ROUTES4, input: undefined, intent: 'read IPv4 routes', shown: ROUTES4.join(' ') },
  ip6: { argv: ['ip', '-6', '-json', '-batch', '-'], input: IP6_BATCH, intent: 'read IPv6 routes and policy rules', shown: 'ip -6 -json -batch - (route show table all, rule show)' },
  sysctl: { argv: ['sysctl', '-n', 'net.ipv4.ip_forward', 'net.ipv6.conf.all.forwarding'], input: undefined, intent: 'read forwarding', shown: 'sysctl -n net.ipv4.ip_forward net.ipv6.conf.all.forwarding' },
  iptables: { argv: ['iptables-save', '-c'], input: undefined, intent: 'read iptables rules', shown: 'iptables-save -c' },
  nft: { argv: ['nft', '-j', 'list', 'ruleset'], input: undefined, intent: 'read nftables rules', shown: 'nft -j list ruleset' },
} as const;
type Read = keyof typeof READS;
const COMMANDS = Object.values(READS).map((r) => r.shown);

/** Routes of `ip route show table all`, without the `local` table's. */
function withoutLocal(routes: RouteInfo[]): RouteInfo[] {
  return routes.filter((r) => r.table !== 'local');
}

/** A state from the raw output of the reads (the one place they become a NamespaceState). */
function stateOf(name: string, raw: Record<Read, string>, commands: string[]): NamespaceState {
  const said = (read: Read) => `${name}$ ${READS[read].shown}`;
  const [fw4, fw6] = raw.sysctl.trim().split('\n');
  const iptables = raw.iptables.includes('*') ? raw.iptables : '';
  const nftRules = raw.nft ? nativeOnly(parseNftJson(raw.nft, said('nft'))) : EMPTY_NFT;
  const six = parseIp6Batch(raw.ip6, said('ip6'));
  return {
    name,
    ...parseIpBatch(raw.ip, said('ip')),
    routes: withoutLocal(parseRoutes(raw.routes4, said('routes4'))),
    routes6: withoutLocal(six.routes),
    ipRules6: six.rules,
    forwarding: { ipv4: fw4 === '1', ipv6: fw6 === '1' },
    iptables,
    iptablesRules: iptables ? parseIptablesSave(iptables, said('iptables')) : EMPTY_IPTABLES,
    nftRules,
    nft: formatNft(nftRules),
    commands,
  };
}

/** Nothing read yet (a read not made, or made in no namespace, stays ''). */
const noReads = (): Record<Read, string> => ({ ip: '', routes4: '', ip6: '', sysctl: '', iptables: '', nft: '' });

/** The reads to make: all, or (`iptables: false`) all but the firewall's. */
function readsOf(options: { iptables?: boolean }): Read[] {
  return (Object.keys(READS) as Read[]).filter((r) => options.iptables !== false || (r !== 'iptables' && r !== 'nft'));
}

/** Read links, addresses, routes, neighbors and policy rules (three `ip` processes), forwarding sysctls, iptables and nft rules. */
export async function readState(ns: Netns, options: { iptables?: boolean } = {}): Promise<NamespaceState> {
  const raw = noReads();
  await Promise.all(
    readsOf(options).map(async (read) => {
      const { argv, input, intent } = READS[read];
      // a namespace without iptables or nft has no rules of that kind
      const r = await ns.lab.run(ns.name, argv, { intent, input, reject: false }).catch((error: unknown) => {
        if (read === 'iptables' || read === 'nft') return undefined;
        throw error;
      });
      raw[read] = (read === 'iptables' || read === 'nft') && r?.exitCode !== 0 ? '' : (r?.stdout ?? '');
    }),
  );
  return stateOf(ns.name, raw, COMMANDS);
}

/**
 * Every namespace of the scope, host first, each with its state: each read is made in all namespaces at once
 * (Scope.inEveryNamespace: in a lab through its runner, eight namespaces at a time; an attachment namespace by
 * namespace; a batch's lines reach each namespace's own process, so a lab without a runner reads them one namespace
 * at a time too).
 */
export async function readLabState(lab: Scope, options: { iptables?: boolean } = {}): Promise<NamespaceState[]> {
  const names = lab.namespaces().sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  const reads = readsOf(options);
  const [host, ...outputs] = await Promise.all([
    readState(lab.host, options),
    ...reads.map(async (read) => {
      const { argv, input } = READS[read];
      return (await lab.inEveryNamespace(argv, { intent: `read ${READS[read].shown}`, input })).outputs;
    }),
  ]);
  const commands = [`in every namespace: ${COMMANDS.join('; ')}`];
  return [
    host,
    ...names.map((name) => {
      const raw = noReads();
      reads.forEach((read, i) => (raw[read] = outputs[i]!.get(name) ?? ''));
      return stateOf(name, raw, commands);
    }),
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
