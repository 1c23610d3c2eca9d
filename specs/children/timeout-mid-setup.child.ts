// Times out while the topology is still being built: the lab must be disposed all the same.
import { readlinkSync, writeFileSync } from 'node:fs';
import { test } from '../../src/vitest.js';
import { bridgeNetwork } from '../../fixtures/index.js';

test('times out mid-setup', async ({ lab }) => {
  writeFileSync(process.env.NETSPEC_REPORT!, JSON.stringify({ pid: lab.pid, pidns: readlinkSync(`/proc/${lab.pid}/ns/pid_for_children`) }));
  for (let round = 0; ; round++) {
    await bridgeNetwork(lab, { names: Array.from({ length: 10 }, (_, i) => `r${round}n${i}`), bridge: `br${round}`, prefix: `10.${round % 250}.0.0/24`, gateway: false });
  }
});
