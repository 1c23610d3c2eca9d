// Run with preset.config.ts (netspec's preset): a failing toReach with the default deadline explains itself, where
// Vitest's own 5 s default timeout would have cut it off.
import { expect, test } from '../../src/vitest.js';
import { bridgeNetwork } from '../../fixtures/index.js';

test('the preset leaves room for the diagnosis', async ({ lab }) => {
  const net = await bridgeNetwork(lab, { nat: true });
  await lab.host.iptables(['-t', 'nat', '-F', 'POSTROUTING']);
  await new Promise((r) => setTimeout(r, 2500)); // a slow set-up: with 5 s, 3 s of probing and the diagnosis do not fit
  await expect(net.nodes[0]!).toReach('203.0.113.8');
});
