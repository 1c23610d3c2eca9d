// Times out while the topology is still being built: the lab must be disposed all the same.
import { readlinkSync, writeFileSync } from 'node:fs';
import { test } from '../../src/vitest.js';
import { bridgeNetwork } from '../../fixtures/index.js';

test('times out mid-setup', async ({ lab }) => {
  writeFileSync(process.env.NETSPEC_REPORT!, JSON.stringify({ pid: lab.pid, pidns: readlinkSync(`/proc/${lab.pid}/ns/pid_for_children`) }));
  // keeps building, at a pace that leaves the kernel little to free afterwards, until the timeout hits
  for (let round = 0; ; round++) {
    await bridgeNetwork(lab, { names: Array.from({ length: 3 }, (_, i) => `r${round}n${i}`), bridge: `br${round}`, prefix: `10.${round % 250}.0.0/24`, gateway: false });
    await new Promise((r) => setTimeout(r, 100));
  }
});
