// A process that builds a lab, reports, and is killed by specs/reliability/faults.spec.ts or specs/harness/cleanup.spec.ts.
// Modes: `idle` (build everything, then wait), `build` (keep building), `probe` (wait inside a long probe).
import { readlinkSync } from 'node:fs';
import { createLab } from '../../src/index.js';
import { bridgeNetwork } from '../../fixtures/index.js';
import { toReach } from '../../src/matchers/index.js';

const marker = process.argv[2] ?? '4242.1';
const mode = process.argv[3] ?? 'idle';
const lab = await createLab();
const report = () =>
  process.stdout.write(JSON.stringify({ pid: lab.pid, pidns: readlinkSync(`/proc/${lab.pid}/ns/pid_for_children`), marker, mode }) + '\n');

if (mode === 'build') {
  report();
  for (let round = 0; ; round++) {
    await bridgeNetwork(lab, { names: Array.from({ length: 3 }, (_, i) => `r${round}n${i}`), bridge: `br${round}`, prefix: `10.${round % 250}.0.0/24`, gateway: false });
    await new Promise((r) => setTimeout(r, 50));
  }
}

const [red, blue] = await Promise.all([lab.netns('red'), lab.netns('blue')]);
const bridge = await lab.bridge('v-net-0', { address: '192.168.15.3/24' });
await Promise.all([bridge.attach(red, { address: '192.168.15.1/24', gateway: true }), bridge.attach(blue, { address: '192.168.15.2/24', gateway: true })]);
await lab.wan();
await Promise.all([lab.host.forwarding(true), lab.host.masquerade('192.168.15.0/24'), lab.host.policy('FORWARD', 'DROP')]);
await lab.sh`nft add table inet netspec_child`;
await red.exec('sh', ['-c', `sleep ${marker} >/dev/null 2>&1 &`]);
report();
if (mode === 'probe') {
  // a probe that would take 30 s: the kill lands while fping runs in the lab
  await toReach.call({ isNot: false }, red, '192.168.15.99', { timeout: 30_000 });
}
setInterval(() => undefined, 1 << 30);
