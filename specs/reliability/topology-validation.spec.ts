// buildTopology checks the whole description before anything is built: types, names, addresses, references (routes'
// via and dev, attached and cabled namespaces), the wan, and names taken twice or already in the lab. Every refusal is
// a typed error naming the input, nothing is built, and no promise is left to reject unobserved.
import { describe, expect, test, vi } from '../../src/vitest.js';
import { existingNamespaces, ConflictError, DuplicateNameError, InvalidInputError } from '../../src/index.js';
import { buildTopology, type TopologySpec } from '../../fixtures/index.js';
import { labState, prepareLab, topologyCases } from '../helpers/topology-cases.js';
import { runProcess } from '../helpers/process.js';

vi.setConfig({ testTimeout: 60_000 });

const classes = { InvalidInputError, DuplicateNameError, ConflictError };

describe('a bad topology builds nothing', () => {
  test.for(topologyCases)('$name', async (c, { lab }) => {
    await prepareLab(lab);
    const before = await labState(lab);
    const error = await buildTopology(lab, c.spec as TopologySpec).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(classes[c.error]);
    if (c.error === 'InvalidInputError') expect(error).not.toBeInstanceOf(ConflictError);
    if (c.error === 'ConflictError') expect(error).not.toBeInstanceOf(DuplicateNameError);
    expect((error as Error).message).toMatch(c.message);
    expect(await labState(lab)).toEqual(before);
  });
});

describe('under --unhandled-rejections=strict', () => {
  test('the check itself: an unobserved rejection ends such a child with a non-zero code', async () => {
    const { code, out } = await runProcess([process.execPath, '--unhandled-rejections=strict', '-e', 'Promise.reject(new Error("unobserved")); setTimeout(() => console.log("sur" + "vived"), 300)']);
    expect(code).not.toBe(0);
    expect(out).toMatch(/unobserved/);
    expect(out).not.toMatch(/survived/);
  });

  test('every bad topology is a typed error, no rejection goes unhandled, nothing is built', async () => {
    const { code, out } = await runProcess([process.execPath, '--unhandled-rejections=strict', '--import', 'tsx', 'specs/helpers/topology-child.ts']);
    expect(code, out).toBe(0);
    const results = JSON.parse(out.trim().split('\n').at(-1)!) as { name: string; error: string; message: string; unchanged: boolean }[];
    expect(results.map((r) => r.name)).toEqual(topologyCases.map((c) => c.name));
    for (const [i, r] of results.entries()) {
      const c = topologyCases[i]!;
      expect({ name: r.name, error: r.error, unchanged: r.unchanged }).toEqual({ name: c.name, error: c.error, unchanged: true });
      expect(r.message).toMatch(c.message);
    }
  });
});

describe('good topologies still build', () => {
  test('the README topology, in a lab that has a namespace and a script\'s link already', async ({ lab }) => {
    await prepareLab(lab);
    const t = await buildTopology(lab, {
      namespaces: ['red', 'blue'],
      bridges: { 'v-net-0': { address: '192.168.15.3/24', attach: { red: '192.168.15.1/24', blue: '192.168.15.2/24' } } },
      routes: { red: [{ destination: 'default', via: '192.168.15.3' }], blue: [{ destination: 'default', via: '192.168.15.3' }] },
      forwarding: true,
      masquerade: ['192.168.15.0/24'],
      wan: true,
    });
    expect(lab.namespaces()).toEqual(['blue', 'old', 'red', 'wan']);
    await expect(t.ns.red).toReach('203.0.113.8', { seenAs: t.wan!.hostAddress });
    await expect(lab.host).toHaveLink('taken0');
  });

  test('a gateway inside a route that has only a dev, and generated bridge-side names that avoid the script\'s', async ({ lab }) => {
    await lab.sh`ip link add name veth-red-brdg type veth peer name script-end`;
    const t = await buildTopology(lab, {
      namespaces: ['red', 'blue'],
      bridges: { br0: { address: '10.0.0.1/24', attach: { red: '10.0.0.2/24' } } },
      veths: [{ a: { ns: 'red', name: 'r1' }, b: { ns: 'blue', name: 'b1', address: '10.5.0.9/24' } }],
      routes: { red: [{ destination: '10.5.0.0/24', dev: 'r1' }, { destination: '10.6.0.0/16', via: '10.5.0.9' }] },
    });
    await expect(t.ns.red).toRouteVia('10.6.0.1', '10.5.0.9');
    await expect(lab.host).toHaveLink('veth-red-br', { master: 'br0' });
    await expect(lab.host).not.toHaveLink('veth-red-brdg', { master: 'br0' });
  });
});

test('existingNamespaces(targets, null) is a typed error', async () => {
  await expect(existingNamespaces({}, null as never)).rejects.toThrow(InvalidInputError);
  await expect(existingNamespaces({}, null as never)).rejects.toThrow(/invalid attach options null: expected an object/);
  await expect(existingNamespaces({}, { allowAnyTarget: 'yes' } as never)).rejects.toThrow(/invalid attach option allowAnyTarget "yes": expected true or false/);
  await expect(existingNamespaces({}, { hots: { pid: 1 } } as never)).rejects.toThrow(/invalid attach option "hots": unknown/);
});

test('ready-made networks give each namespace under its name, and a name that is a property of the network only in ns', async ({ lab }) => {
  const { bridgeNetwork } = await import('../../fixtures/index.js');
  const net = await bridgeNetwork(lab, { names: ['web', 'bridge', 'nodes'], gateway: false });
  expect(net.web).toBe(net.ns.web);
  expect(net.web.name).toBe('web');
  expect(net.nodes.map((n) => n.name)).toEqual(['web', 'bridge', 'nodes']); // still the list, not the namespace
  expect(net.bridge.name).toBe('v-net-0'); // still the bridge
  expect(net.ns.bridge.name).toBe('bridge');
  await expect(net.web).toReach(net.addresses.nodes);
  await expect(net.ns.bridge).toReach(net.addresses.web);
});
