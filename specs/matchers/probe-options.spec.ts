// Issue 27: what a probe's packets carry. `toReach(target, { tos, sourcePort, size, dontFragment })`: a TOS that a
// policy rule routes by (and without it, no route), a fixed source port a filter drops (another passes, and counters
// see which), the path MTU (DF + a packet bigger than the path fails naming the MTU and the router that said so;
// without DF it passes), and serve() listening on IPv6 as well as IPv4 when given no address, as its doc says.
import { describe, expect, test } from '../../src/vitest.js';
import { InvalidInputError, serve, type Lab, type Netns } from '../../src/index.js';

/** red 10.0.0.1 / fd00::1 — blue 10.0.0.2 / fd00::2 on one veth; blue also holds 10.9.0.1 on lo. */
async function pair(lab: Lab): Promise<{ red: Netns; blue: Netns }> {
  const [red, blue] = await Promise.all([lab.netns('red'), lab.netns('blue')]);
  await lab.veth({ ns: red, name: 'veth-red', address: '10.0.0.1/24' }, { ns: blue, name: 'veth-blue', address: '10.0.0.2/24' });
  await Promise.all([red.addAddress('fd00::1/64', 'veth-red'), blue.addAddress('fd00::2/64', 'veth-blue'), blue.addAddress('10.9.0.1/32', 'lo')]);
  return { red, blue };
}

/** red 10.1.0.2 —(1500)— r —(MTU 1400)— blue 10.2.0.2; r forwards. */
async function narrowPath(lab: Lab) {
  const [red, r, blue] = await Promise.all(['red', 'r', 'blue'].map((n) => lab.netns(n))) as [Netns, Netns, Netns];
  await lab.veth({ ns: red, name: 'eth0', address: '10.1.0.2/24' }, { ns: r, name: 'a0', address: '10.1.0.1/24' });
  await lab.veth({ ns: r, name: 'b0', address: '10.2.0.1/24', mtu: 1400 }, { ns: blue, name: 'eth0', address: '10.2.0.2/24', mtu: 1400 });
  await Promise.all([red.addRoute('default', { via: '10.1.0.1' }), blue.addRoute('default', { via: '10.2.0.1' }), r.forwarding()]);
  return { red, r, blue };
}

describe('tos', () => {
  test('a rule that routes TOS 0x10 to table 100: with tos the probe reaches (ICMP and TCP), without it there is NO route', async ({ lab }) => {
    const { red } = await pair(lab);
    await red.addRoute('10.9.0.1/32', { via: '10.0.0.2', table: 100 });
    await red.addRule({ tos: 0x10, table: 100, priority: 100 });
    await expect(red).toReach('10.9.0.1', { tos: 0x10 });
    await expect(red).toReach({ address: '10.9.0.1', port: 80 }, { tos: 0x10 });
    await expect(red).not.toReach('10.9.0.1', { because: 'NO_ROUTE' });
    await expect(red).not.toReach('10.9.0.1', { tos: 0x08, because: 'NO_ROUTE' });
    await expect(red).not.toReach({ address: '10.9.0.1', port: 80 }, { window: 500 });
    // the positive fails without the TOS
    await expect(expect(red).toReach('10.9.0.1', { timeout: 500 })).rejects.toThrow(/cannot reach 10\.9\.0\.1 \(icmp\) \(NO_ROUTE\)/);
  });

  test('bad tos: out of range, or TCP over IPv6 (socat sets no traffic class)', async ({ lab }) => {
    const { red } = await pair(lab);
    await expect(expect(red).toReach('10.0.0.2', { tos: 256 })).rejects.toThrow(/invalid toReach option tos 256: expected a whole number from 0 to 255/);
    await expect(expect(red).toReach('10.0.0.2', { tos: 1.5 })).rejects.toThrow(InvalidInputError);
    await expect(expect(red).toReach({ address: 'fd00::2', port: 80 }, { tos: 0x10 })).rejects.toThrow(/socat \(1\.7\) sets no IPv6 traffic class/);
    await expect(red).toReach('fd00::2', { tos: 0x10 }); // ICMPv6 carries it (ping -Q)
  });
});

describe('sourcePort', () => {
  test('a filter on source port 4444 drops the probe from 4444 (FILTERED); from 4445 it reaches; counters see both ports', async ({ lab }) => {
    const { red, blue } = await pair(lab);
    await blue.iptables(['-A', 'INPUT', '-p', 'tcp', '--sport', '4444', '-j', 'DROP']);
    const from4444 = await blue.counter({ protocol: 'tcp', sport: 4444, dport: 80 });
    const from4445 = await blue.counter({ protocol: 'tcp', sport: 4445, dport: 80 });
    await expect(red).toReach({ address: '10.0.0.2', port: 80 }, { sourcePort: 4445 });
    await expect(red).not.toReach({ address: '10.0.0.2', port: 80 }, { sourcePort: 4444, because: 'FILTERED' });
    await expect(from4444).toCount({ atLeast: 1 });
    await expect(from4445).toCount({ atLeast: 1 });
    // UDP too; and an ICMP probe has no ports
    await expect(red).toReach({ address: '10.0.0.2', port: 53 }, { protocol: 'udp', sourcePort: 4446 });
    await expect(expect(red).toReach('10.0.0.2', { sourcePort: 4447 })).rejects.toThrow(/an ICMP probe has no ports/);
    await expect(expect(red).toReach({ address: '10.0.0.2', port: 80 }, { sourcePort: 0 })).rejects.toThrow(/expected a whole number from 1 to 65535/);
  });
});

