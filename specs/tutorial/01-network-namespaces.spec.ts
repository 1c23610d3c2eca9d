// Tutorial §1: a new network namespace has its own, empty, network world.
import { describe, expect, test } from '../../src/vitest.js';
import { createNamespaces, VIAS } from './steps.js';

describe.each(VIAS)('1. network namespaces (built via %s)', (via) => {
  test('ip netns lists red and blue', async ({ lab }) => {
    await createNamespaces(lab, via);
    expect(lab.namespaces()).toEqual(['blue', 'red']);
    const listed = await lab.sh`ip netns`;
    expect(listed.stdout).toMatch(/^red/m);
    expect(listed.stdout).toMatch(/^blue/m);
  });

  test('a new namespace sees only lo, no neighbors and no routes', async ({ lab }) => {
    await createNamespaces(lab, via);
    await lab.bridge('v-net-0'); // something on the host it must not see
    const red = lab.get('red');
    const links = await red.links();
    expect(links.map((l) => l.ifname)).toEqual(['lo']);
    if (via === 'script') await expect(red).toHaveLink('lo', { state: 'DOWN' }); // `ip netns add` leaves lo down
    expect(await red.neighbors()).toEqual([]);
    expect(await red.routes()).toEqual([]);
    await expect(red).not.toHaveLink('v-net-0');
    await expect(lab.host).toHaveLink('v-net-0');
    const arp = await lab.sh`ip netns exec red arp -n`;
    expect(arp.stdout.trim()).toBe('');
  });
});
