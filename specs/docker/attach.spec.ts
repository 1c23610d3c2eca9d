// Attach mode: the matchers on namespaces made outside any lab — plain `ip netns add` namespaces, and Docker
// containers by PID and by sandbox path — and proof that attaching changed nothing.
import { describe, expect, test, vi } from '../../src/vitest.js';
import { machineState } from '../helpers/machine.js';
import { runProcess } from '../helpers/process.js';
import { dockerEngine, dockerInstalled } from './engines.js';

// these tests start other processes (child test runs, engines): give them room on a busy 2-core machine
vi.setConfig({ testTimeout: 90_000 });


const run = (argv: string[]) => runProcess(argv);

test('plain `ip netns add` namespaces, by name: reachability, ARP and routes, read-only, own addresses only', async () => {
  const before = await machineState();
  // the namespaces are made in a private mount namespace (its own /run/netns), so the machine's stay as they are
  const script = [
    'mount -t tmpfs netspec-attach /run && mkdir /run/netns',
    'ip netns add plain1 && ip netns add plain2',
    'ip -n plain1 link add name a type veth peer name b netns plain2',
    'ip -n plain1 addr add 10.50.0.1/24 dev a && ip -n plain2 addr add 10.50.0.2/24 dev b',
    'ip -n plain1 link set dev a up && ip -n plain2 link set dev b up',
    'ip -n plain2 link set dev lo up && ip -n plain2 addr add 10.70.0.2/32 dev lo',
    'exec "$@"',
  ].join(' && ');
  const { code, out } = await run(['unshare', '--mount', '--propagation', 'private', 'sh', '-c', script, 'sh', process.execPath, '--import', 'tsx', 'specs/helpers/attach-child.ts']);
  expect(code, out).toBe(0);
  const { results, unchanged } = JSON.parse(out.trim().split('\n').at(-1)!) as { results: Record<string, unknown>; unchanged: boolean };
  expect(results).toMatchObject({ reach: true, reachBack: true, arp: true, route: true, notReachWindow: false });
  expect(results.foreignTarget).toMatch(/invalid target in attach mode "192\.0\.2\.1": it belongs to none of the attached namespaces \(plain1, plain2\).*allowAnyTarget/);
  expect(results.readOnly).toMatch(/attach mode is read-only/);
  expect(unchanged).toBe(true);
  expect(await machineState()).toEqual(before);
});

describe.runIf(dockerInstalled)('Docker containers', () => {
  test.each(['pid', 'path'] as const)('attached by %s: reachability, ARP and routes, and nothing changed', async (attachBy) => {
    const engine = await dockerEngine({ attachBy });
    try {
      const net = await engine.createNetwork('app');
      const c1 = await engine.run('c1', { network: net.name });
      const c2 = await engine.run('c2', { network: net.name });
      const state = async () =>
        Promise.all(
          [c1.ns, c2.ns].map(async (ns) => ({
            addr: (await ns.ipJson(['addr', 'show'])) as unknown,
            route: (await ns.ipJson(['route', 'show'])) as unknown,
            rules: (await ns.exec('iptables-save')).stdout.replace(/^#.*$/gm, '').replace(/\[\d+:\d+\]/g, ''),
          })),
        );
      const before = await state();
      await expect(c1.ns).toReach(c2.address);
      await expect(c1.ns).toHaveArpEntry(c2.address);
      await expect(c1.ns).toRouteVia('203.0.113.8', net.gateway);
      await expect(c1.ns).toHaveAddress(`${c1.address}/16`, { dev: 'eth0' });
      await expect(c1.ns).not.toReach('172.18.0.99', { window: 200 });
      expect(await state()).toEqual(before); // apart from neighbor entries, which the probes themselves create
    } finally {
      await engine.dispose();
    }
  });
});
