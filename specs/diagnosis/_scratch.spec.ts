import { test } from '../../src/vitest.js';
import { bridgeNetwork } from '../../fixtures/index.js';
test('scratch', async ({ lab }) => {
  const net = await bridgeNetwork(lab, { names: ['red', 'blue', 'green'], nat: true });
  const wan = net.wan!;
  await wan.ns.forwarding(true);
  await wan.ns.addRoute('default', { via: wan.hostAddress });
  await net.red.addAddress('10.99.0.1/32', 'veth-red');
  await lab.host.addRoute('10.99.0.1/32', { via: '192.168.15.1' });
  const p = await net.red.exec('ping', ['-c2', '-W1', '-I', '10.99.0.1', '203.0.113.99'], { reject: false });
  console.log('PING', p.exitCode, p.stdout, p.stderr);
  const q = await net.red.exec('timeout', ['-s', 'INT', '1', 'ping', '-i', '0.1', '-I', '10.99.0.1', '203.0.113.99'], { reject: false });
  console.log('PING2', q.exitCode, q.stdout, q.stderr);
});
