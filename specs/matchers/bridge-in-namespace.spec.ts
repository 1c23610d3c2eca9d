// Issue 27: bridges in any namespace (`lab.bridge(name, { in: ns })`), not only the lab host: a namespace that is
// itself a switch, a router with a bridge, the host cabled to a bridge in a namespace; ports, flags and names are that
// namespace's, and bridged traffic goes through iptables there as in the lab host (bridge-nf-call-*).
import { existsSync } from 'node:fs';
import { describe, expect, test } from '../../src/vitest.js';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLab, InvalidInputError, NotFoundError, type Lab, type Netns } from '../../src/index.js';
import { buildTopology, buildTopologyFile, validateTopology } from '../../fixtures/index.js';
import { tempDir } from '../helpers/temp.js';

const brNetfilter = existsSync('/proc/sys/net/bridge/bridge-nf-call-iptables');

/** A switch namespace `sw` with bridge br0 (no address), red 10.0.0.1 and blue 10.0.0.2 cabled to it. */
async function switched(lab: Lab) {
  const [sw, red, blue] = await Promise.all(['sw', 'red', 'blue'].map((n) => lab.netns(n))) as [Netns, Netns, Netns];
  const br = await lab.bridge('br0', { in: sw });
  const [r, b] = await Promise.all([br.attach(red, { address: '10.0.0.1/24' }), br.attach(blue, { address: '10.0.0.2/24' })]);
  return { sw, red, blue, br, r, b };
}

describe('a namespace that is itself a switch', () => {
  test('red and blue talk through the bridge in sw; the bridge and its ports are sw\'s, not the host\'s', async ({ lab }) => {
    const { sw, red, blue, br, r, b } = await switched(lab);
    await expect(red).toReach(blue);
    await expect(sw).toHaveLink('br0', { kind: 'bridge', state: 'UP' });
    await expect(sw).toHaveLink(r.peer, { master: 'br0' });
    await expect(sw).toHaveLink(b.peer, { master: 'br0' });
    await expect(lab.host).not.toHaveLink('br0');
    await expect(lab.host).not.toHaveLink(r.peer);
    expect(String(br)).toMatch(/^bridge br0 in sw of lab \d+$/);
    expect(br.ns).toBe(sw);
    expect(lab.getBridge('br0', sw)).toBe(br);
    expect(() => lab.getBridge('br0')).toThrow(NotFoundError); // not a bridge of the host
    // negative: isolated ports do not talk (the flags are set on sw's ports)
    await Promise.all([br.setPort(r.peer, { isolated: true }), br.setPort(b.peer, { isolated: true })]);
    await expect(red).not.toReach(blue, { window: 600 });
  });

  test.runIf(brNetfilter)('bridged traffic goes through sw\'s iptables as in the lab host (bridge-nf-call-iptables): FORWARD DROP in sw stops it', async ({ lab }) => {
    const { sw, red, blue } = await switched(lab);
    const host = (await lab.host.readSysctl('net.bridge.bridge-nf-call-iptables')).trim();
    expect((await sw.readSysctl('net.bridge.bridge-nf-call-iptables')).trim()).toBe(host);
    expect(host).toBe('1'); // the lab's default (bridgeNetfilter: true where the kernel has br_netfilter)
    await sw.policy('FORWARD', 'DROP');
    await expect(red).not.toReach(blue, { window: 600 });
    await sw.policy('FORWARD', 'ACCEPT');
    await expect(red).toReach(blue);
  });

  test.runIf(brNetfilter)('with bridgeNetfilter: false, a switch namespace bypasses its iptables as the lab host does: FORWARD DROP in sw stops nothing', async () => {
    await using lab = await createLab({ bridgeNetfilter: false });
    const { sw, red, blue } = await switched(lab);
    expect((await lab.host.readSysctl('net.bridge.bridge-nf-call-iptables')).trim()).toBe('0');
    expect((await sw.readSysctl('net.bridge.bridge-nf-call-iptables')).trim()).toBe('0');
    await sw.policy('FORWARD', 'DROP');
    await expect(red).toReach(blue);
  });

  test('two namespaces may each have a br0; a port is a link of the bridge\'s namespace (addPort), the host can be cabled to it', async ({ lab }) => {
    const [s1, s2, green] = await Promise.all(['s1', 's2', 'green'].map((n) => lab.netns(n))) as [Netns, Netns, Netns];
    const [b1, b2] = await Promise.all([lab.bridge('br0', { in: s1 }), lab.bridge('br0', { in: s2 })]);
    expect(lab.getBridge('br0', s1)).toBe(b1);
    expect(lab.getBridge('br0', s2)).toBe(b2);
    // a veth end already in s1 joins b1 with addPort
    await lab.veth({ ns: s1, name: 'p9' }, { ns: green, name: 'eth0', address: '10.5.0.2/24' });
    await b1.addPort('p9');
    await expect(s1).toHaveLink('p9', { master: 'br0' });
    // the lab host cabled to b1, with an address on the same subnet
    const h = await b1.attach(lab.host, { address: '10.5.0.1/24', ifname: 'to-s1' });
    await expect(lab.host).toHaveLink('to-s1');
    await expect(s1).toHaveLink(h.peer, { master: 'br0' });
    await expect(lab.host).toReach('10.5.0.2');
    // negative: b2 is another switch; green is not on it
    const x = await lab.netns('x');
    await b2.attach(x, { address: '10.5.0.3/24' });
    await expect(x).not.toReach('10.5.0.2', { window: 600 });
  });

  test('bad input: the bridge\'s own namespace on itself, a port of another namespace, an `in` that is not a namespace', async ({ lab }) => {
    const { sw, br } = await switched(lab);
    await expect(br.attach(sw)).rejects.toThrow(/invalid namespace "sw": sw is already on the bridge \(it is in sw\); give the bridge an address instead/);
    await lab.veth({ ns: lab.host, name: 'hp0' }, { ns: await lab.netns('y'), name: 'eth0' });
    await expect(br.addPort('hp0')).rejects.toThrow(/sw has no link hp0 to make it a port of br0; bridge ports are links of sw \(sw\.links\(\) lists them\)/);
    await expect(lab.bridge('br1', { in: 'sw' as never })).rejects.toThrow(InvalidInputError);
    await expect(lab.bridge('br1', { inside: sw } as never)).rejects.toThrow(/unknown option/);
    await expect(lab.bridge('br0', { in: sw })).rejects.toThrow(/already has an interface called "br0"/);
    await expect(lab.host).not.toHaveLink('br1');
  });
});

