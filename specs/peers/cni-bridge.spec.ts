// Peer suite: the CNI bridge plugin's own tests, re-expressed against the real plugin binary in a lab.
//
// Upstream: containernetworking/plugins, plugins/main/bridge/bridge_test.go (read at commit 0017d39877b6ffc1ce7064538f66407bd5ad0896),
// Describe("bridge Operations"). Its It()s covered here (each upstream runs per CNI spec version; here 1.0.0 and, where
// it matters, 0.4.0): "creates a bridge", "handles an existing bridge", "configures and deconfigures a bridge and veth
// with default route with ADD/DEL" (IPv4, IPv6, dual stack), "… with ADD/DEL/CHECK", "configures and deconfigures a l2
// bridge and veth with ADD/DEL", "configures and deconfigures a l2 bridge with vlan id 100 using ADD/DEL", "ensure
// promiscuous mode on bridge", "creates a bridge with a stable MAC addresses", "uses an explicit MAC addresses for the
// container iface (from RuntimeConfig)" and "(from Args)", "checks ip release in case of error", "configures a bridge
// and ipMasq rules", "check vlan id when loading net conf", "configures mac spoof-check (no mac spoofing)".
// Not covered: "ensure bridge address" (calls the plugin's Go function ensureAddr directly), "collectVlanTrunk"
// tables (Go unit tests), vlanTrunk and disableContainerInterface (newer than the 1.1.1 plugins installed here),
// "deconfigures an unconfigured bridge with DEL" (see gap 1), "(from CNI_ARGS)" (see gap 2).
//
// The cases are re-expressed, not transcribed. Upstream calls cmdAdd/cmdDel in-process with a debug hook; here the
// real plugin binary (Debian's containernetworking-plugins 1.1.1) runs through netspec's cniNetwork fixture, as a
// runtime runs it, and every case also sends packets: a container reaches its gateway and the outside, or does not.
//
// What netspec cannot say yet (done below by hand, through exec and JSON):
// 1. cniNetwork has no raw DEL of a container it never attached (del() refuses a namespace it did not add() with an
//    InvalidInputError), so upstream's "deconfigures an unconfigured bridge with DEL" (DEL must succeed) cannot run.
// 2. cniNetwork.add() cannot set CNI_ARGS (e.g. `MAC=…`, `IgnoreUnknown=1`).
// 3. toHaveLink cannot match promiscuity or ifindex; LinkInfo has them, read by hand. (MTU and MAC: closed,
//    toHaveLink takes `mtu` and `mac`.)
// 4. Bridge VLAN state: no matcher for `vlan_filtering` or a port's VLANs / PVID (`bridge -j vlan show`).
// 5. Where host-local keeps its leases is the fixture's business (/run/netspec-cni/networks/NAME): no accessor for
//    the leases of a network, so "the address was released" reads that directory.
// 6. nftables state of a plugin (macspoofchk's `bridge nat` table): no matcher for nft tables/chains/rules.
// (7. A container interface's MAC through the API: closed, `ns.setLink(dev, { mac })`.)
// 8. Kernel prerequisites: this kernel has no bridge VLAN filtering (CONFIG_BRIDGE_VLAN_FILTERING), so the plugin's
//    `vlan` fails with "operation not supported" (the plugin's words, in a CniError). netspec's own
//    `lab.bridge(name, { vlanFiltering: true })` names it as a PrerequisiteError, and `netspec doctor` lists it. The
//    VLAN case runs only where the kernel has it (specs/helpers/kernel.ts asks in a lab) and is reported SKIPPED, with
//    the reason, elsewhere; the refusal is a case of its own.
import { describe, expect, test } from 'netspec/vitest';
import { cniNetwork, CniError, type CniConfList, type CniPluginConf } from 'netspec/fixtures';
import { PrerequisiteError, type Lab, type LinkInfo, type Netns } from 'netspec';
import { kernel } from '../helpers/kernel.js';

const k = await kernel();

const BR = 'bridge0';
const MTU = 5000;

