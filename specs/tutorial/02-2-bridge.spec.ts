// Tutorial §2.2: a Linux bridge as the switch; Docker's FORWARD policy DROP stops bridged traffic.
import { describe, expect, test } from '../../src/vitest.js';
import { bridgeRedAndBlue, forwardPolicy, VIAS } from './steps.js';
import { failureOf } from '../matchers/helpers.js';

describe.each(VIAS)('2.2 red and blue on the bridge v-net-0 (built via %s)', (via) => {
  test('the bridge lists both veth ends, each UP', async ({ lab }) => {
    await bridgeRedAndBlue(lab, via);
    await expect(lab.host).toHaveLink('v-net-0', { type: 'bridge', state: 'UP' });
    await expect(lab.host).toHaveLink('veth-red-brdg', { master: 'v-net-0', state: 'UP' });
    await expect(lab.host).toHaveLink('veth-blue-brdg', { master: 'v-net-0', state: 'UP' });
    const brctl = await lab.sh`brctl show`;
    expect(brctl.stdout).toMatch(/v-net-0\s+\S+\s+no\s+veth-blue-brdg\s+veth-red-brdg/);
  });

  test('with the FORWARD policy DROP and bridge-nf-call-iptables=1, red cannot reach blue', async ({ lab }) => {
    await bridgeRedAndBlue(lab, via);
    expect(await lab.host.readSysctl('net.bridge.bridge-nf-call-iptables')).toBe('1');
    await forwardPolicy(lab, via, 'DROP');
    const red = lab.get('red');
    await expect(red).not.toReach('192.168.15.2');
    const failure = await failureOf(expect(red).toReach('192.168.15.2', { timeout: 500 }));
    expect(failure).toMatch(/\(FILTERED\)/);
    expect(failure).toMatch(/host: dropped by the FORWARD policy DROP/);
  });

  test('with the FORWARD policy ACCEPT, red and blue reach each other', async ({ lab }) => {
    await bridgeRedAndBlue(lab, via);
    await forwardPolicy(lab, via, 'DROP');
    await forwardPolicy(lab, via, 'ACCEPT');
    await expect(lab.get('red')).toReach('192.168.15.2');
    await expect(lab.get('blue')).toReach('192.168.15.1');
    await expect(lab.get('red')).toHaveArpEntry('192.168.15.2');
  });
});