describe('a router with a bridge', () => {
  test('r bridges red and blue (gateway 10.1.0.1 on r\'s br0) and routes them to the lab host; without forwarding, it does not', async ({ lab }) => {
    const [r, red, blue] = await Promise.all(['r', 'red', 'blue'].map((n) => lab.netns(n))) as [Netns, Netns, Netns];
    const br = await lab.bridge('br0', { in: r, address: '10.1.0.1/24' });
    await Promise.all([br.attach(red, { address: '10.1.0.2/24', gateway: true }), br.attach(blue, { address: '10.1.0.3/24', gateway: true })]);
    await lab.veth({ ns: r, name: 'up0', address: '198.51.100.2/24' }, { ns: lab.host, name: 'r-up', address: '198.51.100.1/24' });
    await lab.host.addRoute('10.1.0.0/24', { via: '198.51.100.2' });
    await expect(red).toReach(blue);
    await expect(red).toReach('10.1.0.1');
    await expect(red).not.toReach('198.51.100.1', { because: 'FORWARDING_DISABLED' });
    await r.forwarding();
    await expect(red).toReach('198.51.100.1');
    await expect(lab.host).toReach('10.1.0.3');
  });
});

describe('the topology says it: bridges: { br0: { in: sw } }', () => {
  test('buildTopology and a topology file build a switch namespace; red reaches blue through it, and bad `in` is refused', async ({ lab }) => {
    const t = await buildTopology(lab, {
      namespaces: ['sw', 'red', 'blue'],
      bridges: { br0: { in: 'sw', attach: { red: '10.0.0.1/24', blue: { address: '10.0.0.2/24', peer: 'swp2' } } } },
    });
    await expect(t.ns.red).toReach(t.ns.blue);
    await expect(t.ns.sw).toHaveLink('swp2', { master: 'br0' });
    await expect(lab.host).not.toHaveLink('br0');
    expect(t.bridges.br0!.ns).toBe(t.ns.sw);
    expect(() => validateTopology({ namespaces: ['sw'], bridges: { br0: { in: 'nope' } } })).toThrow(/invalid namespace of bridge br0 \(in\) "nope": no such namespace in the topology/);
    expect(() => validateTopology({ namespaces: ['sw'], bridges: { br0: { in: 'sw', attach: { sw: '10.0.0.1/24' } } } })).toThrow(/br0 is in sw already/);
    expect(() => validateTopology({ namespaces: ['sw', 'a'], bridges: { br0: { in: 'sw', attach: { a: { peer: 'p0' } } } }, veths: [{ a: { ns: 'sw', name: 'p0' }, b: { ns: 'a', name: 'x0' } }] })).toThrow(/namespace sw would have two interfaces called "p0"/);
  });

  test('a topology file with `in`', async ({ lab }) => {
    const dir = tempDir('netspec-topo-');
    const file = join(dir, 'switch.yaml');
    writeFileSync(file, 'namespaces: [sw, red, blue]\nbridges:\n  br0:\n    in: sw\n    attach: { red: 10.0.0.1/24, blue: 10.0.0.2/24 }\n');
    const t = await buildTopologyFile(lab, file);
    await expect(t.ns.red).toReach('10.0.0.2');
    await expect(t.ns.sw).toHaveLink('br0', { kind: 'bridge' });
  });
});
