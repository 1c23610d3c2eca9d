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
    // (the three rules every namespace starts with are not news, in the lab host either: it is read with -details)
    expect(state).not.toMatch(/rule6? +(0: from all lookup local|32766: from all lookup main)/);
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

  test('packets marked by the source\'s own rules are routed again: a mark whose table has no way is NO_ROUTE, named', async ({ lab }) => {
    const net = await bridgeNetwork(lab, { nat: true });
    const { red } = net;
    await red.addRule({ fwmark: 5, table: 100, priority: 100 });
    await red.addRoute('default', { type: 'unreachable', table: 100 });
    // the rule is there, but nothing marks yet: reached
    await expect(red).toReach('203.0.113.8');
    // a mark set in a filter chain re-routes nothing (only route chains do): still reached, and a failure for another
    // reason does not follow the mark
    await red.exec('nft', ['-f', '-'], { input: 'table inet f { chain o { type filter hook output priority 0; ip daddr 203.0.113.0/24 meta mark set 0x5 counter; }; }' });
    await expect(red).toReach('203.0.113.8');
    await lab.host.iptables(['-I', 'FORWARD', '-j', 'DROP']);
    const other = await failureOf(expect(red).toReach('203.0.113.8', { timeout: 600 }));
    expect(other).toMatch(/\(FILTERED\)/);
    expect(other).not.toMatch(/marked/);
    await lab.host.iptables(['-D', 'FORWARD', '-j', 'DROP']);
    await red.exec('nft', ['delete', 'table', 'inet', 'f']);
    await red.iptables(['-t', 'mangle', '-A', 'OUTPUT', '-d', '203.0.113.0/24', '-j', 'MARK', '--set-mark', '5']);
    const msg = await failureOf(expect(red).toReach('203.0.113.8', { timeout: 600 }));
    // the unmarked route is found, but the packets leave marked and the kernel drops them: no route, not "no reply"
    expect(msg).toMatch(/\(NO_ROUTE\)/);
    expect(msg).toMatch(/red: its packets are marked 0x5 by ip mangle OUTPUT rule `ip daddr 203\.0\.113\.0\/24 counter meta mark set 0x5` \(kernel trace\), and the kernel routes marked packets again: no route to 203\.0\.113\.8 \(an unreachable route/);
    expect(msg).toMatch(/red\$ ip -j route get 203\.0\.113\.8 mark 5 → error: No route to host/);
    expect(msg).toMatch(/red: its policy rules: 100: from all fwmark 0x5 lookup 100/);
    expect(msg).not.toMatch(/NO_REPLY|route back/);
  });

  test('a native nft mark that sends the packets to another gateway: the diagnosis follows the marked route', async ({ lab }) => {
    const net = await bridgeNetwork(lab, { nat: true });
    const { red } = net;
    // table 200 sends marked packets to blue (192.168.15.2), which does not forward
    await red.addRoute('default', { via: '192.168.15.2', table: 200 });
    await red.addRule({ fwmark: 7, table: 200, priority: 100 });
    await red.exec('nft', ['-f', '-'], { input: 'table inet u { chain o { type route hook output priority -100; ip daddr 203.0.113.0/24 meta mark set 0x7 counter; }; }' });
    const msg = await failureOf(expect(red).toReach('203.0.113.8', { timeout: 600 }));
    expect(msg).toMatch(/red: route to 203\.0\.113\.8 via 192\.168\.15\.3 dev veth-red/);
    expect(msg).toMatch(/red: its packets are marked 0x7 by inet u o rule `ip daddr 203\.0\.113\.0\/24 meta mark set 0x00000007 counter` \(kernel trace\), and the kernel routes marked packets again: via 192\.168\.15\.2 dev veth-red src 192\.168\.15\.1 table 200/);
    expect(msg).toMatch(/\(FORWARDING_DISABLED\)/);
    expect(msg).toMatch(/blue \(192\.168\.15\.2\): forwarding is off/);
    // without the marking rule, the same lab reaches: the mark was the whole story
    await red.exec('nft', ['delete', 'table', 'inet', 'u']);
    await expect(red).toReach('203.0.113.8');
  });

  test("a router whose policy sends forwarded packets out another uplink: MASQUERADE's address is that uplink's", async ({ lab }) => {
    const net = await bridgeNetwork(lab, { nat: true });
    const wan = net.wan!;
    // a second uplink, 192.0.2.0/24, to which the wan has no way back (its end is a /32)
    await lab.veth({ ns: lab.host, name: 'up2', address: '192.0.2.1/24' }, { ns: wan.ns, name: 'eth1', address: '192.0.2.2/32' });
    await lab.host.addRoute('default', { via: '192.0.2.2', dev: 'up2', table: 100 });
    await lab.host.addRule({ iif: 'v-net-0', table: 100, priority: 100 });
    const msg = await failureOf(expect(net.red).toReach('203.0.113.8', { timeout: 600 }));
    expect(msg).toMatch(/\(NO_REPLY\)/);
    // the router's line: its MASQUERADE, with the address of the uplink its own lookup picks, and that lookup
    expect(msg).toMatch(/host \(192\.168\.15\.3\): forwards; FORWARD policy ACCEPT; `iptables -t nat -A POSTROUTING -s 192\.168\.15\.0\/24 -j MASQUERADE` rewrites 192\.168\.15\.1 to 192\.0\.2\.1; its route on: via 192\.0\.2\.2 dev up2 table 100 \(ip route get 203\.0\.113\.8 from 192\.168\.15\.1 iif v-net-0\)/);
    expect(msg).toMatch(/wan \(203\.0\.113\.8\): no route back to 192\.0\.2\.1/);
    // (the main table's uplink, which the old reading named, is not blamed)
    expect(msg).not.toMatch(/198\.51\.100\.2/);
    // the same rule to a table whose way is unreachable: the router has no route on, and says so
    await lab.host.deleteRule({ iif: 'v-net-0', table: 100, priority: 100 });
    await lab.host.addRoute('default', { type: 'unreachable', table: 101 });
    await lab.host.addRule({ iif: 'v-net-0', table: 101, priority: 100 });
    const none = await failureOf(expect(net.red).toReach('203.0.113.8', { timeout: 600 }));
    expect(none).toMatch(/\(NO_ROUTE\)/);
    expect(none).toMatch(/host: no route on to 203\.0\.113\.8 for packets from 192\.168\.15\.1 coming in on v-net-0 \("No route to host"\)/);
    await lab.host.deleteRule({ iif: 'v-net-0', table: 101, priority: 100 });
    await expect(net.red).toReach('203.0.113.8');
  });
});
