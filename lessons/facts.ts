/**
 * Facts a lesson reads from the learner's lab to name a mistake exactly (issue 29: "veth-blue is DOWN", "the bridge's
 * address is a /32"), instead of the explanation a failed reachability check would give ("add a route"). Read through
 * the public handles (links, addresses, iptables); the messages name the fact, never an API name nor the command that
 * is the answer.
 */
import { contains, networkOfAddress, parseCidr, type Lab, type Netns } from '../src/index.js';
import { fail } from './course.js';
import { forwardingOf } from '../src/matchers/to-forward.js';

const where = (lab: Lab, ns: Netns) => (ns === lab.host ? 'in the host' : `in ${ns.name}`);

/**
 * The first of these links that exists and is administratively DOWN fails the lesson, saying so (a link that does not
 * exist yet is the lesson's other checks' business). `[namespace, link]` pairs, `host` for the lab's host.
 */
export async function linksUp(lab: Lab, wanted: readonly (readonly [string, string])[], step = 'up'): Promise<void> {
  const byNs = new Map<string, string[]>();
  for (const [ns, dev] of wanted) byNs.set(ns, [...(byNs.get(ns) ?? []), dev]);
  const read = await Promise.all(
    [...byNs.keys()].map(async (name) => {
      const ns = name === 'host' ? lab.host : lab.get(name);
      return { ns, links: await ns.links() };
    }),
  );
  for (const [name, dev] of wanted) {
    const { ns, links } = read.find((r) => (name === 'host' ? r.ns === lab.host : r.ns.name === name))!;
    const link = links.find((l) => l.ifname === dev);
    if (!link || link.flags.includes('UP')) continue;
    const bridge = link.linkinfo?.info_kind === 'bridge';
    fail({
      step,
      says:
        `${bridge ? 'the bridge ' : ''}${dev} (${where(lab, ns)}) is DOWN: a link that is DOWN sends and receives nothing, ` +
        `${bridge ? 'so no frame crosses the bridge' : 'so the cable it ends carries nothing, in either direction'} (its flags: ${link.flags.join(',') || 'none'}).`,
      hints: ['Interfaces have a state, set by `ip link set … up|down`; `ip link` (in each namespace) shows it.', `${dev}, ${where(lab, ns)}, is not UP.`],
    });
  }
}

/** The prefix lengths `ns` has `address` with (on `dev` if given), e.g. `[{ prefixLength: 32, dev: 'v-net-0' }]`. */
export async function prefixesOf(ns: Netns, address: string): Promise<{ prefixLength: number; dev: string }[]> {
  return (await ns.globalAddresses(4)).filter((a) => a.address === address).map((a) => ({ prefixLength: a.prefixLength, dev: a.dev }));
}

/** The network an IPv4 address with a prefix length is on: `192.168.15.3/32` → `192.168.15.3/32`, `10.1.0.200/25` → `10.1.0.128/25`. */
export function networkOf(address: string, prefixLength: number): string {
  return networkOfAddress(`${address}/${prefixLength}`);
}

/** Whether `address` is on the network `cidr` (IPv4). */
export function onNetwork(address: string, cidr: string): boolean {
  return contains(parseCidr(cidr), address);
}

/** The nat table's MASQUERADE rules of POSTROUTING in `ns`: each rule's text, its `-s` and its `-o` (if any). */
export async function masqueradeRules(ns: Netns): Promise<{ rule: string; source?: string; out?: string }[]> {
  const r = await ns.iptables(['-t', 'nat', '-S', 'POSTROUTING']);
  return r.stdout
    .split('\n')
    .filter((l) => /^-A POSTROUTING\b.*-j MASQUERADE\b/.test(l))
    .map((rule) => ({ rule, source: /(?:^| )-s (\S+)/.exec(rule)?.[1], out: /(?:^| )-o (\S+)/.exec(rule)?.[1] }));
}

/**
 * IPv4 forwarding where a router is needed: when `router` does not forward (net.ipv4.ip_forward 0 and no interface's
 * own forwarding on), the lesson fails naming the value there and in the other namespaces that set it (the usual
 * mistake: `ip_forward=1` in the hosts at the ends, not in the router).
 */
export async function forwardingIn(lab: Lab, router: Netns, ends: readonly Netns[], step = 'forward'): Promise<void> {
  // as toForward decides: the switch, and when it is off the interfaces' own settings (IPv4 forwards by the incoming
  // interface's net.ipv4.conf.IF.forwarding): with one of them on, the router may forward after all
  const [router4, ...atEnds] = await Promise.all([forwardingOf(router, 4), ...ends.map((ns) => ns.readSysctl('net.ipv4.ip_forward'))]);
  if (router4.value === '1' || router4.byInterface.length > 0) return;
  const atRouter = router4.value;
  const set = ends.filter((_, i) => atEnds[i] === '1').map((ns) => ns.name);
  const names = ends.map((ns) => ns.name).join(' and ');
  fail({
    step,
    says:
      `net.ipv4.ip_forward is ${atRouter} ${where(lab, router)}, the router between ${names}: it passes no packet from one of its interfaces to another. ` +
      (set.length ? `It is 1 in ${set.join(' and ')}, which changes nothing there: they only send and receive their own packets.` : `(${names} do not need it: they only send and receive their own packets.)`),
    hints: ['Forwarding is a sysctl, one value per network namespace: `sysctl net.ipv4.ip_forward` in each shows it.', `The router is ${router === lab.host ? 'the host' : router.name}: forwarding has to be on there.`],
  });
}
