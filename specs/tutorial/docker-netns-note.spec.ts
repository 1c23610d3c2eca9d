// The tutorial's note: Docker keeps its namespaces in /var/run/docker/netns, so `ip netns` does not list them until
// /var/run/netns points there. Reproduced inside a lab (its /run is its own).
import { expect, test } from '../../src/vitest.js';

test('a namespace bound outside /run/netns is invisible to `ip netns` until linked there', async ({ lab }) => {
  // what dockerd does: a network namespace bound to a file under /var/run/docker/netns
  await lab.sh`mkdir -p /var/run/docker/netns && touch /var/run/docker/netns/c0ffee && unshare --net=/var/run/docker/netns/c0ffee true`;
  const before = await lab.sh`ip netns`;
  expect(before.stdout.trim()).toBe('');
  expect(lab.namespaces()).toEqual([]);

  // the tutorial's fix (its /var/run/netns must not exist yet)
  await lab.sh`rmdir /var/run/netns && ln -s /var/run/docker/netns /var/run/netns`;
  const after = await lab.sh`ip netns`;
  expect(after.stdout).toMatch(/^c0ffee/m);
  const inside = await lab.sh`ip netns exec c0ffee ip -br link`;
  expect(inside.stdout).toMatch(/^lo\s+DOWN/m);
});
