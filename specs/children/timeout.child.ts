// Times out on purpose while its lab is full of things: the fixture must still dispose the lab.
import { writeFileSync } from 'node:fs';
import { test } from '../../src/vitest.js';

test('times out mid-test', async ({ lab }) => {
  const red = await lab.netns('red');
  const bridge = await lab.bridge('v-net-0', { address: '192.168.15.3/24' });
  await bridge.attach(red, { address: '192.168.15.1/24' });
  await lab.host.masquerade('192.168.15.0/24');
  const marker = process.env.NETSPEC_MARKER ?? '4242.2';
  await red.exec('sh', ['-c', `sleep ${marker} >/dev/null 2>&1 &`]);
  writeFileSync(process.env.NETSPEC_REPORT!, JSON.stringify({ pid: lab.pid }));
  await new Promise(() => undefined); // never resolves: Vitest's timeout ends the test
});
