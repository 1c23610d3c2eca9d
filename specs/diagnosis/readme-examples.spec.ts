// The README's failure examples, run for real: these tests FAIL on purpose, so they run only when asked
// (NETSPEC_README_EXAMPLES=1 npx vitest run specs/diagnosis/readme-examples.spec.ts); their console output is what the
// README shows, and its line count is what issue 25's "at most half" is measured on.
import { test, expect, type Lab } from '../../src/vitest.js';

const asked = process.env.NETSPEC_README_EXAMPLES === '1';

async function readmeNetwork(lab: Lab) {
  const wan = await lab.wan();
  const [web, db] = await Promise.all([lab.netns('web'), lab.netns('db')]);
  const br = await lab.bridge('br0', { address: '10.0.0.1/24' });
  await br.attach(web, { address: '10.0.0.2/24', gateway: true });
  await br.attach(db, { address: '10.0.0.3/24', gateway: true });
  await lab.host.forwarding(true);
  return { wan, web, db };
}

test.skipIf(!asked)('README example: NO_REPLY (the masquerade line dropped)', async ({ lab }) => {
  const { wan, web } = await readmeNetwork(lab);
  await expect(web).toReach('203.0.113.8', { seenAs: wan.hostAddress });
});

test.skipIf(!asked)('README example: FILTERED (a FORWARD rule drops tcp 443)', async ({ lab }) => {
  const { web } = await readmeNetwork(lab);
  await lab.host.masquerade('10.0.0.0/24');
  await lab.host.iptables(['-A', 'FORWARD', '-p', 'tcp', '--dport', '443', '-j', 'DROP']);
  await expect(web).toReach({ address: '203.0.113.8', port: 443 });
});

test.skipIf(!asked)('README example: a failing .not (what let it through)', async ({ lab }) => {
  const { web } = await readmeNetwork(lab);
  await lab.host.masquerade('10.0.0.0/24');
  await expect(web).not.toReach('203.0.113.8');
});
