// Fails on purpose, four ways (specs/reporting/reporters.spec.ts reads the reports from outside): a `.not.toReach`
// that reaches, a `toHaveRouteEntry` with no such route, an error thrown by the test's own code, and an assertion never
// awaited. One more test catches a failing matcher and passes: it gets no report.
import { expect, test } from '../../src/vitest.js';
import { bridgeNetwork } from '../../fixtures/index.js';

// (a window of a second: on a loaded machine the first ARP exchange and echo took longer than 200 ms, and the .not passed)
test('not reach fails', async ({ lab }) => {
  const net = await bridgeNetwork(lab);
  await expect(net.nodes[0]!).not.toReach(net.nodes[1]!, { window: 1000 });
});

test('route entry fails', async ({ lab }) => {
  const net = await bridgeNetwork(lab);
  await expect(net.nodes[0]!).toHaveRouteEntry({ destination: '10.99.0.0/16', gateway: '192.168.15.3' });
});

test('thrown error fails', async ({ lab }) => {
  const net = await bridgeNetwork(lab);
  // the report shows operstates, which the kernel's linkwatch sets up to a second after \`link set up\` (under load the
  // dump read veth-red DOWN): the parent checks for UP, so wait for it
  await expect(net.nodes[0]!).toHaveLink('veth-red', { state: 'UP' });
  throw new Error('the test broke on purpose');
});

test('never awaited', async ({ lab }) => {
  const net = await bridgeNetwork(lab);
  void expect(net.nodes[0]!).toReach('192.168.15.77', { timeout: 300 });
});

test('a caught failure passes', async ({ lab }) => {
  const net = await bridgeNetwork(lab);
  await expect(expect(net.nodes[0]!).toHaveAddress('10.1.2.3/24')).rejects.toThrow(/toHaveAddress/);
});
