// The differential oracle's own soundness (bench/oracle/, README: The oracle): on labs whose answers are known by
// construction, the oracle's observations (listeners, socat/ping with a nonce, ip route get / ip rule show) say what is
// true and what is false. netspec's verdicts are not asked here: an oracle bug must not pass for a netspec bug.
import { expect, test } from '../../src/vitest.js';
import { runCase } from '../../bench/oracle/case.js';
import type { Claim, LabModel } from '../../bench/oracle/model.js';
import type { Lab } from '../../src/index.js';

const base = (over: Partial<LabModel>): LabModel => ({
  clients: 1,
  servers: 1,
  forwarding: true,
  serverRoutes: [true],
  drops: [],
  dnats: [],
  policies: [],
  services: [],
  claims: [],
  ...over,
});

async function truths(lab: Lab, m: LabModel): Promise<boolean[]> {
  const r = await runCase(m, { lab, askNetspec: false });
  if (r.error) throw new Error(r.error);
  return r.claims.map((c) => c.truth);
}

const reach = (c: Partial<Extract<Claim, { kind: 'reach' }>>): Claim => ({ kind: 'reach', from: 0, target: { kind: 'server', i: 0 }, proto: 'tcp', port: 80, not: false, ...c });

test.concurrent('a DNAT to a VIP nobody owns lands on the server, seen as the router under MASQUERADE, not as the client', async ({ lab }) => {
  const m = base({
    serverRoutes: [false],
    masquerade: 'iptables',
    dnats: [{ where: 'router', backend: 'nft', table: 'nat', to: 'vip', proto: 'tcp', port: 80, server: 0, toPort: 8080, map: true }],
    claims: [
      reach({ target: { kind: 'vip' }, seenAs: { kind: 'router' } }),
      reach({ target: { kind: 'vip' }, seenAs: { kind: 'client' } }),
      reach({ target: { kind: 'vip' }, port: 443 }),
      reach({ target: { kind: 'vip' }, not: true }),
    ],
  });
  expect(await truths(lab, m)).toEqual([true, false, false, false]);
});

test.concurrent('a FORWARD drop of TCP 443 (negated source) stops that port only; without a way back nothing answers', async ({ lab }) => {
  const m = base({
    servers: 2,
    serverRoutes: [true, false],
    drops: [{ backend: 'iptables', table: 'filter', proto: 'tcp', ports: [443], src: 0, negateSrc: true }, { backend: 'nft', table: 'filter', proto: 'tcp', ports: [53], src: 0 }],
    claims: [
      reach({ port: 443 }), // ! -s c1: c1 passes
      reach({ port: 53 }), // nft: ip saddr c1 tcp dport 53 drop
      reach({ proto: 'icmp' }),
      reach({ target: { kind: 'server', i: 1 }, proto: 'icmp' }), // s2 has no route back
    ],
  });
  expect(await truths(lab, m)).toEqual([true, false, true, false]);
});

test.concurrent("UDP to the router's far address is answered from that address; forwarding off stops the servers", async ({ lab }) => {
  const m = base({
    forwarding: false,
    claims: [reach({ target: { kind: 'router', side: 'B' }, proto: 'udp', port: 53 }), reach({ proto: 'udp', port: 53 }), reach({ proto: 'udp', port: 53, not: true })],
  });
  expect(await truths(lab, m)).toEqual([true, false, true]);
});

test.concurrent('a silent UDP server counts as reached; a proxy is reached only through to a live upstream', async ({ lab }) => {
  const m = base({
    servers: 2,
    services: [
      { where: { server: 0 }, kind: 'silent', proto: 'udp', port: 9001 },
      { where: 'router', kind: 'proxy', proto: 'tcp', port: 9000, upstream: { server: 1, port: 9002 } },
      { where: { server: 1 }, kind: 'echo', proto: 'tcp', port: 9000 },
      { where: 'router', kind: 'proxy', proto: 'tcp', port: 9001, upstream: { server: 1, port: 9000 } },
    ],
    serverRoutes: [true, true],
    claims: [
      { kind: 'service', from: 0, service: 0, not: true },
      { kind: 'service', from: 0, service: 1, not: false },
      { kind: 'service', from: 0, service: 2, not: false },
      { kind: 'service', from: 0, service: 3, not: false },
    ],
  });
  expect(await truths(lab, m)).toEqual([false, false, true, true]);
});

test.concurrent('policy routing: ip route get with a mark and ip rule show, `not` rules included', async ({ lab }) => {
  const m = base({
    policies: [{ client: 0, mark: 1, table: 100, via: 'alt', byFrom: false, not: false }],
    claims: [
      { kind: 'route', client: 0, dest: { kind: 'vip' }, gw: 'alt', mark: 1, not: false },
      { kind: 'route', client: 0, dest: { kind: 'vip' }, gw: 'alt', not: false },
      { kind: 'rule', client: 0, byFrom: false, mark: 1, table: 100, not: false },
      { kind: 'rule', client: 0, byFrom: false, mark: 1, table: 200, not: false },
    ],
  });
  expect(await truths(lab, m)).toEqual([true, false, true, false]);
});

test.concurrent('a `not from` rule is not a rule for that source; a `from` rule is', async ({ lab }) => {
  const m = base({
    clients: 2,
    policies: [
      { client: 0, mark: 1, table: 100, via: 'router', byFrom: true, not: true },
      { client: 1, mark: 1, table: 200, via: 'router', byFrom: true, not: false },
    ],
    claims: [
      { kind: 'rule', client: 0, byFrom: true, mark: 1, table: 100, not: false },
      { kind: 'rule', client: 0, byFrom: true, mark: 1, table: 100, not: true },
      { kind: 'rule', client: 1, byFrom: true, mark: 1, table: 200, not: false },
      { kind: 'rule', client: 1, byFrom: true, mark: 1, table: 100, not: false },
    ],
  });
  expect(await truths(lab, m)).toEqual([false, true, true, false]);
});
