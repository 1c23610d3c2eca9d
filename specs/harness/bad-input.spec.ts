// Issue 2 acceptance: bad input is a typed error naming the input and the fix, and leaves nothing half-built.
import { test, expect, describe } from '../../src/vitest.js';
import { ConflictError, DuplicateNameError, InvalidInputError, NotFoundError, LabGoneError } from '../../src/index.js';
import type { Lab } from '../../src/index.js';

async function hostLinks(lab: Lab): Promise<string[]> {
  return (await lab.host.links()).map((l) => l.ifname).sort();
}

// interface names (too long, '/', ' ', ';', '$', a leading '-', empty) are refused with the rule they break, nothing
// half-built and the lab still usable: specs/reliability/bad-input-table.spec.ts, the bridge.attach(ifname …) rows

test('an IPv6 address on a link with an MTU below 1280 is an InvalidInputError naming the MTU, and nothing is built', async ({ lab }) => {
  const red = await lab.netns('red');
  const links = await hostLinks(lab);
  const cases: [string, () => Promise<unknown>][] = [
    ['first veth end mtu', () => lab.veth({ ns: lab.host, name: 'v0', mtu: 1279, address: 'fd00::1/64' }, { ns: red, name: 'v1' })],
    ['bridge mtu', () => lab.bridge('br6', { mtu: 1000, address: 'fd00:1::1/64' })],
    ['macvlan mtu', () => lab.macvlan({ ns: lab.host, name: 'mv0', parent: 'v0', mtu: 1000, address: 'fd00:2::1/64' })],
  ];
  for (const [input, build] of cases) {
    const error = await build().catch((e: unknown) => e);
    expect(error, input).toBeInstanceOf(InvalidInputError);
    expect((error as InvalidInputError).input).toBe(input);
    expect((error as Error).message).toMatch(/needs an MTU of at least 1280/);
  }
  expect(await hostLinks(lab)).toEqual(links);
  expect((await red.links()).map((l) => l.ifname)).toEqual(['lo']);
  // IPv4 on the same MTU, and IPv6 at 1280, are fine
  await lab.veth({ ns: lab.host, name: 'v0', mtu: 1000, address: '10.0.0.1/24' }, { ns: red, name: 'v1', mtu: 1280, address: 'fd00::2/64' });
  await expect(red).toHaveLink('v1', { state: 'UP' });
});

test('a gateway that is its subnet\'s broadcast address: the error says so, not only "no link in the subnet"', async ({ lab }) => {
  const red = await lab.netns('red');
  const bridge = await lab.bridge('br0', { address: '10.0.0.1/24' });
  await bridge.attach(red, { address: '10.0.0.2/24' });
  const error = await red.addRoute('10.1.0.0/16', { via: '10.0.0.255' }).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(InvalidInputError);
  expect((error as Error).message).toMatch(/invalid gateway \(via\) "10.0.0.255": .*or the gateway is a broadcast address there/);
  await expect(red).not.toHaveRouteEntry({ destination: '10.1.0.0/16' });
});

test('a malformed CIDR names the input and the fix', async ({ lab }) => {
  const red = await lab.netns('red');
  for (const [cidr, why] of [
    ['192.168.15.1', /add a prefix length/],
    ['192.168.15.300/24', /not a valid IPv4 or IPv6 address/],
    ['192.168.15.1/33', /prefix length must be a whole number from 0 to 32/],
    ['fd00::1/129', /from 0 to 128/],
    ['192.168.15.1/2x', /prefix length/],
  ] as const) {
    const error = await red.addAddress(cidr, 'lo').catch((e: unknown) => e);
    expect(error, cidr).toBeInstanceOf(InvalidInputError);
    expect((error as Error).message).toContain(JSON.stringify(cidr));
    expect((error as Error).message).toMatch(why);
  }
  await expect(lab.host.masquerade('192.168.15.1/24')).rejects.toThrow(/host bits are set; the network is 192\.168\.15\.0\/24/);
  await expect(red).not.toHaveAddress('192.168.15.1');
});

test('a duplicate namespace is a DuplicateNameError, and the first one is untouched', async ({ lab }) => {
  const red = await lab.netns('red');
  await red.addAddress('10.1.1.1/24', 'lo');
  const error = await lab.netns('red').catch((e: unknown) => e);
  expect(error).toBeInstanceOf(DuplicateNameError);
  expect((error as Error).message).toMatch(/already has a namespace called "red"/);
  // also when a script made it
  await lab.sh`ip netns add blue`;
  await expect(lab.netns('blue')).rejects.toBeInstanceOf(DuplicateNameError);
  expect(lab.namespaces()).toEqual(['blue', 'red']);
  await expect(red).toHaveAddress('10.1.1.1/24');
});

