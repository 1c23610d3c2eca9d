// toHaveArpEntry, toRouteVia, toHaveRouteEntry, toHaveAddress, toHaveLink, toForward: pass, fail, .not pass, .not fail.
import { describe, expect, test } from '../../src/vitest.js';
import { failureOf, tutorial } from './helpers.js';
import { routedPair } from '../helpers/routed.js';

describe('toHaveArpEntry', () => {
  test('an entry appears after traffic, with the peer MAC; wrong MAC, INCOMPLETE and absent entries fail', async ({ lab }) => {
    const net = await tutorial(lab);
    const [red, blue] = net.nodes as [typeof lab.host, typeof lab.host];
    await expect(red).not.toHaveArpEntry('192.168.15.2'); // no traffic yet
    const absent = await failureOf(expect(red).toHaveArpEntry('192.168.15.2', { timeout: 100 }));
    expect(absent).toMatch(/red has no resolved entry for 192\.168\.15\.2 \(no traffic to it yet/);

    await expect(red).toReach(blue);
    const mac = (await blue.links()).find((l) => l.ifname === 'veth-blue')!.address!;
    await expect(red).toHaveArpEntry('192.168.15.2', { mac, dev: 'veth-red' });
    await expect(red).toHaveArpEntry('192.168.15.2', { state: ['REACHABLE', 'STALE', 'DELAY'] });
    const wrong = await failureOf(expect(red).toHaveArpEntry('192.168.15.2', { mac: '02:00:00:00:00:01', timeout: 100 }));
    expect(wrong).toMatch(/with lladdr 02:00:00:00:00:01; it has:\n\s+192\.168\.15\.2 dev veth-red lladdr [0-9a-f:]+ (REACHABLE|STALE|DELAY)/);
    const not = await failureOf(expect(red).not.toHaveArpEntry('192.168.15.2'));
    expect(not).toMatch(/^expect\(red\)\.not\.toHaveArpEntry/);
    expect(not).toMatch(/red has a neighbor entry for 192\.168\.15\.2/);

    // an address nobody has: the entry is INCOMPLETE or FAILED, which does not count unless asked for
    await expect(red).not.toReach('192.168.15.77', { window: 200 });
    await expect(red).not.toHaveArpEntry('192.168.15.77');
    await expect(red).toHaveArpEntry('192.168.15.77', { state: ['INCOMPLETE', 'FAILED'] });
  });
});

describe('toRouteVia', () => {
  test('the route lookup picks the gateway; a wrong gateway, device or no route fail with the lookup', async ({ lab }) => {
    const net = await tutorial(lab);
    const { red } = net;
    await expect(red).toRouteVia('203.0.113.8', '192.168.15.3');
    await expect(red).toRouteVia('203.0.113.8', '192.168.15.3', { dev: 'veth-red', src: '192.168.15.1' });
    await expect(red).toRouteVia('192.168.15.2', { dev: 'veth-red' });
    await expect(red).not.toRouteVia('203.0.113.8', '192.168.15.2');
    const wrong = await failureOf(expect(red).toRouteVia('203.0.113.8', '192.168.15.2'));
    expect(wrong).toMatch(/red: the gateway is 192\.168\.15\.3, not 192\.168\.15\.2\n\s+ip route get 203\.0\.113\.8 → via 192\.168\.15\.3 dev veth-red src 192\.168\.15\.1/);
    const onlink = await failureOf(expect(red).toRouteVia('192.168.15.2', '192.168.15.3'));
    expect(onlink).toMatch(/the route is on-link \(no gateway\), not via 192\.168\.15\.3/);
    const not = await failureOf(expect(red).not.toRouteVia('203.0.113.8', '192.168.15.3'));
    expect(not).toMatch(/red routes 203\.0\.113\.8 via 192\.168\.15\.3 dev veth-red/);
    await red.deleteRoute('default');
    const none = await failureOf(expect(red).toRouteVia('203.0.113.8', '192.168.15.3'));
    expect(none).toMatch(/there is no route to 203\.0\.113\.8 \(Network is unreachable\)/);
    await expect(red).not.toRouteVia('203.0.113.8', '192.168.15.3');
  });
});

describe('toHaveRouteEntry', () => {
  test('what is in the table, as opposed to what a lookup picks', async ({ lab }) => {
    const net = await tutorial(lab);
    const { red } = net;
    await expect(red).toHaveRouteEntry({ destination: 'default', gateway: '192.168.15.3' });
    await expect(red).toHaveRouteEntry({ destination: '192.168.15.0/24', dev: 'veth-red' });
    await expect(red).not.toHaveRouteEntry({ destination: '203.0.113.0/24' });
    const msg = await failureOf(expect(red).toHaveRouteEntry({ destination: '203.0.113.0/24' }));
    expect(msg).toMatch(/red's main table has no such route; it has:\n\s+default via 192\.168\.15\.3 dev veth-red/);
    const not = await failureOf(expect(red).not.toHaveRouteEntry({ destination: 'default' }));
    expect(not).toMatch(/red's table has default via 192\.168\.15\.3/);
  });
});

describe('toHaveAddress, toHaveLink, toForward', () => {
  test('addresses, links (state, master, type) and forwarding', async ({ lab }) => {
    const net = await tutorial(lab);
    const { red } = net;
    await expect(red).toHaveAddress('192.168.15.1/24', { dev: 'veth-red' });
    await expect(red).toHaveAddress('192.168.15.1');
    await expect(red).not.toHaveAddress('192.168.15.1/16');
    expect(await failureOf(expect(red).toHaveAddress('192.168.15.9/24'))).toMatch(/red does not have 192\.168\.15\.9\/24; its addresses:\n\s+127\.0\.0\.1\/8 dev lo/);
    expect(await failureOf(expect(red).not.toHaveAddress('192.168.15.1/24'))).toMatch(/red has 192\.168\.15\.1\/24 on veth-red/);

    await expect(lab.host).toHaveLink('veth-red-brdg', { master: 'v-net-0', state: 'UP', type: 'veth' });
    await expect(lab.host).toHaveLink('v-net-0', { type: 'bridge' });
    await expect(lab.host).not.toHaveLink('veth-red');
    await lab.host.down('veth-red-brdg');
    const down = await failureOf(expect(lab.host).toHaveLink('veth-red-brdg', { state: 'UP' }));
    expect(down).toMatch(/its state is DOWN/);
    const master = await failureOf(expect(red).toHaveLink('veth-red', { master: 'v-net-0' }));
    expect(master).toMatch(/it has no master \(not enslaved to v-net-0\)/);
    expect(await failureOf(expect(red).not.toHaveLink('veth-red'))).toMatch(/red has veth-red veth/);

    await expect(lab.host).toForward();
    await expect(red).not.toForward();
    expect(await failureOf(expect(red).toForward())).toMatch(/red does not forward: net\.ipv4\.ip_forward=0 and no interface's own forwarding is on \(turn it on with `sysctl -w net\.ipv4\.ip_forward=1`\)/);
    expect(await failureOf(expect(lab.host).not.toForward())).toMatch(/host forwards: net\.ipv4\.ip_forward=1/);
    // IPv4 forwards by the incoming interface's own setting: with ip_forward 0 and veth-red's forwarding on, red
    // forwards what comes in on veth-red, and .not must not pass (it did, reading ip_forward alone)
    await red.exec('sysctl', ['-w', 'net.ipv4.conf.veth-red.forwarding=1']);
    expect(await red.readSysctl('net.ipv4.ip_forward')).toBe('0');
    await expect(red).toForward();
    expect(await failureOf(expect(red).not.toForward())).toMatch(/red forwards: net\.ipv4\.ip_forward=0, but forwarding is on for what comes in on veth-red/);
  });
});

// IPv6 forwards when conf.all.forwarding is on, or when the incoming interface's force_forwarding is (kernels from
// 6.17; this one forwards that way): the matcher agrees with the kernel whichever this kernel is, in both states
describe('toForward({ ipv6: true }) agrees with what the kernel forwards', () => {
  test('conf.all.forwarding 0, force_forwarding on the router\'s interfaces where the kernel has it', async ({ lab }) => {
    const { red } = await routedPair(lab, { family: 6 });
    await lab.host.exec('sysctl', ['-w', 'net.ipv6.conf.all.forwarding=0']);
    const forwards = async () => Number(/(\d+) received/.exec((await red.exec('ping', ['-6', '-c', '2', '-W', '1', 'fd02::2'], { reject: false })).stdout)?.[1] ?? 0) > 0;
    const says = async () => (await expect(lab.host).toForward({ ipv6: true }).then(() => true, () => false));
    expect(await forwards()).toBe(false);
    expect(await says()).toBe(false);
    // (a fixed script, no input: the knob where the kernel has it)
    await lab.host.exec('sh', ['-c', 'for f in /proc/sys/net/ipv6/conf/lan1/force_forwarding /proc/sys/net/ipv6/conf/lan2/force_forwarding; do [ ! -e "$f" ] || echo 1 > "$f"; done']);
    const kernel = await forwards();
    expect(await says()).toBe(kernel);
    if (kernel) expect(await failureOf(expect(lab.host).not.toForward({ ipv6: true }))).toMatch(/host forwards: net\.ipv6\.conf\.all\.forwarding=0, but forwarding is on for what comes in on lan1, lan2 \(net\.ipv6\.conf\.IF\.force_forwarding=1/);
  });
});
