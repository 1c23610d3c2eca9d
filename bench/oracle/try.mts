import { runCase } from './case.js';
const m = {
  clients: 2, servers: 2, forwarding: true, serverRoutes: [true, false], masquerade: 'nft',
  drops: [{ backend: 'iptables', table: 'filter', proto: 'tcp', ports: [443] }],
  dnats: [{ where: 'router', backend: 'nft', table: 'nat', to: 'vip', proto: 'tcp', port: 80, server: 1, toPort: 8080, map: true }],
  duplicateOf: 0,
  claims: [
    { kind: 'reach', from: 0, target: { kind: 'vip' }, proto: 'tcp', port: 80, not: true },
    { kind: 'reach', from: 0, target: { kind: 'server', i: 0 }, proto: 'icmp', port: 80, not: false, seenAs: { kind: 'client' } },
    { kind: 'reach', from: 1, target: { kind: 'server', i: 0 }, proto: 'tcp', port: 443, not: false },
    { kind: 'reach', from: 1, target: { kind: 'server', i: 1 }, proto: 'udp', port: 53, not: false, seenAs: { kind: 'router' } },
  ],
};
const r = await runCase(m as any);
console.log(JSON.stringify(r, null, 1));
