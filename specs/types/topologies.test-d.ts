// Type tests: ready-made topologies are typed by the names they are given, so specs write `net.red`, not `net.nodes[0]!`.
import { expectTypeOf, test } from 'vitest';
import type { Lab, Netns } from '../../src/index.js';
import { bridgeNetwork, buildTopology, tutorialNetwork, vethPair } from '../../fixtures/index.js';

declare const lab: Lab;

test('bridgeNetwork: the default names, and names given, are properties', async () => {
  const net = await tutorialNetwork(lab);
  expectTypeOf(net.red).toEqualTypeOf<Netns>();
  expectTypeOf(net.blue).toEqualTypeOf<Netns>();
  expectTypeOf(net.addresses.red).toEqualTypeOf<string>();
  // @ts-expect-error: no namespace called green in the tutorial
  void net.green;
  const web = await bridgeNetwork(lab, { names: ['web', 'db'] });
  expectTypeOf(web.db).toEqualTypeOf<Netns>();
  expectTypeOf(web.ns.web).toEqualTypeOf<Netns>();
  // @ts-expect-error: the defaults are not there when names are given
  void web.red;
  // a name that is a property of the network stays in `ns` only
  const odd = await bridgeNetwork(lab, { names: ['bridge', 'x'] });
  expectTypeOf(odd.x).toEqualTypeOf<Netns>();
  expectTypeOf(odd.ns.bridge).toEqualTypeOf<Netns>();
  expectTypeOf(odd.bridge).not.toEqualTypeOf<Netns>();
});

test('vethPair and buildTopology are typed by their names', async () => {
  const pair = await vethPair(lab, { names: ['left', 'right'] });
  expectTypeOf(pair.left).toEqualTypeOf<Netns>();
  expectTypeOf((await vethPair(lab)).blue).toEqualTypeOf<Netns>();
  const t = await buildTopology(lab, { namespaces: ['a', 'b'] });
  expectTypeOf(t.ns.a).toEqualTypeOf<Netns>();
  expectTypeOf(t.ns.host).toEqualTypeOf<Netns>();
  expectTypeOf(t.ns['elsewhere']).toEqualTypeOf<Netns | undefined>();
});
