// Runs inside a private mount namespace where `ip netns add` made plain1 and plain2 (outside any lab): attaches to
// them by name, asserts, and reports as JSON. Used by specs/docker/attach.spec.ts.
import { existingNamespaces, InvalidInputError } from '../../src/index.js';
import { toHaveArpEntry, toReach, toRouteVia } from '../../src/matchers/index.js';

const world = await existingNamespaces({ plain1: { name: 'plain1' }, plain2: { name: 'plain2' } }, { host: { name: 'plain1' } });
const [p1, p2] = [world.get('plain1'), world.get('plain2')];
const snapshot = async () =>
  Promise.all(
    [p1, p2].map(async (ns) => ({
      // global addresses only: IPv6 link-local ones finish duplicate address detection on their own
      addr: (await ns.addresses()).flatMap((l) => l.addr_info.filter((a) => a.scope === 'global').map((a) => `${l.ifname} ${a.local}/${a.prefixlen}`)),
      route: (await ns.exec('ip', ['-j', 'route', 'show'])).stdout,
      rules: (await ns.exec('iptables-save', [])).stdout.replace(/^#.*$/gm, '').replace(/\[\d+:\d+\]/g, ''),
      links: (await ns.links()).map((l) => `${l.ifname} ${l.flags.includes('UP')} ${l.master ?? ''}`),
    })),
  );
const before = await snapshot();
const ctx = { isNot: false };
const results = {
  reach: (await toReach.call(ctx, p1, '10.50.0.2')).pass,
  reachBack: (await toReach.call(ctx, p2, '10.50.0.1')).pass,
  arp: (await toHaveArpEntry.call(ctx, p1, '10.50.0.2')).pass,
  route: (await toRouteVia.call(ctx, p1, '10.50.0.2', { dev: 'a' })).pass,
  notReachWindow: (await toReach.call({ isNot: true }, p1, '10.70.0.2', { window: 200 })).pass, // plain2's, but no route to it
  foreignTarget: await toReach.call(ctx, p1, '192.0.2.1').then(() => 'probed', (e: unknown) => (e instanceof InvalidInputError ? e.message : String(e))),
  readOnly: await p1.addAddress('10.60.0.1/24', 'lo').then(() => 'changed', (e: unknown) => (e instanceof InvalidInputError ? e.message : String(e))),
};
const after = await snapshot();
console.log(JSON.stringify({ results, unchanged: JSON.stringify(before) === JSON.stringify(after) }));
