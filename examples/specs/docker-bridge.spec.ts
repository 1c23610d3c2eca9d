// Docker's default bridge behaviour, emulated in a lab (no Docker engine needed): outbound NAT, a published port, and
// Docker's isolation between networks.
import { expect, test } from 'netspec/vitest';
import { dockerHost } from 'netspec/fixtures';

test('a container reaches the Internet, and its published port is reached from outside', async ({ lab }) => {
  const docker = await dockerHost(lab);
  await docker.createNetwork('web');
  const c1 = await docker.run('c1', { network: 'web', publish: ['8080:80'] });
  await expect(c1.ns).toReach('203.0.113.8'); // outbound, MASQUERADEd
  await expect(docker.wan.ns).toReach({ address: docker.address, port: 8080 }); // the published port, via DNAT
  await expect(docker.wan.ns).not.toReach({ address: docker.address, port: 8081 }); // nothing published there
});

test('containers on two networks do not reach each other', async ({ lab }) => {
  const docker = await dockerHost(lab);
  await Promise.all([docker.createNetwork('front'), docker.createNetwork('back')]);
  const [a, b] = await Promise.all([docker.run('a', { network: 'front' }), docker.run('b', { network: 'back' })]);
  await expect(a.ns).not.toReach(b.address, { because: 'FILTERED' });
});
