// The narrow-mask line of a NO_ROUTE diagnosis ("its address … covers only itself …: with /24 red would have a route
// to it") is said only when it is true (src/diagnose/source.ts, narrowMask). An adversarial review found it said of a
// link that is DOWN (no prefix length gives a route there) and in a routed lab whose target is not on the source's
// link (widening the mask reached nothing; the missing default route was the cause). Each case checks the kernel too.
import { expect, test } from '../../src/vitest.js';
import { bridgeNetwork } from '../../fixtures/index.js';
import type { Netns } from '../../src/index.js';
import { failureOf } from '../matchers/helpers.js';
import { routedPair } from '../helpers/routed.js';

const sh = (ns: Netns, argv: string[]) => ns.exec(argv[0]!, argv.slice(1));
const MASK = /covers only|would have a route to it/;

test('a /32 on a link that is DOWN: no mask line (with /24 the kernel still has no route there)', async ({ lab }) => {
  const net = await bridgeNetwork(lab, { names: ['red', 'blue'] });
  await sh(net.red, ['ip', 'addr', 'del', '192.168.15.1/24', 'dev', 'veth-red']);
  await sh(net.red, ['ip', 'addr', 'add', '192.168.15.1/32', 'dev', 'veth-red']);
  await sh(net.red, ['ip', 'link', 'set', 'veth-red', 'down']);
  const msg = await failureOf(expect(net.red).toReach('192.168.15.2', { timeout: 600 }));
  expect(msg).toMatch(/\(NO_ROUTE\)/);
  expect(msg).not.toMatch(MASK);
  // the kernel agrees that the mask alone would not do: /24 on the DOWN link, still no route
  await sh(net.red, ['ip', 'addr', 'del', '192.168.15.1/32', 'dev', 'veth-red']);
  await sh(net.red, ['ip', 'addr', 'add', '192.168.15.1/24', 'dev', 'veth-red']);
  expect((await net.red.exec('ip', ['route', 'get', '192.168.15.2'], { reject: false })).stderr).toMatch(/Network is unreachable/);
});


test('a routed lab whose target holds a wide prefix on another link: no mask line; the missing route is the cause', async ({ lab }) => {
  // blue a /16 on lan2 (the host answers ARP for the rest of it), red without its default route (the fault)
  const { red } = await routedPair(lab, { blue: '10.0.2.2/16', defaultRoutes: false });
  await lab.host.exec('sysctl', ['-w', 'net.ipv4.conf.lan2.proxy_arp=1', 'net.ipv4.ip_forward=1']);
  const msg = await failureOf(expect(red).toReach('10.0.2.2', { timeout: 600 }));
  expect(msg).toMatch(/\(NO_ROUTE\)/);
  expect(msg).not.toMatch(MASK);
  expect(msg).toMatch(/red: no route to 10\.0\.2\.2 \(Network is unreachable\); add one/);
  // and the route is what reaches it
  await sh(red, ['ip', 'route', 'add', 'default', 'via', '10.0.1.1']);
  await expect(red).toReach('10.0.2.2');
});

test('the /32 beside a /24 on the same bridge is still named, and the /24 it names reaches the target', async ({ lab }) => {
  const net = await bridgeNetwork(lab, { names: ['red', 'blue'] });
  await sh(net.red, ['ip', 'addr', 'del', '192.168.15.1/24', 'dev', 'veth-red']);
  await sh(net.red, ['ip', 'addr', 'add', '192.168.15.1/32', 'dev', 'veth-red']);
  const msg = await failureOf(expect(net.red).toReach('192.168.15.2', { timeout: 600 }));
  expect(msg).toMatch(/red: its address 192\.168\.15\.1\/32 on veth-red covers only itself, so it has no route to 192\.168\.15\.2; (blue|host) holds 192\.168\.15\.2\/24 on the same link/);
  await sh(net.red, ['ip', 'addr', 'del', '192.168.15.1/32', 'dev', 'veth-red']);
  await sh(net.red, ['ip', 'addr', 'add', '192.168.15.1/24', 'dev', 'veth-red']);
  await expect(net.red).toReach('192.168.15.2');
});