test('names iproute2 reads as keywords work, through the explicit name/dev forms', async ({ lab }) => {
  const [a, dev] = await Promise.all([lab.netns('a'), lab.netns('dev')]);
  const help = await lab.netns('help');
  await lab.veth({ ns: a, name: 'a', address: '10.9.0.1/24' }, { ns: dev, name: 'dev', address: '10.9.0.2/24' });
  const br = await lab.bridge('help');
  await br.attach(help, { ifname: 'list', peer: 'add', address: '10.8.0.1/24' });
  await expect(a).toReach('10.9.0.2');
  await expect(lab.host).toHaveLink('add', { master: 'help' });
  await expect(help).toHaveLink('list', { state: 'UP' });
});

test('unknown namespaces, foreign and disposed handles are errors, not silent failures', async ({ lab }) => {
  expect(() => lab.get('nope')).toThrow(NotFoundError);
  expect(() => lab.get('nope')).toThrow(/create it first/);
  const { createLab } = await import('../../src/index.js');
  const other = await createLab();
  const foreign = await other.netns('red');
  const br = await lab.bridge('br0');
  await expect(br.attach(foreign)).rejects.toThrow(/belongs to lab \d+/);
  await other.dispose();
  await expect(foreign.exec('true')).rejects.toBeInstanceOf(LabGoneError);
  await expect(expect(foreign).toReach('10.0.0.1')).rejects.toThrow(/disposed/);
  await expect(expect(foreign).not.toReach('10.0.0.1')).rejects.toThrow(/disposed/);
});

test('an interface a script made is a DuplicateNameError that names both ends, and nothing is left half-built', async ({ lab }) => {
  const blue = await lab.netns('blue');
  await lab.sh`ip -n blue link add name eth7 type veth peer name eth8`;
  const bridge = await lab.bridge('br0');
  const error = await bridge.attach(blue, { ifname: 'eth7', peer: 'eth7-brdg' }).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(DuplicateNameError);
  expect((error as Error).message).toMatch(/invalid interface names "eth7-brdg \/ eth7": one of them already exists \(RTNETLINK answers: File exists\): eth7-brdg in lab \d+ host or eth7 in namespace blue/);
  expect(await hostLinks(lab)).toEqual(['br0', 'lo']);
  await bridge.attach(blue, { ifname: 'eth9' });
  await expect(blue).toHaveLink('eth9', { state: 'UP' });
});

test('a name taken is a DuplicateNameError wherever it is claimed, and a failed build removes only what it made', async ({ lab }) => {
  const [red, blue] = await Promise.all([lab.netns('red'), lab.netns('blue')]);
  const bridge = await lab.bridge('br0');
  await bridge.attach(red, { peer: 'port-a' });
  // a bridge-side name the lab handed out already: refused before anything runs, named as the input it came from
  const error = await bridge.attach(blue, { peer: 'port-a' }).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(DuplicateNameError);
  expect((error as DuplicateNameError).input).toBe('bridge-side name');
  expect((error as Error).message).toMatch(/invalid bridge-side name "port-a": the host of lab \d+ already has an interface called "port-a"; choose another name/);
  expect((await blue.links()).map((l) => l.ifname)).toEqual(['lo']);
  // a bridge named like a link a script made: the kernel refuses it, and the script's link is not "undone"
  await lab.sh`ip link add name br9 type veth peer name br9-peer`;
  await expect(lab.bridge('br9')).rejects.toBeInstanceOf(DuplicateNameError);
  await expect(lab.host).toHaveLink('br9');
  expect(() => lab.getBridge('br9')).toThrow(NotFoundError);
  // …nor is a veth end a script made
  await lab.sh`ip -n red link add name taken type veth peer name taken-peer`;
  await expect(lab.veth({ ns: red, name: 'taken' }, { ns: blue, name: 'other' })).rejects.toBeInstanceOf(DuplicateNameError);
  await expect(red).toHaveLink('taken');
  expect((await blue.links()).map((l) => l.ifname)).toEqual(['lo']);
});

test('a route or an address that is there already is a ConflictError, not a DuplicateNameError', async ({ lab }) => {
  const red = await lab.netns('red');
  await red.addAddress('10.2.0.1/24', 'lo');
  await red.addRoute('10.3.0.0/16', { dev: 'lo' });
  const route = await red.addRoute('10.3.0.0/16', { dev: 'lo' }).catch((e: unknown) => e);
  expect(route).toBeInstanceOf(ConflictError);
  expect(route).not.toBeInstanceOf(DuplicateNameError);
  expect((route as Error).message).toMatch(/invalid route "10\.3\.0\.0\/16": lab \d+ namespace red already has a route to 10\.3\.0\.0\/16/);
  const address = await red.addAddress('10.2.0.1/24', 'lo').catch((e: unknown) => e);
  expect(address).toBeInstanceOf(ConflictError);
  expect(address).not.toBeInstanceOf(DuplicateNameError);
  expect((address as Error).message).toMatch(/invalid address "10\.2\.0\.1\/24": it is already on lo/);
});