/** bridge_test.go's netConfJSON, as a conflist of one plugin: bridge0, MTU 5000, host-local on the given ranges. */
function bridgeConf(options: { cniVersion?: string; ranges?: string[]; isGateway?: boolean; layer2?: boolean; extra?: Record<string, unknown> } = {}): CniConfList {
  const plugin: CniPluginConf = { type: 'bridge', bridge: BR, mtu: MTU, ...options.extra };
  if (options.layer2) plugin.ipam = {};
  else {
    plugin.isDefaultGateway = options.isGateway ?? true;
    plugin.ipam = { type: 'host-local', ranges: (options.ranges ?? ['10.1.2.0/24']).map((subnet) => [{ subnet }]) };
  }
  return { cniVersion: options.cniVersion ?? '1.0.0', name: 'testConfig', plugins: [plugin] };
}

const link = async (ns: Netns, name: string): Promise<LinkInfo | undefined> => (await ns.links()).find((l) => l.ifname === name);
const leases = async (lab: Lab, network: string) =>
  (await lab.host.exec('ls', ['-1', `/run/netspec-cni/networks/${network}`], { reject: false })).stdout.split('\n').filter((f) => /^[0-9a-f.:]+$/.test(f) && /[.:]/.test(f)); // lease files are named by address

describe('bridge Operations: the bridge itself', () => {
  test('"creates a bridge": bridge0 with MTU 5000, not promiscuous; the container side gets the MTU too', async ({ lab }) => {
    const net = await cniNetwork(lab, bridgeConf());
    const c = await lab.netns('c1');
    const a = await net.add(c);
    expect(a.result.interfaces?.map((i) => i.name)).toEqual([BR, expect.stringMatching(/^veth/), 'eth0']);
    await expect(lab.host).toHaveLink(BR, { type: 'bridge', state: 'UP' });
    await expect(lab.host).toHaveLink(a.result.interfaces![1]!.name, { master: BR });
    await expect(lab.host).toHaveLink(BR, { mtu: MTU });
    expect((await link(lab.host, BR))?.flags).not.toContain('PROMISC');
    await expect(c).toHaveLink('eth0', { mtu: MTU, mac: a.result.interfaces![2]!.mac! });
    await expect(c).toReach('10.1.2.1');
  });

  test('"handles an existing bridge": the plugin adopts it (same ifindex) instead of failing or replacing it', async ({ lab }) => {
    await lab.bridge(BR);
    const before = (await link(lab.host, BR))!.ifindex;
    const net = await cniNetwork(lab, bridgeConf({ isGateway: false }));
    const c = await lab.netns('c1');
    await net.add(c);
    expect((await link(lab.host, BR))!.ifindex).toBe(before);
    await expect(c).toHaveAddress('10.1.2.2/24', { dev: 'eth0' });
    // isGateway false: no address on the bridge, no default route in the container
    await expect(lab.host).not.toHaveAddress('10.1.2.1/24', { dev: BR });
    await expect(c).not.toHaveRouteEntry({ destination: 'default' });
  });

  test('"ensure promiscuous mode on bridge": promiscMode sets PROMISC on bridge0', async ({ lab }) => {
    const net = await cniNetwork(lab, bridgeConf({ extra: { promiscMode: true } }));
    await net.add(await lab.netns('c1'));
    expect((await link(lab.host, BR))?.flags).toContain('PROMISC');
  });

  test('"creates a bridge with a stable MAC addresses": ADD and DEL of containers leave the bridge\'s MAC as it was', async ({ lab }) => {
    const net = await cniNetwork(lab, bridgeConf());
    const [c1, c2] = await Promise.all([lab.netns('c1'), lab.netns('c2')]);
    await net.add(c1);
    const mac = (await link(lab.host, BR))!.address;
    await net.add(c2);
    await net.del(c1);
    await net.del(c2);
    expect((await link(lab.host, BR))!.address).toBe(mac);
  });
});

