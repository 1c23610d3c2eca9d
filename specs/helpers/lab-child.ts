// A process that builds a lab with everything in it, reports, and waits to be killed (run by specs/harness/cleanup.spec.ts).
import { createLab } from '../../src/index.js';

const marker = process.argv[2] ?? '4242.1';
const lab = await createLab();
const [red, blue] = await Promise.all([lab.netns('red'), lab.netns('blue')]);
const bridge = await lab.bridge('v-net-0', { address: '192.168.15.3/24' });
await Promise.all([bridge.attach(red, { address: '192.168.15.1/24', gateway: true }), bridge.attach(blue, { address: '192.168.15.2/24', gateway: true })]);
await lab.wan();
await Promise.all([lab.host.forwarding(true), lab.host.masquerade('192.168.15.0/24'), lab.host.policy('FORWARD', 'DROP')]);
await lab.sh`nft add table inet netspec_child`;
await red.exec('sh', ['-c', `sleep ${marker} >/dev/null 2>&1 &`]);
process.stdout.write(JSON.stringify({ pid: lab.pid, marker }) + '\n');
setInterval(() => undefined, 1 << 30);
