// Tutorial §2.4: a default route to the host, then NAT, to reach the Internet (the lab's wan: 203.0.113.8 stands in for the tutorial's public DNS server).
import { describe, expect, test } from '../../src/vitest.js';
import { bridgeRedAndBlue, defaultRoutes, dockerLikeHost, hostAddress, masquerade, VIAS } from './steps.js';
import { failureOf } from '../matchers/helpers.js';

const INTERNET = '203.0.113.8';

describe.each(VIAS)('2.4 the namespaces and the Internet (built via %s)', (via) => {
  test('without a default route: "Network is unreachable", at once', async ({ lab }) => {
    await dockerLikeHost(lab);
    await bridgeRedAndBlue(lab, via);
    await hostAddress(lab, via);
    const red = lab.get('red');
    const ping = await red.exec('ping', ['-c1', '-W1', INTERNET], { reject: false });
    expect(ping.exitCode).toBe(2);
    expect(ping.stderr).toContain('connect: Network is unreachable');
    const failure = await failureOf(expect(red).toReach(INTERNET, { timeout: 300 }));
    expect(failure).toMatch(/\(NO_ROUTE\)/);
  });

  test('with the default route but no NAT: no longer unreachable, but a silent timeout', async ({ lab }) => {
    await dockerLikeHost(lab);
    await bridgeRedAndBlue(lab, via);
    await hostAddress(lab, via);
    await defaultRoutes(lab, via);
    const red = lab.get('red');
    await expect(red).toRouteVia(INTERNET, '192.168.15.3');
    const ping = await red.exec('ping', ['-c1', '-W1', INTERNET], { reject: false });
    expect(ping.exitCode).toBe(1);
    expect(ping.stderr).not.toContain('Network is unreachable');
    await expect(red).not.toReach(INTERNET);
    const failure = await failureOf(expect(red).toReach(INTERNET, { timeout: 500 }));
    expect(failure).toMatch(/\(NO_REPLY\)/);
    expect(failure).toMatch(/no MASQUERADE covers 192\.168\.15\.1/);
    expect(failure).toMatch(/wan \(203\.0\.113\.8\): no route back to 192\.168\.15\.1/);
  });

  test('with MASQUERADE both reach the Internet, which sees the host\'s address', async ({ lab }) => {
    const wan = await dockerLikeHost(lab);
    await bridgeRedAndBlue(lab, via);
    await hostAddress(lab, via);
    await defaultRoutes(lab, via);
    await masquerade(lab, via);
    await expect(lab.get('red')).toReach(INTERNET, { seenAs: wan.hostAddress });
    await expect(lab.get('blue')).toReach(INTERNET, { seenAs: wan.hostAddress });
    await expect(lab.get('red')).not.toReach(INTERNET, { seenAs: '192.168.15.1' });
  });
});
