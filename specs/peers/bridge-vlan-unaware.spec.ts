// Peer suite: the kernel's forwarding selftest bridge_vlan_unaware.sh, re-expressed with netspec's public API.
//
// Upstream: torvalds/linux, tools/testing/selftests/net/forwarding/bridge_vlan_unaware.sh (read at commit
// 30c0923370175a01a806b23d797f1d9f2f3e4f40), ALL_TESTS="ping_ipv4 ping_ipv6 learning flooding", with lib.sh's
// ping_test, ping6_test, learning_test and flood_test (lib.sh read at commit 00e7f29d9b895cbee58b7071900dd52ed6dcec1e).
// Setup: br0 (ageing_time 10 s, mcast_snooping 0) with ports swp1 (to h1, 192.0.2.1/24, 2001:db8:1::1/64) and swp2
// (to h2, .2 / ::2).
//
// Re-expressed, not transcribed:
// - upstream's switch is the namespace the script runs in and its hosts are VRFs (this kernel has no vrf): here the
//   switch is a namespace (`lab.bridge('br0', { in: sw })`) and each host a namespace;
// - upstream counts frames with tc flower filters (`dst_mac`, drop) on the hosts' ingress; here a netspec counter at the
//   host device's ingress (`hook: 'ingress'`, `dstMac`) counts them;
// - upstream sends single frames with mausezahn (`-a MAC` source, `-b MAC` destination); here a frame to a MAC is a
//   ping to an address the sender has a permanent neighbour entry for with that MAC, and a frame from a MAC is sent
//   with the host's interface set to that MAC for one ping, then set back (`setLink(dev, { mac })`); neighbour entries,
//   the bridge's ageing_time / mcast_snooping and its FDB are read and set by hand (`ip`, `bridge -j fdb`: netspec has
//   no neighbour API, bridge options or FDB matcher yet);
// - the ageing time is 3 s instead of 10 (the same claim, a shorter wait), and the wait after it 4 s instead of 10.
import { describe, expect, test } from 'netspec/vitest';
import type { Lab, Netns } from 'netspec';

const MAC = 'de:ad:be:ef:13:37';
const OTHER = '02:00:00:00:00:99';

async function setup(lab: Lab) {
  const [sw, h1, h2] = await Promise.all(['sw', 'h1', 'h2'].map((n) => lab.netns(n))) as [Netns, Netns, Netns];
  const br = await lab.bridge('br0', { in: sw });
  await sw.exec('ip', ['link', 'set', 'dev', 'br0', 'type', 'bridge', 'ageing_time', '300', 'mcast_snooping', '0']);
  await Promise.all([
    br.attach(h1, { ifname: 'eth0', peer: 'swp1', address: '192.0.2.1/24' }),
    br.attach(h2, { ifname: 'eth0', peer: 'swp2', address: '192.0.2.2/24' }),
  ]);
  await Promise.all([h1.addAddress('2001:db8:1::1/64', 'eth0'), h2.addAddress('2001:db8:1::2/64', 'eth0')]);
  return { sw, h1, h2, br };
}

/** One IPv4 frame from `from` to destination MAC `mac` (a ping to `ip`, which `from` believes has that MAC). */
async function frameTo(from: Netns, mac: string, ip: string): Promise<void> {
  await from.exec('ip', ['neigh', 'replace', ip, 'lladdr', mac, 'dev', 'eth0', 'nud', 'permanent']);
  await from.exec('ping', ['-n', '-c', '1', '-W', '1', ip], { reject: false }); // nobody answers: only the frame counts
}

/** One IPv4 frame from `from` with source MAC `mac`, to a MAC nobody has (so nothing answers it). */
async function frameFrom(from: Netns, mac: string): Promise<void> {
  const own = (await from.links()).find((l) => l.ifname === 'eth0')!.address!;
  await from.setLink('eth0', { mac });
  try {
    await frameTo(from, OTHER, '192.0.2.200');
  } finally {
    await from.setLink('eth0', { mac: own });
  }
}

/** Does the bridge's FDB have `mac` on port `port`? (`bridge -j fdb show br br0 brport PORT`, by hand) */
async function fdbHas(sw: Netns, port: string, mac: string): Promise<boolean> {
  const out = (await sw.exec('bridge', ['-j', 'fdb', 'show', 'br', 'br0', 'brport', port])).stdout;
  return (JSON.parse(out) as { mac: string }[]).some((e) => e.mac === mac);
}

