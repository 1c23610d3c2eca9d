// Issue 30: exposure across NAT (a Docker host's published ports, as the Internet sees them) and between tenants. The
// sweep is observed where each probe lands (the DNAT's target), never at the address named.
import { expect, test } from '../../src/vitest.js';
import { dockerHost } from '../../fixtures/index.js';
import type { Lab, Netns } from '../../src/index.js';
import { failureOf } from '../matchers/helpers.js';

/** Each sweep of every port takes a few seconds (more on a loaded machine), and a failure traces a probe per run of ports. */
const SWEEP_TEST_MS = 90_000;

test('a Docker host publishing only 443 passes toReachOnly([443]) from the wan; a second container publishing 5432 fails it, named with its DNAT rule', async ({ lab }) => {
  const docker = await dockerHost(lab, { userlandProxy: false });
  // the host's own ports are closed to the outside (`ufw default deny incoming`; a table of its own, which Docker's
  // iptables-restore leaves alone): only what Docker publishes gets in, as its DNAT goes around INPUT
  await lab.host.exec('nft', ['-f', '-'], { input: 'table inet hostfw {\n chain in { type filter hook input priority 0; policy drop; iifname "lo" accept; ct state established,related accept; }\n}\n' });
  const web = await docker.run('web', { publish: ['443:8443'] });
  const wan = docker.wan.ns;
  await expect(wan).toReachOnly(docker.address, [{ port: 443 }]);
  await docker.run('db', { publish: ['5432:5432'] });
  const msg = await failureOf(expect(wan).toReachOnly(docker.address, [{ port: 443 }]));
  expect(msg).toMatch(new RegExp(`wan reaches 1 TCP port of ${docker.address.replaceAll('.', '\\.')} that is not allowed: 5432\\n`));
  // where it lands: the db container, through Docker's DNAT rule, named
  expect(msg).toMatch(/5432\/tcp: delivered to db on 172\.17\.0\.3:5432 \(rewritten on the way: DNAT\)/);
  expect(msg).toMatch(/host: DNAT \S+:5432 → 172\.17\.0\.3:5432 \(rule `-A DOCKER (! -i docker0 )?-p tcp -m tcp --dport 5432 -j DNAT --to-destination 172\.17\.0\.3:5432`\)/);
  // 443 lands in web, on the port the container listens on: the allowed port is the one named at the host
  expect(web.address).toBe('172.17.0.2');
  expect(msg).not.toMatch(/443\/tcp: delivered/);
}, SWEEP_TEST_MS);

/** Two tenants behind the lab host, routed: a 10.20.1.2, b 10.20.2.2; the host's FORWARD isolates them (policy drop). */
async function tenants(lab: Lab): Promise<{ a: Netns; b: Netns }> {
  const [a, b] = await Promise.all([lab.netns('tenant-a'), lab.netns('tenant-b')]);
  const [ba, bb] = await Promise.all([lab.bridge('v-ta', { address: '10.20.1.1/24' }), lab.bridge('v-tb', { address: '10.20.2.1/24' })]);
  await Promise.all([ba.attach(a, { address: '10.20.1.2/24', gateway: true }), bb.attach(b, { address: '10.20.2.2/24', gateway: true })]);
  await lab.host.forwarding(true);
  await lab.host.exec('nft', ['-f', '-'], { input: 'table inet iso {\n chain tfwd { type filter hook forward priority 0; policy drop; ct state established,related accept; }\n}\n' });
  return { a, b };
}

test('tenant isolation: not.toReachAny passes when isolated (TCP and UDP), and fails naming the port one rule opens', async ({ lab }) => {
  const { a, b } = await tenants(lab);
  await expect(a).not.toReachAny(b, { protocol: ['tcp', 'udp'] });
  await expect(b).not.toReachAny(a);
  // one rule, too wide in its source, lets tenant a in on 8080
  await lab.host.exec('nft', ['add', 'rule', 'inet', 'iso', 'tfwd', 'ip', 'daddr', '10.20.2.2', 'tcp', 'dport', '8080', 'accept']);
  const msg = await failureOf(expect(a).not.toReachAny(b, { protocol: ['tcp', 'udp'] }));
  expect(msg).toMatch(/tenant-a reaches 1 TCP port of 10\.20\.2\.2: 8080\n/);
  expect(msg).toMatch(/8080\/tcp: delivered to tenant-b on 10\.20\.2\.2:8080/);
  expect(msg).toMatch(/port 8080: host: inet iso tfwd rule `ip daddr 10\.20\.2\.2 tcp dport 8080 accept`/);
  expect(msg).not.toMatch(/UDP port/);
  // the positive form agrees
  await expect(a).toReachOnly(b, [8080]);
}, SWEEP_TEST_MS);

test('a DNAT on a router to a port nothing names: the landing (and its port) is where the probe was delivered', async ({ lab }) => {
  const { a, b } = await tenants(lab);
  // 10.20.1.1:2222 (the router's own address) is forwarded to tenant b's ssh
  await lab.host.exec('nft', ['-f', '-'], { input: 'table ip pub {\n chain pre { type nat hook prerouting priority dstnat; policy accept; tcp dport 2222 dnat to 10.20.2.2:22; }\n}\n' });
  await lab.host.exec('nft', ['add', 'rule', 'inet', 'iso', 'tfwd', 'ip', 'daddr', '10.20.2.2', 'tcp', 'dport', '22', 'accept']);
  // the router's own ports are open (no input filter): closed them but for what it forwards
  await lab.host.exec('nft', ['-f', '-'], { input: 'table inet guard {\n chain in { type filter hook input priority 0; policy drop; ct state established,related accept; }\n}\n' });
  await expect(a).toReachOnly('10.20.1.1', [2222]);
  const msg = await failureOf(expect(a).toReachOnly('10.20.1.1', [22]));
  expect(msg).toMatch(/2222\/tcp: delivered to tenant-b on 10\.20\.2\.2:22 \(rewritten on the way: DNAT\)/);
  expect(msg).toMatch(/does not reach allowed TCP port 22 of 10\.20\.1\.1/);
  expect(b.name).toBe('tenant-b');
}, SWEEP_TEST_MS);
