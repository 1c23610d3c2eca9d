// Fails on purpose (no MASQUERADE): the failure report, the picture, and NETSPEC_KEEP are checked from outside.
import { expect, test } from '../../src/vitest.js';
import { bridgeNetwork } from '../../fixtures/index.js';

test('red reaches the Internet', async ({ lab }) => {
  const net = await bridgeNetwork(lab, { nat: true });
  await lab.host.iptables(['-t', 'nat', '-F', 'POSTROUTING']); // the mistake
  await expect(net.red).toReach('203.0.113.8', { timeout: 500 });
});

test('a twelve-namespace lab fails without a matcher', async ({ lab }) => {
  await bridgeNetwork(lab, { names: Array.from({ length: 12 }, (_, i) => `c${i + 1}`), prefix: '10.12.0.0/24', nat: true });
  expect(lab.namespaces()).toHaveLength(0); // wrong on purpose: there are 13 (with the wan)
});
