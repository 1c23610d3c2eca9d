// Peer suite: the kernel's forwarding selftest bridge_port_isolation.sh, re-expressed with netspec's public API.
//
// Upstream: torvalds/linux, tools/testing/selftests/net/forwarding/bridge_port_isolation.sh (read at commit
// 2cc2c3cb54de578666d905537e4c15969caf0dc5), ALL_TESTS="ping_ipv4 ping_ipv6 flooding", with lib.sh's ping_do,
// ping6_do and flood_test_do. Setup: a switch with bridge br0 and ports swp1, swp2 (isolated on) and swp3 (isolated
// off); hosts h1, h2, h3 on 192.0.2.1-3/24 and 2001:db8:1::1-3/64 behind them.
//
// Re-expressed, not transcribed: upstream's switch is the namespace the script runs in and its hosts are VRFs (lib.sh's
// simple_if_init, which needs the vrf module: this kernel has none); here the switch is a namespace of its own
// (`lab.bridge('br0', { in: sw })`) and each host a namespace. flood_test_do sends one frame to an unknown MAC
// (de:ad:be:ef:13:37, IP 192.0.2.100) with mausezahn and counts it with a tc flower filter on h2's ingress; here h1
// (or h3) gets a permanent neighbour entry for 192.0.2.100 with that MAC (by hand: netspec has no neighbour API) and
// sends one ping, and a netspec counter at h2's device ingress (`hook: 'ingress'`, `dstMac`) counts the frame: one
// frame flooded, or none.
import { describe, expect, test } from 'netspec/vitest';
import type { Lab, Netns } from 'netspec';

const MAC = 'de:ad:be:ef:13:37';
const IP = '192.0.2.100';

/** Upstream's switch_create and h1..h3_create. */
async function setup(lab: Lab) {
  const [sw, h1, h2, h3] = await Promise.all(['sw', 'h1', 'h2', 'h3'].map((n) => lab.netns(n))) as [Netns, Netns, Netns, Netns];
  const br = await lab.bridge('br0', { in: sw });
  await Promise.all([
    br.attach(h1, { ifname: 'eth0', peer: 'swp1', address: '192.0.2.1/24', port: { isolated: true } }),
    br.attach(h2, { ifname: 'eth0', peer: 'swp2', address: '192.0.2.2/24', port: { isolated: true } }),
    br.attach(h3, { ifname: 'eth0', peer: 'swp3', address: '192.0.2.3/24', port: { isolated: false } }),
  ]);
  await Promise.all([h1.addAddress('2001:db8:1::1/64', 'eth0'), h2.addAddress('2001:db8:1::2/64', 'eth0'), h3.addAddress('2001:db8:1::3/64', 'eth0')]);
  return { sw, h1, h2, h3, br };
}

/** lib.sh's flood_test_do: one frame from `from` to an unknown MAC; how many reached `to`'s device. */
async function floodOnce(from: Netns, to: Netns) {
  const seen = await to.counter({ iif: 'eth0', dstMac: MAC, family: 4 }, { hook: 'ingress' });
  await from.exec('ip', ['neigh', 'replace', IP, 'lladdr', MAC, 'dev', 'eth0', 'nud', 'permanent']);
  await from.exec('ping', ['-n', '-c', '1', '-W', '1', IP], { reject: false }); // nobody has 192.0.2.100: no answer expected
  return seen;
}

describe('bridge_port_isolation.sh', () => {
  test('the switch: br0 in sw, swp1 and swp2 isolated, swp3 not (switch_create)', async ({ lab }) => {
    const { sw } = await setup(lab);
    for (const swp of ['swp1', 'swp2', 'swp3']) await expect(sw).toHaveLink(swp, { master: 'br0' });
    const links = await sw.links();
    const isolated = (name: string) => (links.find((l) => l.ifname === name)?.linkinfo as { info_slave_data?: { isolated?: boolean } } | undefined)?.info_slave_data?.isolated;
    expect([isolated('swp1'), isolated('swp2'), isolated('swp3')]).toEqual([true, true, false]);
  });

  test('ping_ipv4 ("Isolated port ping"): h1 → 192.0.2.2 fails (both ports isolated); h3 → 192.0.2.2 works', async ({ lab }) => {
    const { h1, h3 } = await setup(lab);
    await expect(h1).not.toReach('192.0.2.2', { window: 800 });
    await expect(h3).toReach('192.0.2.2');
  });

  test('ping_ipv6 ("Isolated port ping6"): h1 → 2001:db8:1::2 fails; h3 → 2001:db8:1::2 works', async ({ lab }) => {
    const { h1, h3 } = await setup(lab);
    await expect(h1).not.toReach('2001:db8:1::2', { window: 800 });
    await expect(h3).toReach('2001:db8:1::2');
  });

  test('flooding ("Isolated port flooding"): a frame to an unknown MAC from h1 is not flooded to h2; from h3 it is', async ({ lab }) => {
    const { h1, h2, h3 } = await setup(lab);
    // upstream: flood_test_do false … $h1 $h2 — "Packet was flooded when it should not have been"
    await expect(await floodOnce(h1, h2)).toCount({ exactly: 0 });
    // upstream: flood_test_do true … $h3 $h2 — "Packet was not flooded when it should have been"
    await expect(await floodOnce(h3, h2)).toCount({ exactly: 1 });
  });

  test('the control: with swp2\'s isolation off, h1 reaches h2 and its unknown-MAC frame is flooded to h2', async ({ lab }) => {
    const { h1, h2, br } = await setup(lab);
    await br.setPort('swp2', { isolated: false });
    await expect(h1).toReach('192.0.2.2');
    await expect(await floodOnce(h1, h2)).toCount({ exactly: 1 });
  });
});
