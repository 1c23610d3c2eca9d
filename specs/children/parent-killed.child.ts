// A long test whose Vitest main process is SIGKILLed from outside (specs/reliability/settle-parent.spec.ts): the
// worker must notice, end its lab and exit within seconds instead of running on.
import { readlinkSync, writeFileSync } from 'node:fs';
import { test } from '../../src/vitest.js';

test('runs on while the main process is killed', async ({ lab }) => {
  const red = await lab.netns('red');
  await red.exec('sh', ['-c', 'sleep 600 >/dev/null 2>&1 &']); // a process in the lab, which must end with it
  writeFileSync(process.env.NETSPEC_REPORT!, JSON.stringify({ worker: process.pid, parent: process.ppid, lab: lab.pid, pidns: readlinkSync(`/proc/${lab.pid}/ns/pid_for_children`) }));
  await new Promise((r) => setTimeout(r, 60_000));
});
