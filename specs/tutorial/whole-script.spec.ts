// The tutorial's commands as one script, run verbatim (fixtures/scripts/container-network.sh), end in the final state
// the tutorial describes.
import { expect, test } from '../../src/vitest.js';

test('the whole tutorial script ends with red and blue on the Internet through NAT', async ({ lab }) => {
  const wan = await lab.wan();
  const out = await lab.script('fixtures/scripts/container-network.sh');
  expect(out.stdout).toMatch(/1 packets transmitted, 1 received/);
  const [red, blue] = [lab.get('red'), lab.get('blue')];
  await expect(red).toReach(blue);
  await expect(blue).toReach('192.168.15.3');
  await expect(lab.host).toForward();
  await expect(red).toRouteVia('203.0.113.8', '192.168.15.3');
  await expect(red).toReach('203.0.113.8', { seenAs: wan.hostAddress });
  await expect(blue).toReach('203.0.113.8', { seenAs: wan.hostAddress });
  await expect(red).toHaveRouteEntry({ destination: 'default', gateway: '192.168.15.3' });
});