describe('bridge Operations: ADD / CHECK / DEL of a container', () => {
  for (const [label, ranges, gateways] of [
    ['IPv4 only', ['10.1.2.0/24'], ['10.1.2.1/24']],
    ['IPv6 only', ['2001:db8::/64'], ['2001:db8::1/64']],
    ['dual stack', ['192.168.0.0/24', 'fd00::/64'], ['192.168.0.1/24', 'fd00::1/64']],
  ] as const) {
    test(`"configures and deconfigures a bridge and veth with default route with ADD/DEL" (${label})`, async ({ lab }) => {
      const net = await cniNetwork(lab, bridgeConf({ ranges: [...ranges] }));
      const c = await lab.netns('c1');
      const a = await net.add(c);
      expect(a.result.ips).toHaveLength(ranges.length);
      for (const gw of gateways) {
        const [address] = gw.split('/') as [string];
        await expect(lab.host).toHaveAddress(gw, { dev: BR });
        await expect(c).toHaveRouteEntry({ destination: address.includes(':') ? 'default6' : 'default', gateway: address });
        await expect(c).toReach(address);
      }
      expect(await leases(lab, 'testConfig')).toHaveLength(ranges.length);

      await net.del(c);
      await expect(c).not.toHaveLink('eth0');
      expect(await leases(lab, 'testConfig')).toEqual([]);
      await expect(c).not.toReach(gateways[0]!.split('/')[0]!, { because: 'NO_ROUTE' });
    });
  }

  test('"… with ADD/DEL/CHECK": CHECK passes on what ADD built and fails once the default route is gone', async ({ lab }) => {
    const net = await cniNetwork(lab, bridgeConf());
    const c = await lab.netns('c1');
    await net.add(c);
    await net.check(c);
    await c.deleteRoute('default');
    const error = await net.check(c).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(CniError);
    expect((error as CniError).command).toBe('CHECK');
    await net.del(c);
  });

  test('"configures and deconfigures a l2 bridge and veth with ADD/DEL": no addresses; containers talk once given some', async ({ lab }) => {
    const net = await cniNetwork(lab, bridgeConf({ layer2: true }));
    const [c1, c2] = await Promise.all([lab.netns('c1'), lab.netns('c2')]);
    const a1 = await net.add(c1);
    await net.add(c2);
    expect(a1.result.ips ?? []).toEqual([]);
    expect(await c1.globalAddresses()).toEqual([]);
    await expect(lab.host).toHaveLink(BR, { type: 'bridge' });
    await c1.addAddress('10.1.3.1/24', 'eth0');
    await expect(c1).not.toReach('10.1.3.2', { because: 'NEIGHBOR_UNREACHABLE' });
    await c2.addAddress('10.1.3.2/24', 'eth0');
    await expect(c1).toReach('10.1.3.2');
    await net.del(c2);
    await expect(c2).not.toHaveLink('eth0');
    await expect(c1).not.toReach('10.1.3.2');
  });

  test('"uses an explicit MAC addresses for the container iface" (from RuntimeConfig, and from Args)', async ({ lab }) => {
    const fromRuntime = await cniNetwork(lab, { ...bridgeConf(), plugins: [{ ...bridgeConf().plugins[0]!, capabilities: { mac: true } }] });
    const c1 = await lab.netns('c1');
    const a1 = await fromRuntime.add(c1, { runtimeConfig: { mac: '02:00:00:00:00:00' } });
    expect(a1.result.interfaces?.[2]?.mac).toBe('02:00:00:00:00:00');
    await expect(c1).toHaveLink('eth0', { mac: '02:00:00:00:00:00' });

    // a network of its own keeps its own leases: its range starts elsewhere in the subnet, so c2 does not get c1's
    // address (with the same one, "c2 reaches c1" was c2 answering itself: refused since issue 22)
    const argsPlugin = { ...bridgeConf().plugins[0]!, ipam: { type: 'host-local', ranges: [[{ subnet: '10.1.2.0/24', rangeStart: '10.1.2.100' }]] }, args: { cni: { mac: '02:00:00:00:07:89' } } };
    const fromArgs = await cniNetwork(lab, { ...bridgeConf(), name: 'withArgs', plugins: [argsPlugin] });
    const c2 = await lab.netns('c2');
    const a2 = await fromArgs.add(c2);
    await expect(c2).toHaveLink('eth0', { mac: '02:00:00:00:07:89' });
    expect(a2.address).not.toBe(a1.address);
    await expect(c2).toReach(a1.address!);
    // without either, the MAC is random: not the one asked for elsewhere
    const plain = await cniNetwork(lab, { ...bridgeConf(), name: 'plain' });
    const c3 = await lab.netns('c3');
    await plain.add(c3);
    expect((await link(c3, 'eth0'))?.address).not.toMatch(/^02:00:00:00:0[07]:/);
  });

  test('"checks ip release in case of error": an ADD that fails after IPAM leaves no lease and no interface behind', async ({ lab }) => {
    // upstream injects an error after IPAM in-process; here a second plugin in the chain fails (tuning, asked to set a
    // sysctl that does not exist), and the fixture, as a runtime does, runs DEL through the chain: the bridge plugin releases the lease
    const conf = bridgeConf();
    const net = await cniNetwork(lab, { ...conf, plugins: [...conf.plugins, { type: 'tuning', sysctl: { 'net.ipv4.conf.eth0.no_such_knob': '1' } }] });
    const c = await lab.netns('c1');
    await expect(net.add(c)).rejects.toBeInstanceOf(CniError);
    expect(await leases(lab, 'testConfig')).toEqual([]);
    await expect(c).not.toHaveLink('eth0');
    // the same network without the failing plugin hands out an address and keeps its lease
    const ok = await cniNetwork(lab, conf);
    await ok.add(c);
    expect(await leases(lab, 'testConfig')).toHaveLength(1);
  });

  test('"configures a bridge and ipMasq rules": the container\'s traffic leaves NATed; without ipMasq it gets no answer', async ({ lab }) => {
    const wan = await lab.wan();
    await lab.host.forwarding(true);
    const masq = await cniNetwork(lab, bridgeConf({ extra: { ipMasq: true } }));
    const c1 = await lab.netns('c1');
    const a = await masq.add(c1);
    const nat = (await lab.host.exec('iptables-save', ['-t', 'nat'])).stdout;
    expect(nat).toMatch(new RegExp(`-A POSTROUTING -s ${a.address!.replace(/\./g, '\\.')}/32 .*-j CNI-`));
    await expect(c1).toReach('203.0.113.8', { seenAs: wan.hostAddress });

    const plain = await cniNetwork(lab, { ...bridgeConf({ ranges: ['10.1.4.0/24'], extra: { bridge: 'bridge1' } }), name: 'noMasq' });
    const c2 = await lab.netns('c2');
    await plain.add(c2);
    await expect(c2).toRouteVia('203.0.113.8', '10.1.4.1');
    await expect(c2).not.toReach('203.0.113.8', { because: 'NO_REPLY' }); // the wan has no way back to 10.1.4.0/24
  });
});

