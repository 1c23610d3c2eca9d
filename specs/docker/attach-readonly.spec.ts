// Attach mode is read-only by construction. The namespaces attached here are a lab's (by path, with the lab's host as
// the attachment's host), so whatever a failing check might change is the lab's, and dies with it; every packet sent
// stays inside the lab. The machine's own namespace is attached only to read it (and only when asked for explicitly).
import { describe, expect, test, vi } from '../../src/vitest.js';
import { existingNamespaces, createLab, InvalidInputError, reachability, type ExistingNamespaces, type Lab } from '../../src/index.js';

vi.setConfig({ testTimeout: 60_000 });

/** red 10.0.0.2 and blue 10.0.0.3 on the lab host's bridge br0 (10.0.0.1); blue also has 10.99.0.3 and 10.98.0.3 on lo. */
async function build(lab: Lab): Promise<void> {
  const [red, blue] = await Promise.all([lab.netns('red'), lab.netns('blue')]);
  const br = await lab.bridge('br0', { address: '10.0.0.1/24' });
  await Promise.all([br.attach(red, { address: '10.0.0.2/24' }), br.attach(blue, { address: '10.0.0.3/24' })]);
  await Promise.all([blue.addAddress('10.99.0.3/32', 'lo'), blue.addAddress('10.98.0.3/32', 'lo'), blue.up('lo')]);
  // to 10.99.0.3 through a gateway nobody attached has (on the lab's own bridge: a packet would go nowhere else);
  // to 10.98.0.3 through blue itself
  await red.addRoute('10.99.0.3/32', { via: '10.0.0.254' });
  await red.addRoute('10.98.0.3/32', { via: '10.0.0.3' });
}

const attachLab = (lab: Lab, options: Parameters<typeof existingNamespaces>[1] = {}) =>
  existingNamespaces(
    { red: { path: `/proc/${lab.pid}/root/run/netns/red` }, blue: { path: `/proc/${lab.pid}/root/run/netns/blue` } },
    { host: { pid: lab.pid }, ...options },
  );

