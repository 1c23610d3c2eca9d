/**
 * Bad topology descriptions, each refused by buildTopology before anything is built. Shared by
 * specs/reliability/topology-validation.spec.ts and the child it runs under --unhandled-rejections=strict.
 * The lab they run in has a namespace `old` (made by lab.netns) and a host link `taken0` (made by a script).
 */
import type { Lab } from '../../src/index.js';

export interface TopologyCase {
  name: string;
  spec: unknown;
  error: 'InvalidInputError' | 'DuplicateNameError' | 'ConflictError';
  message: RegExp;
}

/** A good topology around which the bad parts are put: any half-built state would show. */
const good = {
  namespaces: ['red', 'blue'],
  bridges: { 'v-net-0': { address: '192.168.15.3/24', attach: { red: '192.168.15.1/24', blue: '192.168.15.2/24' } } },
  forwarding: true,
  masquerade: ['192.168.15.0/24'],
};

export const topologyCases: TopologyCase[] = [
  // types
  { name: 'namespaces: "abc"', spec: { namespaces: 'abc' }, error: 'InvalidInputError', message: /invalid topology namespaces "abc": expected an array/ },
  { name: 'a {} namespace entry', spec: { ...good, namespaces: ['red', 'blue', {}] }, error: 'InvalidInputError', message: /invalid topology namespace \{\}: expected a non-empty string/ },
  { name: 'a null namespace entry', spec: { ...good, namespaces: ['red', null, 'blue'] }, error: 'InvalidInputError', message: /invalid topology namespace null/ },
  { name: 'null topology', spec: null, error: 'InvalidInputError', message: /invalid topology null: expected an object/ },
  { name: 'a null bridge', spec: { ...good, bridges: { ...good.bridges, br1: null } }, error: 'InvalidInputError', message: /invalid bridge br1 null: expected an object/ },
  { name: 'a null attachment', spec: { ...good, bridges: { 'v-net-0': { attach: { red: null } } } }, error: 'InvalidInputError', message: /invalid attachment of red to v-net-0 null/ },
  { name: 'a null veth', spec: { ...good, veths: [null] }, error: 'InvalidInputError', message: /invalid veth 1 null: expected an object/ },
  { name: 'a veth end without ns', spec: { ...good, veths: [{ a: { name: 'x0' }, b: { ns: 'blue', name: 'x1' } }] }, error: 'InvalidInputError', message: /invalid namespace of end a of veth 1 undefined/ },
  { name: 'routes as an array', spec: { ...good, routes: [] }, error: 'InvalidInputError', message: /invalid topology routes \[\]: expected an object/ },
  { name: 'a null route', spec: { ...good, routes: { red: [null] } }, error: 'InvalidInputError', message: /invalid route 1 of red null/ },
  { name: 'bridges as a Map (its entries would be ignored)', spec: { ...good, bridges: new Map([['br1', { address: '10.0.0.1/24' }]]) }, error: 'InvalidInputError', message: /invalid topology bridges .*expected an object such as/ },
  { name: 'routes as a Map', spec: { ...good, routes: new Map([['red', [{ destination: 'default', via: '192.168.15.3' }]]]) }, error: 'InvalidInputError', message: /invalid topology routes .*expected an object such as/ },
  { name: 'forwarding: "yes"', spec: { ...good, forwarding: 'yes' }, error: 'InvalidInputError', message: /invalid topology forwarding "yes": expected true or false/ },
  { name: 'masquerade: "10.0.0.0/8"', spec: { ...good, masquerade: '10.0.0.0/8' }, error: 'InvalidInputError', message: /invalid topology masquerade "10.0.0.0\/8": expected an array/ },
  { name: 'wan: "yes"', spec: { ...good, wan: 'yes' }, error: 'InvalidInputError', message: /invalid topology wan "yes"/ },
  { name: 'an unknown key in a bridge', spec: { ...good, bridges: { br1: { adress: '10.0.0.1/24' } } }, error: 'InvalidInputError', message: /invalid key of bridge br1 "adress": unknown; expected address, in, attach/ },
  // names, NUL bytes included
  { name: 'a NUL byte in a namespace', spec: { ...good, namespaces: ['red', 'blue', 'gr\0een'] }, error: 'InvalidInputError', message: /invalid topology namespace "gr\\u0000een": it contains "\\u0000"/ },
  { name: 'a NUL byte in a bridge name', spec: { ...good, bridges: { ...good.bridges, 'br\0': {} } }, error: 'InvalidInputError', message: /invalid bridge name "br\\u0000"/ },
  { name: 'a NUL byte in an address', spec: { ...good, bridges: { br1: { address: '10.0.0.1\0/24' } } }, error: 'InvalidInputError', message: /invalid address of bridge br1 "10.0.0.1\\u0000\/24"/ },
  { name: 'a NUL byte in a route device', spec: { ...good, routes: { red: [{ destination: '10.0.0.0/8', dev: 'veth\0' }] } }, error: 'InvalidInputError', message: /invalid device of route 1 of red "veth\\u0000"/ },
  { name: 'a NUL byte in a masquerade prefix', spec: { ...good, masquerade: ['10.0.0.0/8\0'] }, error: 'InvalidInputError', message: /invalid masquerade prefix/ },
  // the wan
  { name: 'wan: { name: "$(reboot)" }', spec: { ...good, wan: { name: '$(reboot)' } }, error: 'InvalidInputError', message: /invalid wan name of the topology wan "\$\(reboot\)": it contains "\$"/ },
  { name: 'a wan uplink outside the documentation ranges', spec: { ...good, wan: { uplink: '10.0.0.0/24' } }, error: 'InvalidInputError', message: /documentation ranges only/ },
  { name: 'a wan uplink that is not a prefix', spec: { ...good, wan: { uplink: 'uplink0' } }, error: 'InvalidInputError', message: /invalid uplink prefix of the topology wan "uplink0"/ },
  { name: 'a wan with an unknown option', spec: { ...good, wan: { defaultroute: false } }, error: 'InvalidInputError', message: /unknown; lab.wan\(\) takes/ },
  { name: 'a wan named like a namespace', spec: { ...good, wan: { name: 'red' } }, error: 'DuplicateNameError', message: /invalid wan name "red": the topology has a namespace of that name/ },
  { name: 'a wan uplink named like the script\'s link', spec: { ...good, wan: { hostIfname: 'taken0' } }, error: 'DuplicateNameError', message: /invalid uplink interface name "taken0"/ },
  // references
  { name: 'a route via an address on no link', spec: { ...good, routes: { red: [{ destination: 'default', via: '10.9.9.9' }] } }, error: 'InvalidInputError', message: /invalid gateway \(via\) of route 1 of red "10.9.9.9": no interface of red in the topology has an address in the gateway's subnet/ },
  { name: 'a route via a gateway off the named dev', spec: { ...good, routes: { red: [{ destination: 'default', via: '192.168.15.3', dev: 'lo' }] } }, error: 'InvalidInputError', message: /no interface of red called lo in the topology has an address in the gateway's subnet/ },
  { name: 'a route on a device that is not there', spec: { ...good, routes: { red: [{ destination: '10.0.0.0/8', dev: 'eth9' }] } }, error: 'InvalidInputError', message: /invalid device of route 1 of red "eth9": red has no interface of that name in the topology \(it has lo, veth-red\)/ },
  { name: 'a route in a namespace not in the topology', spec: { ...good, routes: { green: [{ destination: 'default', via: '192.168.15.3' }] } }, error: 'InvalidInputError', message: /invalid namespace of a route "green": no such namespace in the topology/ },
  { name: 'a gateway that is its subnet\'s broadcast address', spec: { ...good, routes: { red: [{ destination: '10.0.0.0/8', via: '192.168.15.255' }] } }, error: 'InvalidInputError', message: /invalid gateway \(via\) of route 1 of red "192.168.15.255": it is the broadcast address of 192.168.15.0\/24/ },
  { name: 'an IPv6 address on a veth end with an MTU below 1280', spec: { ...good, veths: [{ a: { ns: 'red', name: 'x0', mtu: 1000, address: 'fd00::1/64' }, b: { ns: 'blue', name: 'x1' } }] }, error: 'InvalidInputError', message: /invalid end a of veth 1 mtu 1000: the link's IPv6 address fd00::1\/64 needs an MTU of at least 1280/ },
  { name: 'a route without via or dev', spec: { ...good, routes: { red: [{ destination: '10.0.0.0/8' }] } }, error: 'InvalidInputError', message: /give a gateway \(`via`\), a device \(`dev`\), or both/ },
  { name: 'an IPv6 gateway for an IPv4 route', spec: { ...good, routes: { red: [{ destination: '10.0.0.0/8', via: 'fd00::1' }] } }, error: 'InvalidInputError', message: /it is IPv6 but the destination 10.0.0.0\/8 is IPv4/ },
  { name: 'a veth to a namespace not in the topology', spec: { ...good, veths: [{ a: { ns: 'red', name: 'x0' }, b: { ns: 'green', name: 'x1' } }] }, error: 'InvalidInputError', message: /invalid namespace of end b of veth 1 "green": no such namespace in the topology/ },
  { name: 'attaching the host', spec: { ...good, bridges: { br1: { attach: { host: '10.0.0.1/24' } } } }, error: 'InvalidInputError', message: /invalid namespace attached to br1 "host": no such namespace/ },
  {
    name: '1,024 namespaces on one bridge',
    spec: { namespaces: Array.from({ length: 1024 }, (_, i) => `n${i}`), bridges: { br0: { attach: Object.fromEntries(Array.from({ length: 1024 }, (_, i) => [`n${i}`, `10.${i >> 8}.${i & 255}.1/8`])) } } },
    error: 'InvalidInputError',
    message: /invalid attach of bridge br0 "1024 namespaces": Linux allows at most 1023 ports per bridge/,
  },
  // duplicates
  { name: 'a namespace listed twice', spec: { ...good, namespaces: ['red', 'blue', 'red'] }, error: 'DuplicateNameError', message: /invalid topology namespace "red": it is listed twice/ },
  { name: 'a namespace the lab has already', spec: { ...good, namespaces: ['red', 'blue', 'old'] }, error: 'DuplicateNameError', message: /the lab already has a namespace called "old"/ },
  { name: 'a bridge named like a veth end in the host', spec: { ...good, veths: [{ a: { ns: 'host', name: 'v-net-0' }, b: { ns: 'red', name: 'x1' } }] }, error: 'DuplicateNameError', message: /invalid name of end a of veth 1 "v-net-0": the lab host would have two interfaces/ },
  { name: 'a bridge named like the script\'s link', spec: { ...good, bridges: { ...good.bridges, taken0: {} } }, error: 'DuplicateNameError', message: /invalid bridge name "taken0": the lab host would have two interfaces/ },
  { name: 'one namespace on two bridges with the default name', spec: { ...good, bridges: { ...good.bridges, br1: { attach: { red: '10.0.0.1/24' } } } }, error: 'DuplicateNameError', message: /invalid interface of red on br1 "veth-red": namespace red would have two interfaces/ },
  { name: 'a veth end named like an attachment', spec: { ...good, veths: [{ a: { ns: 'red', name: 'veth-red' }, b: { ns: 'blue', name: 'x1' } }] }, error: 'DuplicateNameError', message: /namespace red would have two interfaces called "veth-red"/ },
  { name: 'a bridge-side name taken by the script', spec: { ...good, bridges: { 'v-net-0': { attach: { red: { peer: 'taken0' } } } } }, error: 'DuplicateNameError', message: /invalid bridge-side interface of red on v-net-0 "taken0"/ },
  { name: 'a route listed twice', spec: { ...good, routes: { red: [{ destination: '10.0.0.0/8', via: '192.168.15.3' }, { destination: '10.0.0.0/8', via: '192.168.15.2' }] } }, error: 'ConflictError', message: /red has a route to 10.0.0.0\/8 already/ },
  { name: 'a route to a connected prefix', spec: { ...good, routes: { red: [{ destination: '192.168.15.0/24', dev: 'veth-red' }] } }, error: 'ConflictError', message: /red has a route to 192.168.15.0\/24 already/ },
  { name: 'routes to 0.0.0.0/0 and to default', spec: { ...good, routes: { red: [{ destination: '0.0.0.0/0', via: '192.168.15.3' }, { destination: 'default', via: '192.168.15.3' }] } }, error: 'ConflictError', message: /red has a route to default already \(route 1 goes there too; 0.0.0.0\/0 and default are one destination\)/ },
  { name: 'a bridge in the wan\'s uplink prefix', spec: { ...good, bridges: { ...good.bridges, br1: { address: '198.51.100.1/24' } }, wan: true }, error: 'ConflictError', message: /invalid address of br1 "198.51.100.1\/24": it overlaps the wan's uplink 198.51.100.0\/24/ },
  { name: 'a namespace with an address the wan answers for', spec: { ...good, veths: [{ a: { ns: 'red', name: 'x0', address: '203.0.113.8/24' }, b: { ns: 'blue', name: 'x1' } }], wan: true }, error: 'ConflictError', message: /invalid address of x0 in red "203.0.113.8\/24": 203.0.113.8 is the wan's/ },
  { name: 'a host default route beside the wan\'s', spec: { ...good, wan: true, routes: { host: [{ destination: 'default', via: '192.168.15.1' }] } }, error: 'ConflictError', message: /the wan gives the lab host its default route/ },
];

/** The lab's state that a refused topology must leave as it was: its namespaces and the host's links. */
export async function labState(lab: Lab): Promise<{ namespaces: string[]; links: string }> {
  const links = JSON.parse((await lab.host.exec('ip', ['-j', 'link'])).stdout) as { ifname: string; operstate: string; master?: string }[];
  return { namespaces: lab.namespaces(), links: JSON.stringify(links.map((l) => [l.ifname, l.operstate, l.master])) };
}

/** The state the cases expect: a namespace `old`, a host link `taken0` made by a script. */
export async function prepareLab(lab: Lab): Promise<void> {
  await lab.netns('old');
  await lab.sh`ip link add name taken0 type veth peer name taken1`;
}