describe('bridge_vlan_unaware.sh', () => {
  test('ping_ipv4 ("ping"): h1 reaches 192.0.2.2 through the switch', async ({ lab }) => {
    const { h1 } = await setup(lab);
    await expect(h1).toReach('192.0.2.2');
  });

  test('ping_ipv6 ("ping6"): h1 reaches 2001:db8:1::2', async ({ lab }) => {
    const { h1 } = await setup(lab);
    await expect(h1).toReach('2001:db8:1::2');
  });

  test('learning ("FDB learning"): no entry, then one once h1 sends from the MAC, frames to it reach h1 only then; aged out; none with learning off', async ({ lab }) => {
    const { sw, h1, h2, br } = await setup(lab);
    // upstream: "Found FDB record when should not"
    expect(await fdbHas(sw, 'swp1', MAC)).toBe(false);
    // unknown unicast flooding off on swp1: a frame reaches h1 only through a learned entry
    await br.setPort('swp1', { flood: false });
    const before = await h1.counter({ iif: 'eth0', dstMac: MAC, family: 4 }, { hook: 'ingress' });
    await frameTo(h2, MAC, '192.0.2.100');
    await expect(before).toCount({ exactly: 0 }); // upstream: "Packet reached first host when should not"
    await frameFrom(h1, MAC);
    expect(await fdbHas(sw, 'swp1', MAC)).toBe(true); // upstream: "Did not find FDB record when should"
    const after = await h1.counter({ iif: 'eth0', dstMac: MAC, family: 4 }, { hook: 'ingress' });
    await frameTo(h2, MAC, '192.0.2.100');
    await expect(after).toCount({ exactly: 1 }); // upstream: "Packet did not reach second host when should"
    // ageing: the entry is gone after the ageing time (3 s here) and a margin
    await new Promise((r) => setTimeout(r, 7_000));
    expect(await fdbHas(sw, 'swp1', MAC)).toBe(false); // upstream: "Found FDB record when should not"
    await br.setPort('swp1', { learning: false });
    await frameFrom(h1, MAC);
    expect(await fdbHas(sw, 'swp1', MAC)).toBe(false); // upstream: "Found FDB record when should not"
  }, 60_000);

  test('flooding, "Unknown unicast flood": with flood off on swp2 a frame to an unknown MAC does not reach h2; with it on, it does', async ({ lab }) => {
    const { h1, h2, br } = await setup(lab);
    await br.setPort('swp2', { flood: false });
    const off = await h2.counter({ iif: 'eth0', dstMac: MAC, family: 4 }, { hook: 'ingress' });
    await frameTo(h1, MAC, '192.0.2.100');
    await expect(off).toCount({ exactly: 0 }); // upstream: "Packet flooded when should not"
    await br.setPort('swp2', { flood: true });
    const on = await h2.counter({ iif: 'eth0', dstMac: MAC, family: 4 }, { hook: 'ingress' });
    await frameTo(h1, MAC, '192.0.2.100');
    await expect(on).toCount({ exactly: 1 }); // upstream: "Packet was not flooded when should"
  });

  test('flooding, "Unregistered multicast flood": with mcast_flood off on swp2 a frame to 01:00:5e:00:00:01 (239.0.0.1) does not reach h2; with it on, it does', async ({ lab }) => {
    const { h1, h2, br } = await setup(lab);
    const group = '01:00:5e:00:00:01';
    const send = () => h1.exec('socat', ['-u', 'STDIN', 'UDP4-DATAGRAM:239.0.0.1:4096,sourceport=2048,so-bindtodevice=eth0'], { input: 'x' });
    await h1.addRoute('224.0.0.0/4', { dev: 'eth0' });
    await br.setPort('swp2', { mcastFlood: false });
    const off = await h2.counter({ iif: 'eth0', dstMac: group, family: 4 }, { hook: 'ingress' });
    await send();
    await expect(off).toCount({ exactly: 0 }); // upstream: "Packet flooded when should not"
    await br.setPort('swp2', { mcastFlood: true });
    const on = await h2.counter({ iif: 'eth0', dstMac: group, family: 4 }, { hook: 'ingress' });
    await send();
    await expect(on).toCount({ exactly: 1 }); // upstream: "Packet was not flooded when should"
  });
});
