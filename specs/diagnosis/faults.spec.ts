// The diagnosis benchmark (issue 25): classic faults, each built on the same small network, each asserting the
// disposition, the cause a network engineer would look for, and what must NOT be said (a confident wrong cause).
// One table: a case is a name, a fault, the probe, and three expectations. Every case builds its own lab, so they run
// concurrently.
import { describe, expect, test } from '../../src/vitest.js';
import { bridgeNetwork, type BridgeNetwork } from '../../fixtures/index.js';
import { serve } from '../../src/index.js';
import type { Lab, Netns } from '../../src/index.js';
import type { Disposition } from '../../src/diagnose/index.js';
import { failureOf } from '../matchers/helpers.js';

type Net = BridgeNetwork<'red' | 'blue' | 'green'>;

interface Fault {
  name: string;
  /** Break the network; return what to probe (default: red → blue's address, ICMP). */
  fault: (net: Net, lab: Lab) => Promise<void | { from?: Netns; target?: string | { address: string; port: number }; options?: Record<string, unknown>; cleanup?: () => Promise<void> }>;
  /** The address probed when the fault does not say (default blue's). */
  to?: string;
  disposition: Disposition;
  /** The cause, as a human would name it. */
  cause: RegExp;
  /** What must not be said. */
  not: RegExp;
}

const BLUE = '192.168.15.2';
const WAN = '203.0.113.8';
/** The generic guesses the old diagnosis fell back on. */
const ARP_GUESS = /ARP\/ND replies do not come back|not cabled/;

const sh = (ns: Netns, argv: string[]) => ns.exec(argv[0]!, argv.slice(1));

