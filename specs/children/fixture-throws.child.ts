// A fixture that builds a topology and then throws: the lab fixture under it must still be disposed.
import { writeFileSync } from 'node:fs';
import { readlinkSync } from 'node:fs';
import { test as base } from '../../src/vitest.js';
import { tutorialNetwork } from '../../fixtures/index.js';

const test = base.extend<{ topology: void }>({
  topology: async ({ lab }, use) => {
    writeFileSync(process.env.NETSPEC_REPORT!, JSON.stringify({ pid: lab.pid, pidns: readlinkSync(`/proc/${lab.pid}/ns/pid_for_children`) }));
    await tutorialNetwork(lab);
    await lab.get('red').exec('sh', ['-c', `sleep ${process.env.NETSPEC_MARKER} >/dev/null 2>&1 &`]);
    throw new Error('the fixture broke on purpose');
    await use(); // never reached
  },
});

test('uses a broken fixture', async ({ topology }) => {
  void topology;
});
