// Issue 15: toReach(target, { ttl }) asserts the hop count: the TTL (IPv6: hop limit) of the target's reply as the
// source's kernel received it. One router between: 63; two: 62; a wrong TTL fails and says what arrived; the value is
// the kernel's (a target that sends 100 is seen at 99); `.not` and TCP/UDP refuse ttl; bad values are refused.
import { describe, expect, test } from '../../src/vitest.js';
import { InvalidInputError, type Lab, type Netns } from '../../src/index.js';
import { failureOf } from './helpers.js';

/**
 * red — r1 — blue, and r1 — r2 — green, on IPv4 and IPv6:
 * red 10.0.1.2 / fd00:1::2, r1 10.0.1.1 (red's side), blue 10.0.2.2 / fd00:2::2 (one router), green 10.0.4.2 /
 * fd00:4::2 (two routers).
 */
async function routers(lab: Lab): Promise<Record<'red' | 'r1' | 'r2' | 'blue' | 'green', Netns>> {
  const [red, r1, r2, blue, green] = await Promise.all(['red', 'r1', 'r2', 'blue', 'green'].map((n) => lab.netns(n)));
  const cable = (a: Netns, an: string, b: Netns, bn: string, net: number) =>
    Promise.all([
      lab.veth({ ns: a, name: an, address: `10.0.${net}.1/24` }, { ns: b, name: bn, address: `10.0.${net}.2/24` }),
    ]).then(() => Promise.all([a.addAddress(`fd00:${net}::1/64`, an), b.addAddress(`fd00:${net}::2/64`, bn)]));
  await Promise.all([cable(r1!, 'to-red', red!, 'eth0', 1), cable(r1!, 'to-blue', blue!, 'eth0', 2), cable(r1!, 'to-r2', r2!, 'to-r1', 3), cable(r2!, 'to-green', green!, 'eth0', 4)]);
  await Promise.all([
    r1!.forwarding(true, { ipv6: true }),
    r2!.forwarding(true, { ipv6: true }),
    ...[[red!, 1], [blue!, 2], [green!, 4]].flatMap(([ns, net]) => [(ns as Netns).addRoute('default', { via: `10.0.${net}.1` }), (ns as Netns).addRoute('default', { via: `fd00:${net}::1` })]),
    r1!.addRoute('10.0.4.0/24', { via: '10.0.3.2' }),
    r1!.addRoute('fd00:4::/64', { via: 'fd00:3::2' }),
    r2!.addRoute('default', { via: '10.0.3.1' }),
    r2!.addRoute('default', { via: 'fd00:3::1' }),
  ]);
  return { red: red!, r1: r1!, r2: r2!, blue: blue!, green: green! };
}

describe('toReach { ttl }', () => {
  test('IPv4: a neighbor 64, one router 63, two routers 62; a wrong TTL fails and says what arrived and the route', async ({ lab }) => {
    const { red } = await routers(lab);
    await expect(red).toReach('10.0.1.1', { ttl: 64 });
    await expect(red).toReach('10.0.2.2', { ttl: 63 });
    await expect(red).toReach('10.0.4.2', { ttl: 62 });

    const one = await failureOf(expect(red).toReach('10.0.2.2', { ttl: 64 }));
    expect(one).toMatch(/^expect\(red\)\.toReach\("10\.0\.2\.2", \{"ttl":64\}\)/);
    expect(one).toMatch(/red reached 10\.0\.2\.2 with TTL 63, not 64 \(1 router on the way back, if 10\.0\.2\.2 sends TTL 64 as Linux does; route: via 10\.0\.1\.1 dev eth0 src 10\.0\.1\.2\)/);
    expect(one).toMatch(/red\$ ping 10\.0\.2\.2 .* 1 received \(reply ttl=63\)/);
    const two = await failureOf(expect(red).toReach('10.0.4.2', { ttl: 63 }));
    expect(two).toMatch(/red reached 10\.0\.4\.2 with TTL 62, not 63 \(2 routers on the way back, .*route: via 10\.0\.1\.1 dev eth0/);
  });

  test('IPv6: the hop limit, one router 63, two routers 62', async ({ lab }) => {
    const { red } = await routers(lab);
    await expect(red).toReach('fd00:1::1', { ttl: 64 });
    await expect(red).toReach('fd00:2::2', { ttl: 63 });
    await expect(red).toReach('fd00:4::2', { ttl: 62 });
    const msg = await failureOf(expect(red).toReach('fd00:4::2', { ttl: 64 }));
    expect(msg).toMatch(/red reached fd00:4::2 with hop limit 62, not 64 \(2 routers on the way back, if fd00:4::2 sends hop limit 64 as Linux does; route: via fd00:1::1 dev eth0/);
  });

  test('the TTL is the one the kernel received: a target that sends 100 is seen at 99 through a router', async ({ lab }) => {
    const { red, blue } = await routers(lab);
    await blue.sysctl('net.ipv4.ip_default_ttl', 100);
    await expect(red).toReach('10.0.2.2', { ttl: 99 });
    const msg = await failureOf(expect(red).toReach('10.0.2.2', { ttl: 63 }));
    expect(msg).toMatch(/red reached 10\.0\.2\.2 with TTL 99, not 63 \(route: via 10\.0\.1\.1/); // no router count above 64
  });

  test('an unreachable target with ttl fails as unreachable, with its diagnosis (never a TTL verdict)', async ({ lab }) => {
    const { red, r1 } = await routers(lab);
    await r1.forwarding(false);
    const msg = await failureOf(expect(red).toReach('10.0.2.2', { ttl: 63, timeout: 500 }));
    expect(msg).toMatch(/red cannot reach 10\.0\.2\.2 \(icmp\) \(FORWARDING_DISABLED\) within 500 ms/);
  });

  test('.not with ttl, and ttl on a TCP or UDP probe, are InvalidInputErrors; so is a TTL that is not 1..255', async ({ lab }) => {
    const { red } = await routers(lab);
    // refused before any probe, for a reachable target and an unreachable one alike (no verdict either way)
    for (const target of ['10.0.2.2', '10.0.9.9']) {
      const error = await expect(red).not.toReach(target, { ttl: 63 }).then(() => undefined, (e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidInputError);
      expect(String(error)).toMatch(/`\.not\.toReach` does not take ttl/);
    }
    for (const [target, options] of [
      [{ address: '10.0.2.2', port: 80 }, { ttl: 63 }],
      ['10.0.2.2', { ttl: 63, protocol: 'udp', port: 53 }],
    ] as const) {
      const error = await expect(red).toReach(target, options).then(() => undefined, (e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidInputError);
      expect(String(error)).toMatch(/the TTL is read from ICMP echo replies, and this is a (TCP|UDP) probe/);
    }
    for (const ttl of [-1, 0, 256, 1.5, '63', Number.NaN, Infinity, null]) {
      const error = await expect(red).toReach('10.0.2.2', { ttl: ttl as number }).then(() => undefined, (e: unknown) => e);
      expect(error, String(ttl)).toBeInstanceOf(InvalidInputError);
      expect(String(error)).toMatch(/invalid toReach option ttl/);
    }
  });
});