/** What an attached namespace looks like from the lab's side (not through the attachment). */
async function labState(lab: Lab, name: string) {
  const ns = lab.get(name);
  return {
    rules: (await ns.exec('iptables-save')).stdout.replace(/^#.*$/gm, '').replace(/\[\d+:\d+\]/g, ''),
    nft: (await ns.exec('nft', ['list', 'ruleset'])).stdout,
    forwarding: (await ns.exec('sysctl', ['-n', 'net.ipv4.ip_forward'])).stdout,
    links: (await ns.links()).map((l) => `${l.ifname} ${l.flags.join(',')}`),
    addrs: (await ns.addresses()).flatMap((l) => l.addr_info.filter((a) => a.scope === 'global').map((a) => `${l.ifname} ${a.local}`)),
    routes: await ns.routes(),
  };
}

async function refusal(p: Promise<unknown>): Promise<string> {
  const e = await p.then(() => undefined, (error: unknown) => error);
  expect(e, 'expected a refusal').toBeInstanceOf(InvalidInputError);
  return (e as Error).message;
}

describe('only reading commands and netspec\'s probes run in an attached namespace', () => {
  test('exec, iptables and every configuration call that would change it are refused; nothing changed', async ({ lab }) => {
    await build(lab);
    const world = await attachLab(lab);
    const red = world.get('red');
    const before = await labState(lab, 'red');
    const attempts: [string, () => Promise<unknown>][] = [
      ['iptables -A', () => red.iptables(['-A', 'INPUT', '-j', 'ACCEPT'])],
      ['iptables -P', () => red.iptables(['-P', 'FORWARD', 'DROP'])],
      ['iptables -L -Z (zeroes counters)', () => red.iptables(['-L', '-Z'])],
      ['ip6tables -A', () => red.iptables(['-A', 'INPUT', '-j', 'DROP'], { ipv6: true })],
      ['sysctl -w', () => red.exec('sysctl', ['-w', 'net.ipv4.ip_forward=1'])],
      ['sysctl KEY=VALUE', () => red.exec('sysctl', ['net.ipv4.ip_forward=1'])],
      ['sysctl -p', () => red.exec('sysctl', ['-p'])],
      ['ip link set', () => red.exec('ip', ['link', 'set', 'dev', 'lo', 'down'])],
      ['ip addr add', () => red.exec('ip', ['addr', 'add', '10.60.0.1/24', 'dev', 'lo'])],
      ['ip route flush', () => red.exec('ip', ['route', 'flush', 'all'])],
      ['ip -batch - with a change', () => red.exec('ip', ['-batch', '-'], { input: 'link show\nlink set dev lo down\n' })],
      ['ip -n other namespace', () => red.exec('ip', ['-n', 'blue', 'link', 'show'])],
      ['ip -all netns exec', () => red.exec('ip', ['-all', 'netns', 'exec', 'true'])],
      ['nft flush', () => red.exec('nft', ['flush', 'ruleset'])],
      ['nft -f', () => red.exec('nft', ['-f', '/dev/null'])],
      ['nft list; flush', () => red.exec('nft', ['list', 'ruleset;', 'flush', 'ruleset'])],
      ['ss -K', () => red.exec('ss', ['-K', 'dst', '10.0.0.3'])],
      ['a shell', () => red.exec('sh', ['-c', 'ip link set dev lo down'])],
      ['an unknown tool', () => red.exec('ethtool', ['-s', 'veth-red', 'speed', '10'])],
      ['timeout around a change', () => red.exec('timeout', ['5', 'ip', 'link', 'set', 'dev', 'lo', 'down'])],
      ['ping by name (DNS)', () => red.exec('ping', ['-c', '1', 'example.test'])],
      ['ping -f', () => red.exec('ping', ['-f', '-c', '1', '10.0.0.3'])],
      ['socat as a server', () => red.exec('socat', ['TCP-LISTEN:80', '-'])],
      ['addAddress', () => red.addAddress('10.60.0.1/24', 'lo')],
      ['sysctl()', () => red.sysctl('net.ipv4.ip_forward', 1)],
      ['policy', () => red.policy('FORWARD', 'DROP')],
      ['masquerade', () => red.masquerade('10.0.0.0/24')],
      ['up', () => red.up('lo')],
      ['addRoute', () => red.addRoute('10.61.0.0/24', { via: '10.0.0.1' })],
      ['forwarding', () => red.forwarding(true)],
    ];
    for (const [label, attempt] of attempts) {
      const message = await refusal(attempt());
      expect(message, label).toMatch(/attach mode is read-only/);
      expect(message, label).toMatch(/allowChanges: true/);
    }
    expect(await labState(lab, 'red')).toEqual(before);
  });

  test('reading commands run: ip show/list/get (and -batch of them), iptables-save, iptables -S/-L, nft list, sysctl -n, ss', async ({ lab }) => {
    await build(lab);
    const world = await attachLab(lab);
    const red = world.get('red');
    expect(await red.routes()).toEqual(await lab.get('red').routes());
    expect((await red.routeGet('10.0.0.3'))?.dev).toBe('veth-red');
    expect((await red.exec('ip', ['-batch', '-'], { input: 'link show\naddr show\n' })).exitCode).toBe(0);
    expect((await red.exec('iptables-save', ['-c'])).exitCode).toBe(0);
    expect((await red.iptables(['-S', 'FORWARD'])).stdout).toMatch(/^-P FORWARD ACCEPT$/m);
    expect((await red.iptables(['-t', 'nat', '-nvL'])).exitCode).toBe(0);
    expect((await red.exec('nft', ['-j', 'list', 'ruleset'])).exitCode).toBe(0);
    expect((await red.exec('sysctl', ['-n', 'net.ipv4.ip_forward'])).stdout.trim()).toBe('0');
    expect((await red.exec('ss', ['-H', '-ltn'])).exitCode).toBe(0);
    await expect(red).toReach('10.0.0.3');
    await expect(red).toHaveArpEntry('10.0.0.3');
    await expect(world.host).toReach('10.0.0.2');
  });

  test('{ allowChanges: true } lets them through (the refusal above is the option, not a broken command)', async ({ lab }) => {
    await build(lab);
    const world = await attachLab(lab, { allowChanges: true });
    const red = world.get('red');
    await red.iptables(['-A', 'INPUT', '-s', '10.0.0.3', '-j', 'ACCEPT']);
    await red.sysctl('net.ipv4.ip_forward', 1);
    expect((await lab.get('red').exec('iptables', ['-S', 'INPUT'])).stdout).toMatch(/^-A INPUT -s 10\.0\.0\.3\/32 -j ACCEPT$/m);
    expect((await lab.get('red').exec('sysctl', ['-n', 'net.ipv4.ip_forward'])).stdout.trim()).toBe('1');
  });
});

describe('a probe goes only where the route stays inside the attached namespaces', () => {
  test('an address of an attached namespace, routed through a gateway none of them has: refused before any packet', async ({ lab }) => {
    await build(lab);
    const world = await attachLab(lab);
    const red = world.get('red');
    // 10.99.0.3 is blue's, so an owner-only check would let it through; red's route to it goes via 10.0.0.254
    for (const attempt of [() => expect(red).toReach('10.99.0.3'), () => expect(red).not.toReach('10.99.0.3'), () => red.exec('ping', ['-c', '1', '-W', '1', '10.99.0.3'])]) {
      expect(await refusal(attempt())).toMatch(/target in attach mode "10\.99\.0\.3": red routes it through the gateway 10\.0\.0\.254, which belongs to none of them \(route: red: via 10\.0\.0\.254 dev veth-red\)/);
    }
    expect(await refusal(reachability(world, [red], { targets: ['10.99.0.3'] }))).toMatch(/gateway 10\.0\.0\.254/);
    // not one packet left red for it: a probe would first have asked for the gateway's MAC
    expect(await lab.get('red').neighbors()).not.toContainEqual(expect.objectContaining({ dst: '10.0.0.254' }));
  });

  test('routed through an attached namespace, or on the link to its owner: probed', async ({ lab }) => {
    await build(lab);
    const world = await attachLab(lab);
    await expect(world.get('red')).toReach('10.98.0.3'); // via blue, blue's own
    await expect(world.get('red')).toReach('10.0.0.3');
    await expect(world.get('blue')).toReach('10.0.0.1'); // the host's bridge
    expect(await refusal(world.checkRoute('red', '10.99.0.3'))).toMatch(/gateway 10\.0\.0\.254/);
    await world.checkRoute('red', '10.98.0.3');
  });

  test('the machine\'s own route to its gateway leaves the attached set: refused (routes read, nothing sent)', async () => {
    const world: ExistingNamespaces = await existingNamespaces({}, { host: 'machine' });
    const route = await world.host.routeGet('192.0.2.1');
    // this machine's address plan decides the figures; the verdict holds for any route that leaves through a gateway
    // or a physical interface, which is every route the machine has to the outside
    if (route && route.type !== 'local' && !(route.type && ['unreachable', 'blackhole', 'prohibit'].includes(route.type))) {
      expect(await refusal(world.checkRoute('host', '192.0.2.1'))).toMatch(/which belongs to none of them/);
    }
    expect(await refusal(world.checkTarget('192.0.2.1'))).toMatch(/belongs to none of the attached namespaces/);
  });
});

describe('attaching to the machine\'s own namespace takes an explicit option', () => {
  test('no host: refused (it used to default to this process\'s network namespace)', async () => {
    expect(await refusal(existingNamespaces({}, {}))).toMatch(/invalid attach option host undefined: say which namespace routes between the attached ones .*host: 'machine'/);
  });

  test('the machine\'s namespace as host or target, by pid: refused unless named', async () => {
    await using lab = await createLab();
    expect(await refusal(existingNamespaces({}, { host: { pid: process.pid } }))).toMatch(/this machine's own network namespace; say so explicitly with host: 'machine'/);
    expect(await refusal(existingNamespaces({ me: { pid: process.pid } }, { host: { pid: lab.pid } }))).toMatch(/attach target me .*this machine's own network namespace.*allowMachine: true/);
    const world = await existingNamespaces({ me: { pid: process.pid } }, { host: 'machine', allowMachine: true });
    // read-only still: a harmless no-op change is refused all the same
    expect(await refusal(world.host.exec('ip', ['link', 'set', 'dev', 'lo', 'up']))).toMatch(/attach mode is read-only/);
    expect((await world.get('me').exec('ip', ['-j', 'link', 'show', 'dev', 'lo'])).exitCode).toBe(0);
  });

  test('host: "machine" reads the machine', async () => {
    const world = await existingNamespaces({}, { host: 'machine' });
    expect((await world.host.addresses()).length).toBeGreaterThan(0);
  });
});
