// Docker's bridge behaviours on netspec's emulation (fixtures/docker.ts), and its rules against the reference engine's.
import { readFileSync } from 'node:fs';
import { describe, expect, test } from '../../src/vitest.js';
import { behaviours, proxySettings, ruleScenarios, withPublishWatch } from './behaviours.js';
import { emulationEngine } from './engines.js';
import { DOCKER_VERSIONS } from '../../fixtures/index.js';

// Every behaviour on every layout; the ones that publish a port with and without the userland proxy (the only ones the
// proxy setting changes anything for: docker-proxy, or hairpin NAT and route_localnet in its place), the others with
// the default. The tests of a file run concurrently (vitest.config.ts), each in an engine of its own.
const cases = (versions: readonly (typeof DOCKER_VERSIONS)[number][], skip: number[] = []) =>
  versions.flatMap((version) => behaviours.filter((b) => !skip.includes(b.id)).flatMap((b) => proxySettings(b).map((userlandProxy) => [version, userlandProxy, b.id, b.title, b] as const)));

describe('behaviours on the emulation', () => {
  test.for(cases(DOCKER_VERSIONS))('the %s layout, userland proxy %s: behaviour %i, %s', async ([version, userlandProxy, , , behaviour]) => {
    const engine = await emulationEngine({ version, userlandProxy });
    try {
      await behaviour.run(withPublishWatch(engine, behaviour));
    } finally {
      await engine.dispose();
    }
  });

  // Docker 29 with --firewall-backend=nftables: the behaviours that do not name iptables chains (7: the iptables FORWARD
  // policy; 8 and 19: DOCKER-USER, which this backend lacks; 15: IPv6, not emulated with it; 18 reads the iptables DNAT)
  test.for(cases(['29'], [7, 8, 15, 18, 19]))('the %s layout, nftables backend, userland proxy %s: behaviour %i, %s', async ([version, userlandProxy, , , behaviour]) => {
    const engine = await emulationEngine({ version, userlandProxy, firewallBackend: 'nftables' });
    try {
      await behaviour.run(withPublishWatch(engine, behaviour));
    } finally {
      await engine.dispose();
    }
  });
});

test('the nftables backend writes moby\'s ip docker-bridges table (nftablesdoc usernet-portmap, -lo, -noicc, -internal)', async ({ lab }) => {
  const { dockerHost } = await import('../../fixtures/index.js');
  const docker = await dockerHost(lab, { version: '29', firewallBackend: 'nftables' });
  const web = await docker.createNetwork('web');
  const c1 = await docker.run('c1', { network: 'web', publish: ['8080:80', '127.0.0.1:8081:80'] });
  const quiet = await docker.createNetwork('quiet', { icc: false });
  const vault = await docker.createNetwork('vault', { internal: true });
  const listing = (await lab.run('host', ['nft', 'list', 'table', 'ip', 'docker-bridges'], { intent: 'read' })).stdout.replace(/counter packets \d+ bytes \d+ /g, 'counter ');
  const chainOf = (name: string) => /\{([^}]*)\}/.exec(listing.slice(listing.indexOf(`chain ${name} {`)))![1]!.split('\n').map((l) => l.trim()).filter(Boolean);
  expect(chainOf(`filter-forward-in__${web.bridge}`)).toEqual([
    'ct state established,related counter accept',
    `iifname "${web.bridge}" counter accept comment "ICC"`,
    `ip daddr ${c1.address} tcp dport 80 counter accept`,
    `ip daddr ${c1.address} tcp dport 80 counter accept`,
    'counter drop comment "UNPUBLISHED PORT DROP"',
  ]);
  expect(chainOf(`filter-forward-in__${quiet.bridge}`)[1]).toBe(`iifname "${quiet.bridge}" counter drop comment "ICC"`);
  expect(chainOf(`filter-forward-out__${vault.bridge}`)[1]).toBe(`oifname != "${vault.bridge}" counter drop comment "INTERNAL NETWORK EGRESS"`);
  expect(chainOf(`nat-postrouting-out__${vault.bridge}`)).toEqual([]);
  // bindings in libnetwork's cmpPortBinding order from 28.0 (the lower host port first for the same container port;
  // the real 28.5.2 engine's iptables order, inferred for 29's nftables: moby's listings have one port each)
  expect(chainOf('nat-prerouting-and-output')).toEqual([
    `iifname != "${web.bridge}" tcp dport 8080 counter dnat to ${c1.address}:80 comment "DNAT"`,
    `iifname != "${web.bridge}" ip daddr 127.0.0.1 tcp dport 8081 counter dnat to ${c1.address}:80 comment "DNAT"`,
  ]);
  expect(chainOf('raw-PREROUTING')).toContain('iifname != "lo" ip daddr 127.0.0.1 tcp dport 8081 counter drop comment "DROP REMOTE LOOPBACK"');
  expect(listing).toMatch(/type filter hook forward priority filter; policy drop;/);
  // no DOCKER-USER with this backend, and the iptables FORWARD policy is not Docker's business
  await expect(docker.userRule(['-j', 'DROP'])).rejects.toThrow(/no DOCKER-USER chain/);
  expect((await lab.run('host', ['iptables', '-S', 'FORWARD'], { intent: 'read' })).stdout).toMatch(/^-P FORWARD ACCEPT$/m);
  await expect(dockerHost(lab, { version: '28', firewallBackend: 'nftables' })).rejects.toThrow(/"nftables" with version "29"/);
});

