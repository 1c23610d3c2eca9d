// Explanations under policy routing: a failure's diagnosis and report read every routing table and the rules that pick
// them, and the way back is the kernel's own lookup (`ip route get SOURCE from TARGET`), not a reading of the main table.
import { describe, expect, test } from '../../src/vitest.js';
import { bridgeNetwork } from '../../fixtures/index.js';
import { formatState } from '../../src/report.js';
import { readLabState } from '../../src/state.js';
import { failureOf } from './helpers.js';

describe('diagnosis under policy routing', () => {
  test("the wan's main table has a way back, but a rule sends its replies to a blackhole: NO_REPLY says so", async ({ lab }) => {
    const net = await bridgeNetwork(lab, { nat: true });
    const wan = net.wan!;
    await expect(net.red).toReach('203.0.113.8', { seenAs: wan.hostAddress });
    // the replies from 203.0.113.8 are looked up in table 100 first, which drops everything
    await wan.ns.addRoute('default', { type: 'blackhole', table: 100 });
    await wan.ns.addRule({ from: '203.0.113.8', table: 100, priority: 100 });
    expect(await wan.ns.routeGet(wan.hostAddress)).toMatchObject({ dev: expect.any(String) }); // main alone would answer
    const msg = await failureOf(expect(net.red).toReach('203.0.113.8', { timeout: 600 }));
    expect(msg).toMatch(/\(NO_REPLY\)/);
    expect(msg).toMatch(new RegExp(`wan \\(203\\.0\\.113\\.8\\): no route back to ${wan.hostAddress.replaceAll('.', '\\.')} \\(a blackhole route`));
    expect(msg).not.toMatch(/has a route back|its route back/);
    expect(msg).toMatch(/wan\$ ip -j route get .* from 203\.0\.113\.8 → error: Invalid argument/);
    // the failure report shows the rule and the table's route
    const state = formatState(await readLabState(lab));
    expect(state).toMatch(/rule {2}100: from 203\.0\.113\.8 lookup 100/);
    expect(state).toMatch(/route default blackhole table 100/);
    // without the rule, the same lab reaches again: the rule was the cause
    await wan.ns.deleteRule({ from: '203.0.113.8', table: 100, priority: 100 });
    await expect(net.red).toReach('203.0.113.8');
  });

  test('a route found through a rule is named with its table; the way back through a rule counts as a way back', async ({ lab }) => {
    const net = await bridgeNetwork(lab, { nat: true, defaultRoutes: false });
    const { red } = net;
    const wan = net.wan!;
    await expect(red).not.toReach('203.0.113.8', { window: 300 });
    // red reaches the wan only through table 100, which a rule picks for it
    await red.addRoute('203.0.113.0/24', { via: '192.168.15.3', table: 100 });
    await red.addRule({ to: '203.0.113.0/24', table: 100 });
    await expect(red).toReach('203.0.113.8');
    // no NAT now: the wan's way back to red is in its table 200 only (its main table has none)
    await lab.host.iptables(['-t', 'nat', '-F', 'POSTROUTING']);
    await wan.ns.addRoute('192.168.15.0/24', { via: wan.hostAddress, table: 200 });
    await wan.ns.addRule({ to: '192.168.15.0/24', table: 200 });
    await expect(red).toReach('203.0.113.8');
    // and the host's FORWARD drops replies: the probe fails, and the way back is not what is blamed
    await lab.host.iptables(['-I', 'FORWARD', '-d', '192.168.15.0/24', '-j', 'DROP']);
    const msg = await failureOf(expect(red).toReach('203.0.113.8', { timeout: 600 }));
    expect(msg).toMatch(/route to 203\.0\.113\.8 via 192\.168\.15\.3 dev veth-red src 192\.168\.15\.1 table 100/);
    expect(msg).toMatch(/\(FILTERED\)/);
    expect(msg).not.toMatch(/no route back/);
    expect(msg).not.toMatch(/no MASQUERADE covers/);
  });

  test('NO_ROUTE caused by a rule names the rule', async ({ lab }) => {
    const net = await bridgeNetwork(lab, { nat: true });
    await net.red.addRule({ to: '203.0.113.0/24', action: 'unreachable', priority: 50 });
    const msg = await failureOf(expect(net.red).toReach('203.0.113.8', { timeout: 300 }));
    expect(msg).toMatch(/\(NO_ROUTE\)/);
    expect(msg).toMatch(/red: its policy rules choose the table the lookup uses: 50: from all to 203\.0\.113\.0\/24 unreachable/);
    // an IPv6 rule of the same kind is in the report too
    await net.red.addRule({ to: 'fd00:99::/64', action: 'prohibit', priority: 60 });
    expect(formatState(await readLabState(lab))).toMatch(/rule6 60: from all to fd00:99::\/64 prohibit/);
  });
});