export const FAULTS: Fault[] = [
  // ── the source ──
  {
    name: 'the source has no route',
    fault: async (net) => void (await net.red.deleteRoute('default')),
    to: WAN,
    disposition: 'NO_ROUTE',
    cause: /red: no route to 203\.0\.113\.8 \(Network is unreachable\)/,
    // (its masks are right: nothing about them)
    not: /neighbor|FORWARD|route back|covers only/,
  },
  {
    name: "the source's address is a /32 where its neighbours have /24 (the mask, not a missing route)",
    fault: async (net) => {
      await sh(net.red, ['ip', 'addr', 'del', '192.168.15.1/24', 'dev', 'veth-red']);
      await sh(net.red, ['ip', 'addr', 'add', '192.168.15.1/32', 'dev', 'veth-red']);
    },
    disposition: 'NO_ROUTE',
    cause: /red: its address 192\.168\.15\.1\/32 on veth-red covers only itself, so it has no route to 192\.168\.15\.2; (blue|host) holds 192\.168\.15\.2\/24 on the same link, a network that includes 192\.168\.15\.1: with \/24 \(as (blue|host) has\) red would have a route to it on veth-red/,
    not: /neighbor|FORWARD|ARP/,
  },
  {
    name: "the source's own OUTPUT policy drops the probe",
    fault: async (net) => void (await net.red.policy('OUTPUT', 'DROP')),
    disposition: 'FILTERED',
    cause: /red: dropped by the OUTPUT policy DROP \(table filter\) — icmp echo-request 192\.168\.15\.1 → 192\.168\.15\.2.*own output filtering/,
    not: /neighbor .* is (INCOMPLETE|FAILED|absent)|ARP/,
  },
  {
    name: "the source's own OUTPUT rule REJECTs the probe (not blamed on the target)",
    fault: async (net) => {
      await net.red.iptables(['-A', 'OUTPUT', '-p', 'tcp', '--dport', '8080', '-j', 'REJECT']);
      return { target: { address: BLUE, port: 8080 } };
    },
    disposition: 'FILTERED',
    cause: /red: dropped by rule `-A OUTPUT -p tcp -m tcp --dport 8080 -j REJECT/,
    not: /nothing listens|ARP|neighbor .* is (INCOMPLETE|FAILED|absent)/,
  },
  {
    name: 'a blackhole route at the source',
    fault: async (net) => void (await net.red.addRoute('203.0.113.0/24', { type: 'blackhole' })),
    to: WAN,
    disposition: 'NO_ROUTE',
    cause: /red: no route to 203\.0\.113\.8 \(a blackhole route/,
    not: /add one|neighbor/,
  },
  {
    name: '"Connection refused" from a closed port on the next host is not blamed on ARP',
    fault: async () => ({ target: { address: BLUE, port: 9 }, options: { responder: false } }),
    disposition: 'REFUSED',
    cause: /192\.168\.15\.2:9: answered with a refusal/,
    not: /ARP|neighbor .* is (INCOMPLETE|FAILED|absent)/,
  },
  {
    name: 'a server bound to 127.0.0.1 only: the refusal names the address it listens on',
    fault: async (net, lab) => {
      const server = await serve(lab.enter('blue'), { port: 8081, address: '127.0.0.1' });
      return { target: { address: BLUE, port: 8081 }, options: { responder: false }, cleanup: () => server.stop() };
    },
    disposition: 'REFUSED',
    cause: /tcp port 8081 is bound only to 127\.0\.0\.1 \(ss -lntu\), not to 192\.168\.15\.2/,
    not: /ARP|neighbor .* is (INCOMPLETE|FAILED|absent)/,
  },
  {
    name: "the source's own native nft output chain drops the probe",
    fault: async (net) => void (await net.red.exec('nft', ['-f', '-'], { input: 'table inet own { chain out { type filter hook output priority 0; ip daddr 192.168.15.2 drop; }; }' })),
    disposition: 'FILTERED',
    cause: /red: dropped by inet own out rule `ip daddr 192\.168\.15\.2 drop` — icmp echo-request 192\.168\.15\.1 → 192\.168\.15\.2 \(oif veth-red\) \(kernel trace\); red's own output filtering, so the packet never left it/,
    not: /neighbor .* is (INCOMPLETE|FAILED|absent)|ARP/,
  },
  {
    name: 'a default route via a gateway no one has',
    fault: async (net) => void (await net.red.replaceRoute('default', { via: '192.168.15.77' })),
    to: WAN,
    disposition: 'NEIGHBOR_UNREACHABLE',
    cause: /red: neighbor 192\.168\.15\.77 on veth-red is (INCOMPLETE|FAILED|absent): no namespace in the lab has 192\.168\.15\.77, so nothing answers ARP\/ND for it/,
    not: /cannot tell|FORWARD|route back/,
  },
  {
    name: 'a DNAT to a port nothing listens on',
    fault: async (_net, lab) => {
      await lab.host.iptables(['-t', 'nat', '-A', 'PREROUTING', '-d', '192.168.15.4', '-p', 'tcp', '--dport', '8080', '-j', 'DNAT', '--to-destination', `${BLUE}:81`]);
      return { target: { address: '192.168.15.4', port: 8080 }, options: { responder: false } };
    },
    disposition: 'REFUSED',
    cause: /192\.168\.15\.2:81: answered with a refusal/,
    not: /ARP|neighbor .* is (INCOMPLETE|FAILED|absent)|cannot tell/,
  },
  // ── the link ──
  {
    name: "the target's bridge port is down",
    fault: async (_net, lab) => void (await lab.host.down('veth-blue-brdg')),
    disposition: 'NEIGHBOR_UNREACHABLE',
    cause: /the other end of blue's veth-blue, veth-blue-brdg in host, is administratively down/,
    not: ARP_GUESS,
  },
  {
    name: "the source's bridge port is down",
    fault: async (_net, lab) => void (await lab.host.down('veth-red-brdg')),
    disposition: 'NEIGHBOR_UNREACHABLE',
    cause: /veth-red-brdg in host, is administratively down/,
    not: ARP_GUESS,
  },
  {
    name: 'a bridge port in state disabled',
    fault: async (_net, lab) => void (await sh(lab.host, ['bridge', 'link', 'set', 'dev', 'veth-blue-brdg', 'state', '0'])),
    disposition: 'NEIGHBOR_UNREACHABLE',
    cause: /host: bridge port veth-blue-brdg \(of v-net-0\) is in state disabled/,
    not: ARP_GUESS,
  },
  {
    name: 'both bridge ports isolated',
    fault: async (_net, lab) => {
      await sh(lab.host, ['bridge', 'link', 'set', 'dev', 'veth-red-brdg', 'isolated', 'on']);
      await sh(lab.host, ['bridge', 'link', 'set', 'dev', 'veth-blue-brdg', 'isolated', 'on']);
    },
    disposition: 'NEIGHBOR_UNREACHABLE',
    cause: /bridge ports veth-red-brdg and veth-blue-brdg of v-net-0 are both isolated/,
    not: ARP_GUESS,
  },
  {
    name: 'arp_ignore=8 on the target',
    fault: async (net) => void (await net.blue.sysctl('net.ipv4.conf.all.arp_ignore', 8)),
    disposition: 'NEIGHBOR_UNREACHABLE',
    cause: /blue: arp_ignore is 8 .*answers no ARP request/,
    not: ARP_GUESS,
  },
  {
    name: 'arp_ignore=1 and the address on lo',
    fault: async (net) => {
      await sh(net.blue, ['ip', 'addr', 'add', '192.168.15.50/32', 'dev', 'lo']);
      await net.blue.sysctl('net.ipv4.conf.all.arp_ignore', 1);
      return { target: '192.168.15.50' };
    },
    disposition: 'NEIGHBOR_UNREACHABLE',
    cause: /blue: arp_ignore is 1, and 192\.168\.15\.50 is on lo/,
    not: ARP_GUESS,
  },
  {
    name: 'a pinned neighbor entry with a MAC no one has',
    fault: async (net) => void (await sh(net.red, ['ip', 'neigh', 'replace', BLUE, 'lladdr', '02:00:00:00:00:99', 'dev', 'veth-red', 'nud', 'permanent'])),
    disposition: 'NEIGHBOR_UNREACHABLE',
    cause: /neighbor 192\.168\.15\.2 on veth-red is pinned \(PERMANENT\) to 02:00:00:00:00:99, and no link in the lab has that MAC/,
    not: /cannot tell|route back|is REACHABLE/,
  },
  {
    name: "a pinned neighbor entry with another namespace's MAC",
    fault: async (net) => {
      const mac = (JSON.parse((await net.green.exec('ip', ['-j', 'link', 'show', 'veth-green'])).stdout) as { address: string }[])[0]!.address;
      await sh(net.red, ['ip', 'neigh', 'replace', BLUE, 'lladdr', mac, 'dev', 'veth-red', 'nud', 'permanent']);
    },
    disposition: 'NEIGHBOR_UNREACHABLE',
    cause: /pinned \(PERMANENT\) to \S+, the MAC of green's veth-green, not of blue/,
    not: /cannot tell|route back/,
  },
  {
    name: 'nothing in the lab has the address',
    fault: async () => ({ target: '192.168.15.99' }),
    disposition: 'NEIGHBOR_UNREACHABLE',
    cause: /no namespace in the lab has 192\.168\.15\.99, so nothing answers ARP\/ND for it/,
    not: /cannot tell|route back/,
  },
  // ── the router ──
  {
    name: 'forwarding off on the router',
    fault: async (_net, lab) => void (await lab.host.forwarding(false)),
    to: WAN,
    disposition: 'FORWARDING_DISABLED',
    cause: /host \(192\.168\.15\.4\): forwarding is off \(net\.ipv4\.ip_forward=0\)/,
    not: /no route on|NO_ROUTE/,
  },
  {
    name: 'forwarding off on the incoming interface only',
    fault: async (_net, lab) => void (await lab.host.sysctl('net.ipv4.conf.v-net-0.forwarding', 0)),
    to: WAN,
    disposition: 'FORWARDING_DISABLED',
    cause: /host \(192\.168\.15\.4\): forwarding is off on v-net-0 \(net\.ipv4\.conf\.v-net-0\.forwarding=0/,
    not: /no route on|add one|NO_ROUTE/,
  },
  {
    name: 'a blackhole route on the router',
    fault: async (_net, lab) => void (await lab.host.addRoute('203.0.113.0/24', { type: 'blackhole' })),
    to: WAN,
    disposition: 'NO_ROUTE',
    cause: /host: its route to 203\.0\.113\.0\/24 is a blackhole route: the route exists/,
    not: /add one|no route on/,
  },
  {
    name: 'a prohibit route on the router',
    fault: async (_net, lab) => void (await lab.host.addRoute('203.0.113.0/24', { type: 'prohibit' })),
    to: WAN,
    disposition: 'NO_ROUTE',
    cause: /host: its route to 203\.0\.113\.0\/24 is a prohibit route: the route exists/,
    not: /add one|no route on/,
  },
  {
    name: 'an unreachable route on the router',
    fault: async (_net, lab) => void (await lab.host.addRoute('203.0.113.0/24', { type: 'unreachable' })),
    to: WAN,
    disposition: 'NO_ROUTE',
    cause: /host: its route to 203\.0\.113\.0\/24 is an unreachable route: the route exists/,
    not: /add one|no route on/,
  },
  {
    name: 'the FORWARD policy DROP',
    fault: async (_net, lab) => void (await lab.host.policy('FORWARD', 'DROP')),
    to: WAN,
    disposition: 'FILTERED',
    cause: /host: dropped by the FORWARD policy DROP \(table filter\) — icmp echo-request/,
    not: /neighbor .* is (INCOMPLETE|FAILED)|route back|no packet reaches/,
  },
  {
    // Docker's DOCKER-USER (20.10 to 27.x) ends with `-j RETURN`: a rule appended after it is there, and never met
    name: 'an ACCEPT appended after its chain\'s RETURN: the rule no packet reaches is named',
    fault: async (_net, lab) => {
      await lab.host.policy('FORWARD', 'DROP');
      for (const rule of [['-N', 'USER'], ['-A', 'FORWARD', '-j', 'USER'], ['-A', 'USER', '-j', 'RETURN'], ['-A', 'USER', '-i', 'v-net-0', '-j', 'ACCEPT']]) await lab.host.iptables(rule);
    },
    to: WAN,
    disposition: 'FILTERED',
    cause: /host: dropped by the FORWARD policy DROP[^]*host: `-A USER -i v-net-0 -j ACCEPT` comes after `-A USER -j RETURN`, which every packet matches and which ends the chain: no packet reaches it/,
    not: /neighbor|ARP|route back|`-A FORWARD -j USER` comes after/,
  },
  {
    name: 'rp_filter on the router: its ARP answers nothing from a source it routes elsewhere',
    fault: async (net, lab) => {
      await net.red.addAddress('10.99.0.1/32', 'veth-red');
      await lab.host.sysctl('net.ipv4.conf.all.rp_filter', 1);
      return { options: { from: '10.99.0.1' } };
    },
    to: WAN,
    disposition: 'NEIGHBOR_UNREACHABLE',
    cause: /host: its reverse-path filter \(net\.ipv4\.conf\.all\.rp_filter=1, net\.ipv4\.conf\.v-net-0\.rp_filter=\d\) drops ARP requests \(and packets\) from 10\.99\.0\.1 coming in on v-net-0: its route back to 10\.99\.0\.1 leaves by uplink0/,
    not: /no route on|cannot tell|FORWARDING_DISABLED/,
  },
  {
    name: 'missing MASQUERADE: no way back from the wan',
    fault: async (_net, lab) => void (await lab.host.iptables(['-t', 'nat', '-F', 'POSTROUTING'])),
    to: WAN,
    disposition: 'NO_REPLY',
    cause: /wan \(203\.0\.113\.8\): no route back to 192\.168\.15\.1/,
    not: /cannot tell|ARP/,
  },
  ...(['icmp-host-prohibited', 'icmp-net-unreachable', 'icmp-port-unreachable', 'icmp-admin-prohibited'] as const).map(
    (type): Fault => ({
      name: `REJECT --reject-with ${type} on the router`,
      fault: async (_net, lab) => void (await lab.host.iptables(['-I', 'FORWARD', '-d', WAN, '-j', 'REJECT', '--reject-with', type])),
      to: WAN,
      disposition: 'FILTERED',
      cause: new RegExp(`host: dropped by rule \`-A FORWARD -d 203\\.0\\.113\\.8/32 -j REJECT --reject-with ${type}\``),
      not: /nothing listens|REFUSED|ARP/,
    }),
  ),
  {
    name: 'REJECT --reject-with tcp-reset on the router is FILTERED, not a closed port',
    fault: async (_net, lab) => {
      await lab.host.iptables(['-I', 'FORWARD', '-p', 'tcp', '-d', WAN, '-j', 'REJECT', '--reject-with', 'tcp-reset']);
      return { target: { address: WAN, port: 443 } };
    },
    disposition: 'FILTERED',
    cause: /host: dropped by rule `-A FORWARD -d 203\.0\.113\.8\/32 -p tcp -j REJECT --reject-with tcp-reset`/,
    not: /nothing listens|ARP/,
  },
  {
    name: 'an nft set of blocked addresses',
    fault: async (_net, lab) =>
      void (await lab.host.exec('nft', ['-f', '-'], { input: 'table inet f { set blocked { type ipv4_addr; elements = { 203.0.113.8 } }; chain forward_f { type filter hook forward priority 0; ip daddr @blocked drop; }; }' })),
    to: WAN,
    disposition: 'FILTERED',
    cause: /host: dropped by inet f forward_f rule `ip daddr @blocked drop`/,
    not: /ARP|route back|cannot tell/,
  },
  {
    name: 'an nft verdict map',
    fault: async (_net, lab) =>
      void (await lab.host.exec('nft', ['-f', '-'], { input: 'table inet f { chain forward_f { type filter hook forward priority 0; ip daddr vmap { 203.0.113.8 : drop }; }; }' })),
    to: WAN,
    disposition: 'FILTERED',
    cause: /host: dropped by inet f forward_f rule `ip daddr vmap \{ 203\.0\.113\.8 : drop \}`/,
    not: /ARP|route back|cannot tell/,
  },
  {
    name: 'a routing loop: the TTL runs out',
    fault: async (net) => {
      const wan = net.wan!;
      await wan.ns.forwarding(true);
      await wan.ns.addRoute('default', { via: wan.hostAddress });
      // a source no MASQUERADE covers, with a way back from the host: the ICMP error comes back to it
      await net.red.addAddress('10.99.0.1/32', 'veth-red');
      await net.red.lab.host.addRoute('10.99.0.1/32', { via: '192.168.15.1' });
      return { target: '203.0.113.99', options: { from: '10.99.0.1' } };
    },
    disposition: 'NO_REPLY',
    cause: /the packets' TTL ran out there \(ICMP time exceeded/,
    not: /no route back|ARP|cannot tell/,
  },
  // ── the target and the way back ──
  {
    name: 'the target ignores echo requests (icmp_echo_ignore_all)',
    fault: async (net) => void (await net.blue.sysctl('net.ipv4.icmp_echo_ignore_all', 1)),
    disposition: 'NO_REPLY',
    cause: /blue \(192\.168\.15\.2\): it ignores echo requests \(net\.ipv4\.icmp_echo_ignore_all=1\): the kernel trace shows them delivered there/,
    not: /ARP|route back|cannot tell/,
  },
  {
    name: "the target's INPUT drops the probe",
    fault: async (net) => void (await net.blue.iptables(['-A', 'INPUT', '-p', 'icmp', '-j', 'DROP'])),
    disposition: 'FILTERED',
    cause: /blue: dropped by rule `-A INPUT -p icmp -j DROP` \(table filter\)/,
    not: /ARP|route back|ignores/,
  },
  {
    name: 'rp_filter on the target: its way back to the source is another interface, so ARP fails',
    fault: async (net) => {
      await net.red.addAddress('10.99.0.1/32', 'veth-red');
      await sh(net.blue, ['ip', 'link', 'add', 'side0', 'type', 'veth', 'peer', 'name', 'side1']);
      await net.blue.up('side0');
      await net.blue.up('side1');
      await net.blue.addRoute('10.99.0.0/24', { dev: 'side0' });
      await net.blue.sysctl('net.ipv4.conf.all.rp_filter', 1);
      return { options: { from: '10.99.0.1' } };
    },
    disposition: 'NEIGHBOR_UNREACHABLE',
    cause: /blue: its reverse-path filter \(net\.ipv4\.conf\.all\.rp_filter=1, net\.ipv4\.conf\.veth-blue\.rp_filter=\d\) drops ARP requests \(and packets\) from 10\.99\.0\.1 coming in on veth-blue: its route back to 10\.99\.0\.1 leaves by side0/,
    not: /no route back|cannot tell/,
  },
  {
    name: 'replies that go back another way under policy routing',
    fault: async (net) => {
      // blue has a second way out (to green), and a rule sends everything from its address that way
      await sh(net.blue, ['ip', 'link', 'add', 'side0', 'type', 'veth', 'peer', 'name', 'side1', 'netns', 'green']);
      await net.blue.up('side0');
      await net.green.up('side1');
      await net.blue.addAddress('10.77.0.1/30', 'side0');
      await net.blue.addRoute('default', { via: '10.77.0.2', table: 100 });
      await net.blue.addRule({ from: BLUE, table: 100, priority: 100 });
    },
    disposition: 'NO_REPLY',
    cause: /blue \(192\.168\.15\.2\): its replies to 192\.168\.15\.\d+ leave by side0 \(via 10\.77\.0\.2 dev side0 .*table 100\), not by veth-blue, where the requests came in/,
    not: /no route back|ARP|cannot tell/,
  },
  {
    name: 'behind a DNAT, the way back is looked up from the replying host\'s real address (policy routing sends it another way)',
    fault: async (net, lab) => {
      await lab.host.iptables(['-t', 'nat', '-A', 'PREROUTING', '-d', '198.51.100.2', '-p', 'tcp', '--dport', '8080', '-j', 'DNAT', '--to-destination', `${BLUE}:80`]);
      await sh(net.blue, ['ip', 'link', 'add', 'side0', 'type', 'veth', 'peer', 'name', 'side1', 'netns', 'green']);
      await net.blue.up('side0');
      await net.green.up('side1');
      await net.blue.addAddress('10.77.0.1/30', 'side0');
      await net.blue.addRoute('default', { via: '10.77.0.2', table: 100 });
      await net.blue.addRule({ from: BLUE, table: 100, priority: 100 });
      return { from: net.wan!.ns, target: { address: '198.51.100.2', port: 8080 } };
    },
    disposition: 'NO_REPLY',
    cause: /blue \(192\.168\.15\.2\): its replies to 198\.51\.100\.1 leave by side0 \(via 10\.77\.0\.2 dev side0 .*table 100\), not by veth-blue/,
    not: /no route back|ARP|cannot tell|host \(198\.51\.100\.2\)/,
  },
  {
    name: 'a prohibit policy rule on the router',
    to: WAN,
    fault: async (_net, lab) => void (await lab.host.addRule({ from: '192.168.15.0/24', action: 'prohibit', priority: 50 })),
    disposition: 'NO_ROUTE',
    cause: /host: no route on to 203\.0\.113\.8 for packets from 192\.168\.15\.1 coming in on v-net-0 \("[^"]+"\); its policy rules of a reject type: 50: from 192\.168\.15\.0\/24 prohibit/,
    not: /ARP|route back|cannot tell/,
  },
  {
    name: 'a conntrack state rule drops new flows on the router',
    to: WAN,
    fault: async (_net, lab) => void (await lab.host.iptables(['-I', 'FORWARD', '-m', 'conntrack', '--ctstate', 'NEW', '-j', 'DROP'])),
    disposition: 'FILTERED',
    cause: /host: dropped by rule `-A FORWARD -m conntrack --ctstate NEW -j DROP` \(table filter\)/,
    not: /ARP|route back|cannot tell/,
  },
  {
    name: 'the router drops the replies only: not blamed on the way back',
    to: WAN,
    fault: async (_net, lab) => void (await lab.host.iptables(['-I', 'FORWARD', '-d', '192.168.15.0/24', '-j', 'DROP'])),
    disposition: 'FILTERED',
    cause: /host: dropped by rule `-A FORWARD -d 192\.168\.15\.0\/24 -j DROP` \(table filter\) — icmp echo-reply/,
    not: /no route back|ARP|cannot tell/,
  },
  {
    name: "the source's own INPUT drops the replies",
    to: WAN,
    fault: async (net) => void (await net.red.iptables(['-A', 'INPUT', '-p', 'icmp', '--icmp-type', 'echo-reply', '-j', 'DROP'])),
    disposition: 'FILTERED',
    cause: /red: dropped by rule `-A INPUT -p icmp -m icmp --icmp-type 0 -j DROP` \(table filter\)/,
    not: /no route back|ARP|cannot tell/,
  },
  {
    name: 'a blackhole route on the way back',
    to: WAN,
    fault: async (net) => void (await net.wan!.ns.addRoute(`${net.wan!.hostAddress}/32`, { type: 'blackhole' })),
    disposition: 'NO_REPLY',
    cause: /wan \(203\.0\.113\.8\): no route back to 198\.51\.100\.2 \(a blackhole route/,
    not: /ARP|cannot tell|its route back/,
  },
  {
    name: 'TCP reset by the target\'s INPUT is FILTERED, not a closed port',
    fault: async (net) => {
      await net.blue.iptables(['-A', 'INPUT', '-p', 'tcp', '--dport', '80', '-j', 'REJECT', '--reject-with', 'tcp-reset']);
      return { target: { address: BLUE, port: 80 } };
    },
    disposition: 'FILTERED',
    cause: /blue: dropped by rule `-A INPUT -p tcp -m tcp --dport 80 -j REJECT --reject-with tcp-reset` \(table filter\)/,
    not: /nothing listens|ARP/,
  },
  // ── no check for it: netspec says it cannot tell, with the evidence ──
  {
    name: 'a fault no check reads (the target\'s link does no ARP): "cannot tell why" + the evidence',
    fault: async (net) => void (await sh(net.blue, ['ip', 'link', 'set', 'dev', 'veth-blue', 'arp', 'off'])),
    disposition: 'NEIGHBOR_UNREACHABLE',
    cause: /red: neighbor 192\.168\.15\.2 on veth-red is (INCOMPLETE|FAILED|absent): netspec cannot tell why: blue has 192\.168\.15\.2 on veth-blue, its links and bridge ports are up and forwarding, and no ARP\/ND setting netspec reads silences it; the kernel trace saw the probe nowhere beyond red/,
    not: /ARP\/ND replies do not come back|not cabled|isolated|arp_ignore|reverse-path|route back/,
  },
];

describe('the diagnosis benchmark: classic faults', () => {
  test.concurrent.for(FAULTS.map((f) => [f.name, f] as const))('%s', async ([, f], { lab }) => {
    const net = (await bridgeNetwork(lab, { names: ['red', 'blue', 'green'], nat: true })) as Net;
    const probe = (await f.fault(net, lab)) ?? {};
    try {
      const from = probe.from ?? net.red;
      const msg = await failureOf(expect(from).toReach((probe.target ?? f.to ?? BLUE) as string, { timeout: 600, ...(probe.options ?? {}) }));
      expect(msg).toMatch(new RegExp(`\\(${f.disposition}\\)`));
      expect(msg).toMatch(f.cause);
      expect(msg).not.toMatch(f.not);
    } finally {
      await probe.cleanup?.();
    }
  });
});
