// Whole meshes at once: lab.reachability() and expect(lab).toHaveReachability().
import { readFileSync } from 'node:fs';
import { describe, expect, test } from '../../src/vitest.js';
import { PrerequisiteError } from '../../src/index.js';
import { bridgeNetwork } from '../../fixtures/index.js';
import { failureOf } from './helpers.js';

describe('reachability of a mesh', () => {
  test('every ordered pair of eight namespaces on one bridge', async ({ lab }) => {
    const names = Array.from({ length: 8 }, (_, i) => `n${i}`);
    await bridgeNetwork(lab, { names, prefix: '10.10.0.0/24' });
    const matrix = await lab.reachability();
    expect(matrix.pairs).toHaveLength(8 * 7);
    expect(matrix.allReached).toBe(true);
    await expect(lab).toHaveReachability('all');
  });

  test('a namespace on another subnet: the matrix says which pairs fail, and the matcher lists them', async ({ lab }) => {
    const net = await bridgeNetwork(lab, { names: ['red', 'blue'], gateway: false, defaultRoutes: false });
    const green = await lab.netns('green');
    await net.bridge.attach(green, { address: '10.99.0.3/24' }); // same bridge, wrong subnet
    const matrix = await lab.reachability(undefined, { timeout: 300 });
    expect(matrix.get('red', 'blue')).toMatchObject({ reached: true, disposition: 'REACHED', address: '192.168.15.2' });
    expect(matrix.get('red', 'green')).toMatchObject({ reached: false });
    expect(matrix.get('green', 'red')).toMatchObject({ reached: false, disposition: 'NO_ROUTE' });
    expect(matrix.unreachable.map((p) => `${p.from}>${p.to}`).sort()).toEqual(['blue>green', 'green>blue', 'green>red', 'red>green']);
    expect(String(matrix).split('\n')).toEqual([
      '       blue green red',
      'blue   ·    ✗     ✓  ',
      'green  ✗    ·     ✗  ',
      'red    ✓    ✗     ·  ',
    ]);

    await expect(lab).toHaveReachability({ red: { blue: true, green: false }, green: { red: false } }, { timeout: 300 });
    const msg = await failureOf(expect(lab).toHaveReachability('all', { timeout: 300 }));
    expect(msg).toMatch(/4 of 6 pairs differ:/);
    expect(msg).toMatch(/green → red \(192\.168\.15\.1\): NO_ROUTE, expected REACHED/);
    const not = await failureOf(expect(lab).not.toHaveReachability({ red: { blue: true } }));
    expect(not).toMatch(/all 1 pairs are as given/);
    await expect(lab).not.toHaveReachability({ red: { green: true } }, { timeout: 300 });
  });

  test('addresses as targets, e.g. the wan', async ({ lab }) => {
    await bridgeNetwork(lab, { nat: true });
    await expect(lab).toHaveReachability({ red: { '203.0.113.8': true, blue: true }, blue: { '203.0.113.8': true } });
    await expect(expect(lab).toHaveReachability({ red: { blue: 'yes' } } as never)).rejects.toThrow(/expected true or false/);
    await expect(expect(lab).toHaveReachability({ nobody: { red: true } })).rejects.toThrow(/no network namespace named "nobody"/);
  });

  test('a mesh whose on-link pairs need more neighbor entries than the machine\'s table holds: a PrerequisiteError, before any packet', async ({ lab }) => {
    // the ARP table is one per machine (gc_thresh3, 1,024 by default); n namespaces on one bridge need n·(n-1) entries
    const limit = Number(readFileSync('/proc/sys/net/ipv4/neigh/default/gc_thresh3', 'utf8'));
    const n = Math.floor((1 + Math.sqrt(1 + 4 * limit)) / 2) + 1; // the smallest n with n·(n-1) > limit
    expect(n * (n - 1)).toBeGreaterThan(limit);
    // a machine whose root raised the limit far: check that a mesh under it is not refused (whichever is true here)
    const size = Math.min(n, 48);
    const names = Array.from({ length: size }, (_, i) => `m${i}`);
    const net = await bridgeNetwork(lab, { names, prefix: '10.11.0.0/24', gateway: false });
    if (size < n) {
      await expect(lab.reachability(net.nodes.slice(0, 4))).resolves.toBeDefined();
      return;
    }
    const error = await lab.reachability().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PrerequisiteError);
    expect(String(error)).toMatch(new RegExp(`room for ${n * (n - 1)} ARP entries .*holds ${limit}`));
    expect(String(error)).toMatch(/net\.ipv4\.neigh\.default\.gc_thresh3/);
    // nothing was sent: no namespace has a neighbor entry yet
    for (const ns of net.nodes.slice(0, 5)) expect(await ns.neighbors()).toEqual([]);
    // a part of the mesh that fits is checked as usual
    const part = await lab.reachability(net.nodes.slice(0, 6), { targets: net.nodes.slice(0, 6) });
    expect(part.allReached).toBe(true);
    expect(part.pairs).toHaveLength(30);
  }, 120_000);
});
