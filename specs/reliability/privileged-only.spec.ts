// Issue 23: what a user-namespace lab (the default) cannot do is a PrerequisiteError that names `privileged: true`,
// not the kernel's bare "Operation not permitted" or "No such file"; a full-privilege lab (root only) does it.
import { expect, test } from '../../src/vitest.js';
import { createLab, PrerequisiteError, type Lab } from '../../src/index.js';

const root = process.getuid?.() === 0;

const rewrite = (lab: Lab) =>
  lab.host.exec('sh', ['-c', "nft add table ip t && nft add chain ip t c '{ type filter hook prerouting priority 0; }' && nft add rule ip t c tcp dport 8080 tcp dport set 80"]);

/** The error `promise` rejects with (fails the test if it resolves). */
const failure = (promise: Promise<unknown>) =>
  promise.then(
    () => expect.fail('expected a failure'),
    (e: unknown) => e,
  );

test('nft payload rewriting (`tcp dport set 80`) in the default lab: a PrerequisiteError naming privileged: true', async ({ lab }) => {
  const error = await failure(rewrite(lab));
  expect(error).toBeInstanceOf(PrerequisiteError);
  expect((error as Error).message).toMatch(/nft payload rewriting .*tcp dport set 80.* is not available: .*createLab\(\{ privileged: true \}\)/s);
  // what a lab may do with nft still works: a rule that only matches
  await lab.host.exec('nft', ['add', 'rule', 'ip', 't', 'c', 'tcp', 'dport', '8080', 'counter']);
});

test('a net.ipv6.route.* sysctl in the default lab: a PrerequisiteError naming privileged: true', async ({ lab }) => {
  const error = await failure(lab.host.sysctl('net.ipv6.route.gc_timeout', 60));
  expect(error).toBeInstanceOf(PrerequisiteError);
  expect((error as Error).message).toMatch(/the sysctl net\.ipv6\.route\.gc_timeout in a user-namespace lab is not available: .*privileged: true/s);
  // the other net.* sysctls are the lab's
  await lab.host.sysctl('net.ipv6.conf.all.forwarding', 1);
});

test.runIf(root)('a full-privilege lab does both', async () => {
  await using lab = await createLab({ privileged: true });
  await rewrite(lab);
  await lab.host.sysctl('net.ipv6.route.gc_timeout', 61);
  expect((await lab.host.exec('sysctl', ['-n', 'net.ipv6.route.gc_timeout'])).stdout.trim()).toBe('61');
});

test('a uidrange beyond the ids the lab maps: a PrerequisiteError saying which ids it has; within them, the rule is made', async ({ lab }) => {
  // a root lab maps 65,536 ids, an ordinary user's one: 70000 is beyond either
  const error = await failure(lab.host.exec('ip', ['rule', 'add', 'uidrange', '70000-70001', 'table', '100']));
  expect(error).toBeInstanceOf(PrerequisiteError);
  expect((error as Error).message).toMatch(/a uidrange beyond the ids this lab maps is not available: .*a lab made by an ordinary user maps one .*Run the tests as root/s);
  await lab.host.exec('ip', ['rule', 'add', 'uidrange', '0-0', 'table', '100']);
  expect((await lab.host.exec('ip', ['rule', 'show'])).stdout).toMatch(/uidrange 0-0 lookup 100/);
});