describe('size and dontFragment: the path MTU', () => {
  test('DF + 1400 bytes passes a 1400-byte path; DF + 1401 fails naming MTU 1400 and the router; without DF 1500 passes', async ({ lab }) => {
    const { red } = await narrowPath(lab);
    const fragNeeded = await red.counter({ protocol: 'icmp', icmpType: 'destination-unreachable', icmpCode: 4, src: '10.1.0.1' });
    await expect(red).toReach('10.2.0.2', { size: 1400, dontFragment: true });
    await expect(fragNeeded).toCount({ exactly: 0 });
    await expect(expect(red).toReach('10.2.0.2', { size: 1401, dontFragment: true })).rejects.toThrow(
      /red cannot reach 10\.2\.0\.2 \(icmp\): a 1401-byte packet with DF set does not fit the path MTU 1400 \((ICMP "fragmentation needed" from 10\.1\.0\.1|red's own kernel refused to send it[^)]*)\)/,
    );
    await expect(fragNeeded).toCount({ atLeast: 1 }); // the router's ICMP, as upstream's PMTU tests count it
    await expect(red).not.toReach('10.2.0.2', { size: 1401, dontFragment: true });
    await expect(red).toReach('10.2.0.2', { size: 1500, dontFragment: false });
    await expect(red).toReach('10.2.0.2', { size: 1401 }); // the kernel's default: it learns the path MTU and fragments itself
  });

  test('a fresh path: the first DF probe over the MTU gets the router\'s ICMP, named in the message', async ({ lab }) => {
    const { red } = await narrowPath(lab);
    const error = await expect(red).toReach('10.2.0.2', { size: 1500, dontFragment: true, timeout: 1000 }).catch((e: unknown) => e);
    expect(String(error)).toMatch(/a 1500-byte packet with DF set does not fit the path MTU 1400 \(ICMP "fragmentation needed" from 10\.1\.0\.1\)/);
  });

  test('a fresh path without dontFragment: the kernel\'s default learns the MTU from the router and fragments; reached, not a PMTU failure', async ({ lab }) => {
    const { red } = await narrowPath(lab);
    await expect(red).toReach('10.2.0.2', { size: 1401 });
    await expect(red).toReach('10.2.0.2', { size: 3000 });
  });

  test('size and dontFragment are ICMP only, size counts the headers (64 at least)', async ({ lab }) => {
    const { red } = await pair(lab);
    await expect(expect(red).toReach({ address: '10.0.0.2', port: 80 }, { size: 1000 })).rejects.toThrow(/size is set on ICMP echo requests \(ping -s \/ -M\); this is a TCP probe/);
    await expect(expect(red).toReach({ address: '10.0.0.2', port: 80 }, { dontFragment: true })).rejects.toThrow(/dontFragment is set on ICMP echo requests/);
    await expect(expect(red).toReach('10.0.0.2', { size: 63 })).rejects.toThrow(/expected a whole number from 64 to 65535: the IP packet's size in bytes, headers included \(28 of them here\)/);
    await expect(expect(red).toReach('10.0.0.2', { dontFragment: 'yes' as never })).rejects.toThrow(/expected a boolean/);
    // the veth's own MTU (1500): 1500 passes with DF, 1501 is refused by red's own kernel
    await expect(red).toReach('10.0.0.2', { size: 1500, dontFragment: true });
    await expect(expect(red).toReach('10.0.0.2', { size: 1501, dontFragment: true, timeout: 500 })).rejects.toThrow(/a 1501-byte packet with DF set does not fit the path MTU 1500 \(red's own kernel refused to send it/);
    await expect(red).toReach('fd00::2', { size: 1500, dontFragment: true });
  });
});

describe('serve() with no address listens on IPv4 and IPv6', () => {
  test('TCP and UDP: reached over both families, and the source it reports is the real one (not ::ffff:…)', async ({ lab }) => {
    const { red } = await pair(lab);
    const tcp = await serve(lab.enter('blue'), { port: 8080 });
    const udp = await serve(lab.enter('blue'), { port: 8053, protocol: 'udp' });
    await expect(red).toReach({ address: '10.0.0.2', port: 8080 }, { responder: false, seenAs: '10.0.0.1' });
    await expect(red).toReach({ address: 'fd00::2', port: 8080 }, { responder: false, seenAs: 'fd00::1' });
    await expect(red).toReach({ address: '10.0.0.2', port: 8053 }, { protocol: 'udp', responder: false, seenAs: '10.0.0.1' });
    await expect(red).toReach({ address: 'fd00::2', port: 8053 }, { protocol: 'udp', responder: false, seenAs: 'fd00::1' });
    await Promise.all([tcp.stop(), udp.stop()]);
    await expect(red).not.toReach({ address: 'fd00::2', port: 8080 }, { responder: false, window: 500 });
  });
});
