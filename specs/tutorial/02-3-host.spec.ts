// Tutorial §2.3: the host joins the private network by giving the bridge an address.
import { describe, expect, test } from '../../src/vitest.js';
import { bridgeRedAndBlue, hostAddress, VIAS } from './steps.js';
import { failureOf } from '../matchers/helpers.js';

describe.each(VIAS)('2.3 the host and the namespaces (built via %s)', (via) => {
  test('the host cannot reach blue while the bridge has no address', async ({ lab }) => {
    await bridgeRedAndBlue(lab, via);
    await expect(lab.host).not.toReach('192.168.15.2');
    const failure = await failureOf(expect(lab.host).toReach('192.168.15.2', { timeout: 300 }));
    expect(failure).toMatch(/\(NO_ROUTE\)/);
    await expect(lab.get('blue')).not.toReach('192.168.15.3');
  });

  test('with 192.168.15.3/24 on v-net-0, host and blue reach each other', async ({ lab }) => {
    await bridgeRedAndBlue(lab, via);
    await hostAddress(lab, via);
    await expect(lab.host).toHaveAddress('192.168.15.3/24', { dev: 'v-net-0' });
    await expect(lab.host).toReach('192.168.15.2');
    await expect(lab.get('blue')).toReach('192.168.15.3');
    await expect(lab.host).toRouteVia('192.168.15.2', { dev: 'v-net-0' });
  });
});
