// Docker's bridge behaviours on netspec's emulation (fixtures/docker.ts), and its rules against the reference engine's.
import { readFileSync } from 'node:fs';
import { describe, expect, test } from '../../src/vitest.js';
import { behaviours, ruleScenarios } from './behaviours.js';
import { emulationEngine } from './engines.js';
import { DOCKER_VERSIONS } from '../../fixtures/index.js';

describe.each(DOCKER_VERSIONS.flatMap((v) => [[v, true], [v, false]] as const))('the %s layout, userland proxy %s', (version, userlandProxy) => {
describe.each(behaviours.map((b) => [b.id, b] as const))('behaviour %i on the emulation', (_id, behaviour) => {
  test(behaviour.title, async () => {
    const engine = await emulationEngine({ version, userlandProxy });
    try {
      await behaviour.run(engine);
    } finally {
      await engine.dispose();
    }
  });
});
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
  await expect(dockerHost(lab, { version: '27' as never })).rejects.toThrow(/"20\.10" \(or its alias "classic"\), "25", "28" or "29"/);
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
  expect(parsePublish('127.0.0.1:8080:80')).toEqual({ hostIp: '127.0.0.1', hostPort: 8080, containerPort: 80, protocol: 'tcp' });
  expect(parsePublish('0.0.0.0:53:53/udp')).toEqual({ hostPort: 53, containerPort: 53, protocol: 'udp' });
  expect(() => parsePublish('localhost:8080:80')).toThrow(/HOST_IP/);
});
