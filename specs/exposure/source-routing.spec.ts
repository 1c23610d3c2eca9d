// Issue 30, found by the differential oracle's exposure claims (bench/oracle/regressions.json, hand:
// J_exposure_not_from_policy): a client whose policy routing depends on the source address (`ip rule add not from ADDR
// table T`, T leading to a gateway nobody owns) reaches the router's port 80 with any connected socket, which is routed
// from its source address; the sweep's sender was routed with no source, by table T, so every probe was lost and
// `.not.toReachAny` passed on an open port (a false pass), `toReachOnly(r, [80])` failed.
import { expect, test } from '../../src/vitest.js';
import { failureOf } from '../matchers/helpers.js';

test('a source-address ip rule routes the sweep as it routes the client\'s own connections (TCP and UDP)', async ({ lab }) => {
  const [c, r] = await Promise.all([lab.netns('c'), lab.netns('r')]);
  const bridge = await lab.bridge('v-src');
  await Promise.all([bridge.attach(c, { address: '10.8.0.11/24', ifname: 'eth0' }), bridge.attach(r, { address: '10.8.0.1/24', ifname: 'eth0' })]);
  // table 200 leads to 10.8.0.99, which no namespace owns; only packets routed without c's own source take it
  await c.exec('ip', ['route', 'add', 'default', 'via', '10.8.0.99', 'table', '200']);
  await c.exec('ip', ['rule', 'add', 'not', 'from', '10.8.0.11', 'table', '200']);
  await r.exec('nft', ['-f', '-'], { input: 'table inet fw {\n chain input { type filter hook input priority 0; policy drop; ct state established,related accept; tcp dport 80 accept; udp dport 53 accept; }\n}\n' });
  // the kernel's own answer for a connection from c: via main, straight to r
  expect((await c.exec('ip', ['route', 'get', '10.8.0.1', 'from', '10.8.0.11'])).stdout).not.toContain('10.8.0.99');
  await expect(c).toReachOnly('10.8.0.1', [80]);
  await expect(c).toReachOnly('10.8.0.1', [53], { protocol: 'udp' });
  // and the negative claim fails, naming the port
  expect(await failureOf(expect(c).not.toReachAny('10.8.0.1'))).toMatch(/c reaches 1 TCP port of 10\.8\.0\.1: 80\n/);
}, 120_000);

test('an ip rule "from ITS_ADDRESS" to a dead gateway: the client\'s connections go nowhere, and neither do the sweep\'s probes', async ({ lab }) => {
  const [c, r] = await Promise.all([lab.netns('c'), lab.netns('r')]);
  const bridge = await lab.bridge('v-src');
  await Promise.all([bridge.attach(c, { address: '10.8.0.11/24', ifname: 'eth0' }), bridge.attach(r, { address: '10.8.0.1/24', ifname: 'eth0' })]);
  await c.exec('ip', ['route', 'add', 'default', 'via', '10.8.0.99', 'table', '200']);
  await c.exec('ip', ['rule', 'add', 'from', '10.8.0.11', 'table', '200']);
  // the kernel's own answer for a connection from c (its source address): table 200, the dead gateway
  expect((await c.exec('ip', ['route', 'get', '10.8.0.1', 'from', '10.8.0.11'])).stdout).toContain('via 10.8.0.99');
  // a plain TCP connect from c gets nowhere (port 80 has no listener: a RST would come back at once if it arrived)
  const connect = await c.exec('python3', ['-c', 'import socket; s = socket.socket(); s.settimeout(1.5)\ntry:\n  s.connect(("10.8.0.1", 80)); print("connected")\nexcept ConnectionRefusedError: print("refused")\nexcept OSError as e: print("nothing:", e)'], { reject: false });
  expect(connect.stdout).toMatch(/^nothing/);
  await expect(c).not.toReachAny('10.8.0.1', { protocol: ['tcp', 'udp'] });
  // and the positive claim fails
  expect(await failureOf(expect(c).toReachOnly('10.8.0.1', [80]))).toMatch(/does not reach allowed TCP port 80 of 10\.8\.0\.1/);
}, 120_000);