test('the emulation installs the rules a real Docker 20.10.24 installed (fixtures/reference)', async () => {
  const engine = await emulationEngine();
  try {
    await ruleScenarios.at(-1)!.build(engine);
    const reference = readFileSync(new URL('../../fixtures/reference/docker-20.10.24-iptables-save.txt', import.meta.url), 'utf8');
    const bridges: Record<string, string> = { 'br-589be2712fbd': '172.18.0.0/16', 'br-52ccb0a8c27b': '172.19.0.0/16', 'br-80314994862b': '172.20.0.0/16' };
    let expected = reference.split('\n').filter((l) => l && !l.startsWith('#')).join('\n');
    for (const [br, subnet] of Object.entries(bridges)) expected = expected.replaceAll(br, `br-<${subnet}>`);
    expect(await engine.rules()).toBe(expected);
  } finally {
    await engine.dispose();
  }
});

test('the 29.x layout installs the rules the reference gives for 29.x (default bridge, br-U with c1 -p 8080:80)', async () => {
  const engine = await emulationEngine({ version: '29' });
  try {
    await engine.createNetwork('web');
    await engine.run('c1', { network: 'web', publish: ['8080:80'] });
    const ours = await engine.rules();
    const rulesOf = (text: string, table: string) => {
      const lines: string[] = [];
      let t = '';
      for (const l of text.split('\n')) {
        if (l.startsWith('*')) t = l.slice(1);
        if (t === table && l.startsWith('-A ')) lines.push(l.replace(/br-<172\.18\.0\.0\/16>/g, 'br-U'));
      }
      return lines;
    };
    const doc = readFileSync(new URL('../../fixtures/reference/docker-bridge.md', import.meta.url), 'utf8');
    const block = doc.slice(doc.indexOf('## 29.x rule set')).split('```')[1]!;
    for (const table of ['raw', 'filter', 'nat']) expect(rulesOf(ours, table), table).toEqual(rulesOf(block, table));
  } finally {
    await engine.dispose();
  }
});

test('networks created at the same time get their own subnets, and stay isolated', async ({ lab }) => {
  const { dockerHost } = await import('../../fixtures/index.js');
  const docker = await dockerHost(lab);
  const [front, back] = await Promise.all([docker.createNetwork('front'), docker.createNetwork('back')]);
  expect(front.subnet).not.toBe(back.subnet);
  expect(new Set(docker.networks.map((n) => n.subnet)).size).toBe(docker.networks.length);
  await expect(Promise.all([docker.createNetwork('dup'), docker.createNetwork('dup')])).rejects.toThrow(/a network with that name exists/);
  const [a, b] = await Promise.all([docker.run('a', { network: 'front' }), docker.run('b', { network: 'back' })]);
  expect(a.address).not.toBe(b.address);
  await expect(a.ns).not.toReach(b.address, { because: 'FILTERED' });
});

test('--network host: the container is the host\'s namespace; names resolve only on shared user-defined networks', async ({ lab }) => {
  const { dockerHost } = await import('../../fixtures/index.js');
  const docker = await dockerHost(lab, { version: '29' });
  const h = await docker.run('h', { network: 'host' });
  expect(h.ns).toBe(lab.host);
  expect(h.address).toBe('');
  await Promise.all([docker.createNetwork('front'), docker.createNetwork('back')]);
  const [, b] = [await docker.run('a', { network: 'front' }), await docker.run('b', { network: 'back' })];
  expect(() => docker.resolve('a', 'b')).toThrow(/embedded DNS/);
  const there = await docker.connect('back', 'a');
  expect(there.ifname).toBe('eth1');
  expect(docker.resolve('a', 'b')).toBe(b.address);
  expect(docker.resolve('b', 'a')).toBe(there.address); // the address on the network they share
  await docker.disconnect('back', 'a');
  expect(() => docker.resolve('a', 'b')).toThrow(/embedded DNS/);
});

test('wrong input is refused with what to do: versions, subnets, gateways, --ip, published ports', async ({ lab }) => {
  const { dockerHost, parsePublish } = await import('../../fixtures/index.js');
  await expect(dockerHost(lab, { version: '27' })).rejects.toThrow(/expected a layout \("20\.10" or "classic", "25", "28", "29"\) or a release/);
  const docker = await dockerHost(lab, { version: 'classic' });
  expect(docker.layout.version).toBe('20.10');
  await expect(docker.createNetwork('x', { subnet: '172.17.5.0/24' })).rejects.toThrow(/overlaps/);
  await expect(docker.createNetwork('y', { subnet: '10.1.0.0/24', gateway: '10.2.0.1' })).rejects.toThrow(/not in the subnet/);
  await expect(docker.createNetwork('z', { gateway: '10.2.0.1' })).rejects.toThrow(/needs a --subnet/);
  await docker.createNetwork('n', { subnet: '10.1.0.0/24' });
  await docker.run('c1', { network: 'n', ip: '10.1.0.5' });
  await expect(docker.run('c2', { network: 'n', ip: '10.1.0.5' })).rejects.toThrow(/in use/);
  await expect(docker.run('c3', { network: 'n', ip: '10.9.0.5' })).rejects.toThrow(/not in n's subnet/);
  await expect(docker.run('c4', { ip: '172.17.0.9' })).rejects.toThrow(/user-defined networks only/);
  await docker.createNetwork('auto'); // no --subnet: Docker refuses --ip there (the real 20.10, 26.1 and 28.5 engines)
  await expect(docker.run('c5', { network: 'auto', ip: '172.18.0.9' })).rejects.toThrow(/created without --subnet/);
  expect(parsePublish('127.0.0.1:8080:80')).toEqual({ hostIp: '127.0.0.1', hostPort: 8080, containerPort: 80, protocol: 'tcp' });
  expect(parsePublish('0.0.0.0:53:53/udp')).toEqual({ hostPort: 53, containerPort: 53, protocol: 'udp' });
  expect(() => parsePublish('localhost:8080:80')).toThrow(/HOST_IP/);
});
