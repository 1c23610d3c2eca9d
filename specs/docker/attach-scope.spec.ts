// The namespace scope (src/scope.ts) of an attachment: it reads every namespace one by one through its read-only run,
// refuses netspec's own tables (no trace, no witness) and responders unless allowed, and the diagnosis then rests on
// rule counters, iptables and native nft alike. The namespaces are a lab's (by path), so nothing leaves the lab.
import { expect, test, vi } from '../../src/vitest.js';
import { existingNamespaces, InvalidInputError, type Lab } from '../../src/index.js';
import { readLabState } from '../../src/state.js';
import { readTopology } from '../../src/graph.js';
import { failureOf } from '../matchers/helpers.js';

vi.setConfig({ testTimeout: 60_000 });

/** red 10.0.0.2 on the lab host's bridge br0 (10.0.0.1), blue 10.2.0.3 on br1 (10.2.0.1): the host routes between them. */
async function build(lab: Lab): Promise<void> {
  const [red, blue] = await Promise.all([lab.netns('red'), lab.netns('blue')]);
  const [br0, br1] = await Promise.all([lab.bridge('br0', { address: '10.0.0.1/24' }), lab.bridge('br1', { address: '10.2.0.1/24' })]);
  await Promise.all([br0.attach(red, { address: '10.0.0.2/24' }), br1.attach(blue, { address: '10.2.0.3/24' }), lab.host.forwarding(true)]);
  await Promise.all([red.addRoute('default', { via: '10.0.0.1' }), blue.addRoute('default', { via: '10.2.0.1' })]);
}

const attachLab = (lab: Lab, options: Parameters<typeof existingNamespaces>[1] = {}) =>
  existingNamespaces({ red: { path: `/proc/${lab.pid}/root/run/netns/red` }, blue: { path: `/proc/${lab.pid}/root/run/netns/blue` } }, { host: { pid: lab.pid }, ...options });

test('an attachment reads every namespace itself; its state and picture are the lab\'s, rules parsed the same way', async ({ lab }) => {
  await build(lab);
  await lab.get('blue').exec('nft', ['-f', '-'], { input: 'table inet site { chain in { type filter hook input priority 0; policy accept; tcp dport 22 counter drop; }\n}\n' });
  const world = await attachLab(lab);
  expect(world.refusesTables()).toMatch(/attach mode changes nothing/);
  expect(world.refusesResponders()).toMatch(/allowResponder/);
  expect((await attachLab(lab, { allowResponder: true })).refusesResponders()).toBeUndefined();
  const every = await world.inEveryNamespace(['ip', '-j', 'addr', 'show'], { intent: 'read addresses' });
  expect([...every.outputs.keys()].sort()).toEqual(['blue', 'red']);
  expect(every.failures).toEqual([]);
  const [attached, own] = await Promise.all([readLabState(world), readLabState(lab)]);
  const pick = (states: typeof attached) => states.map((s) => ({ name: s.name, routes: s.routes, nft: s.nft, policy: s.iptablesRules.chains, rules: s.ipRules.length }));
  expect(pick(attached)).toEqual(pick(own));
  expect(attached.find((s) => s.name === 'blue')!.nftRules.rules.map((r) => r.text)).toEqual(['tcp dport 22 counter packets 0 bytes 0 drop']);
  const model = await readTopology(world, attached);
  expect(model.cables.map((c) => [c.a.ns, c.b.ns].sort().join('-')).sort()).toEqual(['blue-host', 'host-red']);
});

test('attach mode: no trace, no witness; a drop is FILTERED from counters, an nft forward policy drop from the rules', async ({ lab }) => {
  await build(lab);
  const world = await attachLab(lab);
  const red = world.get('red');
  await expect(red).toReach('10.2.0.3');
  await expect(expect(red).toReach('10.2.0.3', { seenAs: '10.0.0.2' })).rejects.toThrow(InvalidInputError);
  await lab.host.iptables(['-A', 'FORWARD', '-d', '10.2.0.3', '-j', 'DROP']);
  const counted = await failureOf(expect(red).toReach('10.2.0.3', { timeout: 500 }));
  expect(counted).toMatch(/\(FILTERED\)/);
  expect(counted).toMatch(/host: dropped by rule `-A FORWARD -d 10\.2\.0\.3\/32 -j DROP` \(table filter\); its counter rose during the probe/);
  expect(counted).toMatch(/attach mode changes nothing in the namespaces it attaches to, so no trace table was added/);
  await lab.host.iptables(['-F', 'FORWARD']);
  await lab.host.exec('nft', ['-f', '-'], { input: 'table inet site { chain guard { type filter hook forward priority 0; policy drop; }\n}\n' });
  const ruled = await failureOf(expect(red).toReach('10.2.0.3', { timeout: 500 }));
  expect(ruled).toMatch(/\(FILTERED\)/);
  expect(ruled).toMatch(/host \(10\.0\.0\.1\): the nft forward chain inet site guard policy drop drops what it does not accept \(read from its rules; no kernel trace/);
});
