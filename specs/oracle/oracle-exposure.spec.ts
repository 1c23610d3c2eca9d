// The differential oracle's exposure claims (issue 30; bench/oracle/, README: The oracle): on labs whose exposure is
// known by construction (an input guard, a DNAT, a server without a route back), the oracle's own observation of a
// sample of ports (bench/oracle/knock.py, the listeners' raw sockets) says which claims are true. netspec is not asked
// here: an oracle bug must not pass for a netspec bug.
import { expect, test } from '../../src/vitest.js';
import { exposureSample, namedPorts, runCase } from '../../bench/oracle/case.js';
import type { ExposureClaim, LabModel } from '../../bench/oracle/model.js';
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

const exposure = (c: Partial<ExposureClaim>): ExposureClaim => ({ kind: 'exposure', from: 0, target: { kind: 'server', i: 0 }, proto: 'tcp', allow: [], sample: [22, 3306], ...c });

async function truths(lab: Lab, m: LabModel): Promise<{ truth: boolean; oracle: string }[]> {
  const r = await runCase(m, { lab, askNetspec: false });
  if (r.error) throw new Error(r.error);
  return r.claims.map((c) => ({ truth: c.truth, oracle: c.oracle }));
}

test.concurrent('a guard opening a port and a range: exactly those are exposed, a rejected or dropped port is not', { timeout: 60_000 }, async ({ lab }) => {
  const m = base({
    guards: [{ where: { server: 0 }, backend: 'nft', proto: 'tcp', ports: [80], range: [8079, 8081], reject: true }],
    claims: [
      exposure({ allow: [80, [8079, 8081]] }),
      exposure({ allow: [80] }), // 8079-8081 are open too
      exposure({ allow: [80, [8079, 8082]] }), // 8082 is rejected
      exposure({ allow: undefined }), // .not.toReachAny
      exposure({ allow: undefined, proto: 'udp' }), // the guard drops every datagram
    ],
  });
  const t = await truths(lab, m);
  expect(t.map((x) => x.truth), t.map((x) => x.oracle).join('\n')).toEqual([true, false, false, false, true]);
  expect(t[1]!.oracle).toContain('exposed and not allowed: 8079, 8080, 8081');
  expect(t[2]!.oracle).toContain('allowed and closed: 8082');
});

test.concurrent('iptables: the guard policy drops, a DNAT of the VIP publishes a guarded port, the listening view counts a server of the lab only', { timeout: 60_000 }, async ({ lab }) => {
  const m = base({
    guards: [{ where: { server: 0 }, backend: 'iptables', proto: 'tcp', ports: [443, 9000] }],
    dnats: [{ where: 'router', backend: 'iptables', table: 'nat', to: 'vip', proto: 'tcp', port: 8443, server: 0, toPort: 443 }],
    services: [{ where: { server: 0 }, kind: 'echo', proto: 'tcp', port: 9000 }],
    claims: [
      exposure({ target: { kind: 'vip' }, allow: [8443] }),
      exposure({ target: { kind: 'vip' }, allow: undefined }),
      exposure({ allow: [443, 9000] }),
      exposure({ allow: [9000], listening: true }), // 443 is exposed, but nothing listens there
      exposure({ allow: [443, 9000], listening: true }),
    ],
  });
  const t = await truths(lab, m);
  expect(t.map((x) => x.truth), t.map((x) => x.oracle).join('\n')).toEqual([true, false, true, true, false]);
  // the DNAT's landing, as the raw socket in s1 saw it
  expect(t[0]!.oracle).toContain('8443 (s1 10.0.2.11:443)');
});

// regression: a server without a route back made the listener's UDP answer fail, which ended the listener: nothing it
// received after was recorded, and every port looked closed
test.concurrent('a server with no route back: its UDP ports are exposed all the same (delivered, unanswered)', { timeout: 60_000 }, async ({ lab }) => {
  const m = base({ serverRoutes: [false], claims: [exposure({ proto: 'udp', allow: [] }), exposure({ proto: 'tcp', allow: [] })] });
  const t = await truths(lab, m);
  expect(t.map((x) => x.truth), t.map((x) => x.oracle).join('\n')).toEqual([false, false]);
  for (const x of t) expect(x.oracle).toContain('exposed and not allowed: ');
  expect(t[0]!.oracle).toContain('80 (s1 10.0.2.11:80)');
});

test('the ports the oracle samples and the ports it reads from netspec\'s message', () => {
  const m = base({ guards: [{ where: { server: 0 }, backend: 'nft', proto: 'tcp', ports: [443], range: [1000, 1002] }] });
  const s = exposureSample(m, exposure({ allow: [22, [5000, 5001]], sample: [7, 65535] }));
  for (const p of [22, 443, 999, 1000, 1001, 1002, 1003, 4999, 5000, 5001, 5002, 7, 65535, 80, 53, 8080, 9000, 9001, 9002]) expect(s).toContain(p);
  expect(
    namedPorts(
      'expect(c1).toReachOnly(…)\n\nc1 reaches 3 TCP ports of 10.0.2.11 that are not allowed: 22, 1000-2000\nc1 does not reach allowed TCP ports 80, 443 of 10.0.2.11: no probe …',
    ),
  ).toEqual([22, 80, 443, 1000, 1001, 1500, 1999, 2000]);
  expect(namedPorts('c1 reaches 65535 UDP ports of 10.0.2.13: 1-65535')).toEqual([1, 2, 32768, 65534, 65535]);
  expect(namedPorts('c1 reaches exactly 80/tcp of 10.0.2.11')).toEqual([]);
});
