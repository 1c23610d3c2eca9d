// Tutorial §2.1: two namespaces on one virtual cable.
import { describe, expect, test } from '../../src/vitest.js';
import { cableRedToBlue, createNamespaces, VIAS } from './steps.js';

describe.each(VIAS)('2.1 a veth pair between red and blue (built via %s)', (via) => {
  test('before the cable, red cannot reach blue: it has no route at all', async ({ lab }) => {
    await createNamespaces(lab, via);
    await expect(lab.get('red')).not.toReach('192.168.15.2');
    const ping = await lab.get('red').exec('ping', ['-c1', '-W1', '192.168.15.2'], { reject: false });
    expect(ping.stderr).toContain('Network is unreachable');
  });

  test('red and blue reach each other', async ({ lab }) => {
    await cableRedToBlue(lab, via);
    const [red, blue] = [lab.get('red'), lab.get('blue')];
    await expect(red).toReach('192.168.15.2');
    await expect(blue).toReach('192.168.15.1');
    await expect(red).toHaveLink('veth-red', { state: 'UP', type: 'veth' });
  });

  test("each has the other's MAC in its ARP table; the host has neither", async ({ lab }) => {
    await cableRedToBlue(lab, via);
    const [red, blue] = [lab.get('red'), lab.get('blue')];
    await expect(red).toReach(blue);
    const macOf = async (ns: typeof red, dev: string) => (await ns.links()).find((l) => l.ifname === dev)!.address!;
    await expect(red).toHaveArpEntry('192.168.15.2', { mac: await macOf(blue, 'veth-blue'), dev: 'veth-red' });
    await expect(blue).toHaveArpEntry('192.168.15.1', { mac: await macOf(red, 'veth-red'), dev: 'veth-blue' });
    await expect(lab.host).not.toHaveArpEntry('192.168.15.1');
    await expect(lab.host).not.toHaveArpEntry('192.168.15.2');
  });
});