describe('bridge Operations: VLANs and MAC spoof-check', () => {
  test('"check vlan id when loading net conf": VLAN 5000 and -100 are refused, 0 is accepted', async ({ lab }) => {
    for (const [vlan, ok] of [[5000, false], [-100, false], [0, true]] as const) {
      for (const cniVersion of ['1.0.0', '0.4.0']) {
        const net = await cniNetwork(lab, { ...bridgeConf({ cniVersion, extra: { vlan } }), name: `vlan${vlan < 0 ? 'm' : ''}${Math.abs(vlan)}v${cniVersion.replace(/\./g, '')}` });
        const c = await lab.netns(`c${vlan < 0 ? 'm' : ''}${Math.abs(vlan)}v${cniVersion.replace(/\./g, '')}`);
        if (ok) {
          await net.add(c);
          await expect(c).toHaveLink('eth0');
        } else {
          const error = await net.add(c).then(() => undefined, (e: unknown) => e);
          expect(error, `vlan ${vlan}`).toBeInstanceOf(CniError);
          expect((error as CniError).detail).toMatch(new RegExp(`invalid VLAN ID ${vlan}`));
        }
      }
    }
  });

  test.runIf(k.has('bridge vlan_filtering'))(`"l2 bridge with vlan id 100": PVID 100 on the port, and two VLANs that do not talk${k.needs('bridge vlan_filtering')}`, async ({ lab }) => {
    const conf = (vlan: number): CniConfList => ({ ...bridgeConf({ isGateway: false, extra: { vlan } }), name: `vlan${vlan}` });
    const [v100, v200] = [await cniNetwork(lab, conf(100)), await cniNetwork(lab, conf(200))];
    const [a, b, x] = await Promise.all([lab.netns('a'), lab.netns('b'), lab.netns('x')]);
    const aa = await v100.add(a);
    await v100.add(b);
    await v200.add(x);
    const br = (await link(lab.host, BR))?.linkinfo as { info_data?: { vlan_filtering?: number } } | undefined;
    expect(br?.info_data?.vlan_filtering).toBe(1);
    const vlans = JSON.parse((await lab.host.exec('bridge', ['-j', 'vlan', 'show', 'dev', aa.result.interfaces![1]!.name])).stdout) as { vlans: { vlan: number; flags?: string[] }[] }[];
    expect(vlans[0]?.vlans).toContainEqual(expect.objectContaining({ vlan: 100, flags: expect.arrayContaining(['PVID']) }));
    // host-local hands each network its own addresses from the same subnet: a .2, b .3 (vlan100); x .2 (vlan200)
    await expect(a).toReach(b);
    const xAddress = (await x.globalAddresses(4))[0]!.address;
    await readdress(x, xAddress, '10.1.2.9/24');
    await expect(a).not.toReach('10.1.2.9', { because: 'NEIGHBOR_UNREACHABLE' });
  });

  test.runIf(!k.has('bridge vlan_filtering'))('"l2 bridge with vlan id 100", where the kernel lacks bridge VLAN filtering: the plugin\'s ADD is refused (its words), netspec\'s own bridge names the PrerequisiteError', async ({ lab }) => {
    const v100 = await cniNetwork(lab, { ...bridgeConf({ isGateway: false, extra: { vlan: 100 } }), name: 'vlan100' });
    const a = await lab.netns('a');
    const own = await lab.bridge('vlanprobe0', { vlanFiltering: true }).then(() => undefined, (e: unknown) => e);
    expect(own).toBeInstanceOf(PrerequisiteError); // netspec's own bridge says what is missing, where the plugin cannot
    expect((own as PrerequisiteError).missing).toMatch(/CONFIG_BRIDGE_VLAN_FILTERING/);
    const error = await v100.add(a).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(CniError);
    expect((error as CniError).detail).toMatch(/could not add "bridge0": operation not supported/);
    await expect(a).not.toHaveLink('eth0');
  });

  test('"configures mac spoof-check": frames from the container\'s own MAC pass, frames from another MAC are dropped', async ({ lab }) => {
    const net = await cniNetwork(lab, bridgeConf({ extra: { macspoofchk: true } }));
    const [c1, c2] = await Promise.all([lab.netns('c1'), lab.netns('c2')]);
    const a1 = await net.add(c1);
    await net.add(c2);
    const tables = JSON.parse((await lab.host.exec('nft', ['-j', 'list', 'tables', 'bridge'])).stdout) as { nftables: { table?: { name: string } }[] };
    expect(tables.nftables.map((e) => e.table?.name)).toContain('nat');
    const chains = (await lab.host.exec('nft', ['list', 'table', 'bridge', 'nat'])).stdout;
    expect(chains).toMatch(/cni-br-iface-/);
    await expect(c2).toReach(a1.address!);

    await c1.setLink('eth0', { up: false });
    await c1.setLink('eth0', { mac: '02:11:22:33:44:55', up: true });
    await expect(c1).toHaveLink('eth0', { mac: '02:11:22:33:44:55' });
    await c2.exec('ip', ['neigh', 'flush', 'dev', 'eth0']);
    await expect(c2).not.toReach(a1.address!);

    await net.del(c1);
    expect((await lab.host.exec('nft', ['list', 'table', 'bridge', 'nat'])).stdout).not.toMatch(new RegExp(a1.containerId));
  });

  test('without macspoofchk, the same MAC change goes through (the control for the case above)', async ({ lab }) => {
    const net = await cniNetwork(lab, bridgeConf());
    const [c1, c2] = await Promise.all([lab.netns('c1'), lab.netns('c2')]);
    const a1 = await net.add(c1);
    await net.add(c2);
    await c1.setLink('eth0', { up: false });
    await c1.setLink('eth0', { mac: '02:11:22:33:44:55', up: true });
    await expect(c1).toHaveLink('eth0', { mac: '02:11:22:33:44:55' });
    await c2.exec('ip', ['neigh', 'flush', 'dev', 'eth0']);
    await expect(c2).toReach(a1.address!);
  });
});

/** Move `ns`'s eth0 from `current` to `cidr` (an address of the other VLAN's subnet that nobody there has). */
async function readdress(ns: Netns, current: string, cidr: string) {
  await ns.exec('ip', ['addr', 'del', `${current}/24`, 'dev', 'eth0']);
  await ns.addAddress(cidr, 'eth0');
}
