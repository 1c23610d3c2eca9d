// Many namespaces in one flush share processes (src/batch.ts, #runIpMany: one shell runs `ip -n NAME -batch -` for each
// namespace in turn, its steps passed as data). Every step must still settle as if its namespace had had a process of
// its own: what ran is there, a failing step rejects with its own typed error naming its namespace, the steps after it
// in that namespace are skipped, and the other namespaces are not affected.
import { describe, expect, test, vi } from '../../src/vitest.js';
import { InvalidInputError, NotFoundError, SkippedStepError } from '../../src/index.js';
import { within } from '../helpers/watchdog.js';

vi.setConfig({ testTimeout: 60_000 });

const names = ['m1', 'm2', 'm3', 'm4', 'm5', 'm6'];

describe('ip steps of many namespaces in one flush', () => {
  test('each namespace gets its own steps; a failure in one settles only its own steps, typed and named', async ({ lab }) => {
    const ns = await Promise.all(names.map((n) => lab.netns(n)));
    const calls = ns.flatMap((n, i) => [
      n.addAddress(`10.7.${i}.1/32`, 'lo'),
      // m3 only: a gateway no link of m3 can reach: the kernel refuses it
      ...(i === 2 ? [n.addRoute('10.99.0.0/16', { via: '10.98.0.1' })] : []),
      n.addAddress(`10.8.${i}.1/32`, 'lo'),
    ]);
    const results = await within(Promise.allSettled(calls), 20_000, 'steps of six namespaces in one tick');
    // m1 and m2 have two calls each: m3's are at 4, 5 (the route) and 6
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 'rejected')).toHaveLength(2);
    expect(statuses[4]).toBe('fulfilled'); // m3's first address ran before the route
    const route = (results[5] as PromiseRejectedResult).reason as Error;
    expect(route).toBeInstanceOf(InvalidInputError);
    expect(route.message).toMatch(/namespace m3/);
    expect(route.message).toMatch(/10\.98\.0\.1/);
    const after = (results[6] as PromiseRejectedResult).reason as Error;
    expect(after).toBeInstanceOf(SkippedStepError);
    expect(after.cause).toBe(route);
    // what ran is in the kernel, in the right namespace and only there
    for (const [i, n] of ns.entries()) {
      const addrs = (await n.addresses()).flatMap((l) => (l.addr_info ?? []).map((a) => a.local));
      expect(addrs).toContain(`10.7.${i}.1`);
      if (i === 2) expect(addrs).not.toContain(`10.8.${i}.1`);
      else expect(addrs).toContain(`10.8.${i}.1`);
      for (const [j] of ns.entries()) if (j !== i) expect(addrs).not.toContain(`10.7.${j}.1`);
    }
  });

  test('a namespace deleted behind netspec\'s back: its steps reject with NotFoundError, the others run', async ({ lab }) => {
    const ns = await Promise.all(names.map((n) => lab.netns(n)));
    await lab.sh`ip netns del m4`;
    const results = await within(Promise.allSettled(ns.map((n, i) => n.addAddress(`10.6.${i}.1/32`, 'lo'))), 20_000, 'six namespaces, one gone');
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    const gone = (results[3] as PromiseRejectedResult).reason as Error;
    expect(gone).toBeInstanceOf(NotFoundError);
    expect(gone.message).toMatch(/m4/);
    const addrs = (await ns[4]!.addresses()).flatMap((l) => (l.addr_info ?? []).map((a) => a.local));
    expect(addrs).toContain('10.6.4.1');
  });

  test('steps are data: an address that is not one is refused before anything runs, and builds nothing', async ({ lab }) => {
    const ns = await Promise.all(names.map((n) => lab.netns(n)));
    await expect(ns[0]!.addAddress('10.0.0.1/32\nlink add evil type bridge', 'lo')).rejects.toThrow(InvalidInputError);
    await expect(ns[0]!.addAddress('10.0.0.1/32', 'lo; ip link add evil type bridge')).rejects.toThrow(InvalidInputError);
    for (const n of ns) expect((await n.links()).map((l) => l.ifname)).toEqual(['lo']);
  });
});
