// Link kinds beyond veth and bridge, with real packets: a vxlan overlay across an underlay (and not without its route),
// macvlan children of one parent (bridge mode talk, private mode not), a VLAN-filtering bridge (VLAN 10 talks, VLAN 20
// not, until it moves), and the kinds a kernel may lack (dummy, vlan, bond, vrf) as a PrerequisiteError naming the
// module. What the kernel has is asked of it first (doctor's kernelFeatures, in a lab: specs/helpers/kernel.ts); a case
// whose subject this kernel lacks is SKIPPED with the reason in its name (issue 27: it used to pass on the
// PrerequisiteError alone), and the PrerequisiteError is a test of its own, run where the kernel lacks the feature.
import { describe, expect, test } from '../../src/vitest.js';
import { InvalidInputError, PrerequisiteError, type Lab, type Netns } from '../../src/index.js';
import { CommandError } from '../../src/index.js';
import { bridgeVlanStep, linkUpStep } from '../../src/steps/index.js';
import { kernel } from '../helpers/kernel.js';

const k = await kernel();

/**
 * The vxlan case: two underlay namespaces (ua, ub) on one veth (10.0.0.1/30 – 10.0.0.2/30), each with its tunnel end
 * on lo (172.16.0.1, 172.16.0.2) reached through the other by a route; a vxlan (VNI 42) made in each underlay namespace
 * and placed in an overlay namespace (oa, ob) with 10.10.0.1/24 and 10.10.0.2/24.
 */
async function overlay(lab: Lab, options: { routes: boolean; vni?: [number, number] }) {
  const [ua, ub, oa, ob] = await Promise.all(['ua', 'ub', 'oa', 'ob'].map((n) => lab.netns(n))) as [Netns, Netns, Netns, Netns];
  await lab.veth({ ns: ua, name: 'u0', address: '10.0.0.1/30' }, { ns: ub, name: 'u0', address: '10.0.0.2/30' });
  await Promise.all([ua.addAddress('172.16.0.1/32', 'lo'), ub.addAddress('172.16.0.2/32', 'lo')]);
  if (options.routes) await Promise.all([ua.addRoute('172.16.0.2/32', { via: '10.0.0.2' }), ub.addRoute('172.16.0.1/32', { via: '10.0.0.1' })]);
  const [va, vb] = options.vni ?? [42, 42];
  const a = await lab.vxlan({ ns: ua, into: oa, name: 'vx0', id: va, local: '172.16.0.1', remote: '172.16.0.2', dev: 'u0', address: '10.10.0.1/24' });
  const b = await lab.vxlan({ ns: ub, into: ob, name: 'vx0', id: vb, local: '172.16.0.2', remote: '172.16.0.1', dstport: 4789, address: '10.10.0.2/24' });
  return { ua, ub, oa, ob, a, b };
}

describe('vxlan', () => {
  test('two namespaces reach each other by their overlay addresses across the underlay', async ({ lab }) => {
    const { ua, oa, ob, a } = await overlay(lab, { routes: true });
    expect(a).toEqual({ ns: oa, name: 'vx0', kind: 'vxlan', address: '10.10.0.1/24' });
    await expect(oa).toHaveLink('vx0', { kind: 'vxlan', state: 'UNKNOWN' });
    await expect(ua).not.toHaveLink('vx0'); // it lives in the overlay namespace; its socket stays in ua
    await expect(oa).toReach('10.10.0.2');
    await expect(ob).toReach('10.10.0.1');
    // the overlay namespaces have no route into the underlay: only the tunnel carries them
    await expect(oa).not.toReach('172.16.0.2', { window: 300 });
  });

  test('without the underlay route, the overlay does NOT reach; nor across different VNIs', async ({ lab }) => {
    const { oa, ua } = await overlay(lab, { routes: false });
    await expect(oa).not.toReach('10.10.0.2', { window: 800 });
    await ua.addRoute('172.16.0.2/32', { via: '10.0.0.2' });
    await lab.get('ub').addRoute('172.16.0.1/32', { via: '10.0.0.1' });
    await expect(oa).toReach('10.10.0.2'); // the same lab once the route is there: the route was what was missing
  });

  test('different VNIs do not talk', async ({ lab }) => {
    const { oa } = await overlay(lab, { routes: true, vni: [42, 43] });
    await expect(oa).not.toReach('10.10.0.2', { window: 800 });
  });

  test('bad vxlan input is an InvalidInputError naming it', async ({ lab }) => {
    const ua = await lab.netns('ua');
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ id: 2 ** 24 }, /invalid vxlan id 16777216/],
      [{ id: -1 }, /invalid vxlan id -1/],
      [{ id: 1, dstport: 0 }, /invalid vxlan dstport 0/],
      [{ id: 1, remote: '239.1.1.1' }, /invalid vxlan remote "239\.1\.1\.1": it is a multicast address; pass it as group/],
      [{ id: 1, group: '10.0.0.2' }, /invalid vxlan group "10\.0\.0\.2": expected a multicast address/],
      [{ id: 1, group: '239.1.1.1' }, /invalid vxlan dev undefined: a multicast group needs the underlay link/],
      [{ id: 1, remote: '10.0.0.2', group: '239.1.1.1', dev: 'u0' }, /give remote \(one peer\) or group/],
      [{ id: 1, local: 'fd00::1', remote: '10.0.0.2' }, /invalid vxlan local "fd00::1": it is IPv6 but 10\.0\.0\.2 is IPv4/],
      [{ id: 1, remote: '10.0.0.2; reboot' }, /invalid vxlan remote "10\.0\.0\.2; reboot"/],
      [{ id: 1, dev: '$(id)' }, /invalid vxlan dev "\$\(id\)"/],
      [{ id: 1, name: 'vx0 up' }, /invalid vxlan name "vx0 up"/],
      [{ id: 1, into: lab.host }, /invalid vxlan into "host": a link made in a namespace cannot be placed in the lab host/],
      [{ id: 1, mtu: 0 }, /invalid vxlan mtu 0/],
    ];
    for (const [extra, message] of cases) {
      const error = await lab.vxlan({ ns: ua, name: 'vx0', ...extra } as never).catch((e: unknown) => e);
      expect(error, String(message)).toBeInstanceOf(InvalidInputError);
      expect(String(error)).toMatch(message);
    }
    expect((await ua.links()).map((l) => l.ifname)).toEqual(['lo']);
  });
});

describe('macvlan', () => {
  /** Two macvlan children of one parent (a host veth end, its peer up in `wire`), placed in red and blue. */
  async function children(lab: Lab, mode: 'bridge' | 'private') {
    const [red, blue, wire] = await Promise.all(['red', 'blue', 'wire'].map((n) => lab.netns(n))) as [Netns, Netns, Netns];
    await lab.veth({ ns: lab.host, name: 'parent0' }, { ns: wire, name: 'eth0' });
    await lab.macvlan({ ns: lab.host, parent: 'parent0', into: red, name: 'mv0', mode, address: '10.20.0.1/24' });
    await lab.macvlan({ ns: lab.host, parent: 'parent0', into: blue, name: 'mv0', mode, address: '10.20.0.2/24', mac: '02:00:00:00:20:02' });
    return { red, blue };
  }

  test('two children of one parent in bridge mode reach each other', async ({ lab }) => {
    const { red, blue } = await children(lab, 'bridge');
    await expect(red).toHaveLink('mv0', { kind: 'macvlan', state: 'UP' });
    await expect(blue).toHaveLink('mv0', { mac: '02:00:00:00:20:02' });
    await expect(red).toReach('10.20.0.2');
    await expect(blue).toReach('10.20.0.1');
  });

  test('in private mode they do NOT', async ({ lab }) => {
    const { red } = await children(lab, 'private');
    await expect(red).toHaveLink('mv0', { kind: 'macvlan' });
    await expect(red).not.toReach('10.20.0.2', { window: 800 });
  });

  test('bad macvlan input: mode, parent, hostile names; a missing parent is NotFound', async ({ lab }) => {
    const red = await lab.netns('red');
    for (const [spec, message] of [
      [{ parent: 'lo', mode: 'bridged' }, /invalid macvlan mode "bridged": expected one of bridge, private, vepa, passthru/],
      [{ parent: 'eth0; reboot' }, /invalid macvlan parent "eth0; reboot"/],
      [{ parent: 'lo', name: '$(id)' }, /invalid macvlan name "\$\(id\)"/],
      [{ parent: 'lo', mac: '33:33:00:00:00:01' }, /invalid macvlan mac "33:33:00:00:00:01": it is a multicast MAC/],
      [{ parent: 'lo', ns: 'red' }, /invalid macvlan ns "red": expected a namespace handle/],
    ] as const) {
      const error = await lab.macvlan({ ns: red, name: 'mv0', ...spec } as never).catch((e: unknown) => e);
      expect(error, String(message)).toBeInstanceOf(InvalidInputError);
      expect(String(error)).toMatch(message);
    }
    const missing = await lab.macvlan({ ns: red, name: 'mv0', parent: 'nope0' }).catch((e: unknown) => e);
    expect(String(missing)).toMatch(/no interface named "nope0"/);
  });
});

describe('a VLAN-filtering bridge', () => {
  test.runIf(k.has('bridge vlan_filtering'))(`hosts in VLAN 10 reach each other, one in VLAN 20 does NOT, and does after moving to VLAN 10${k.needs('bridge vlan_filtering')}`, async ({ lab }) => {
    const br = await lab.bridge('br0', { vlanFiltering: true });
    const [red, blue, green] = await Promise.all(['red', 'blue', 'green'].map((n) => lab.netns(n))) as [Netns, Netns, Netns];
    await br.attach(red, { address: '10.30.0.1/24', vlan: 10 });
    await br.attach(blue, { address: '10.30.0.2/24', vlan: 10 });
    const g = await br.attach(green, { address: '10.30.0.3/24', vlan: 20 });
    await expect(red).toReach('10.30.0.2');
    await expect(red).not.toReach('10.30.0.3', { window: 800 });
    await expect(green).not.toReach('10.30.0.1', { window: 800 });
    await br.removeVlan(g.peer, 20);
    await br.vlan(g.peer, 10);
    await expect(green).toReach('10.30.0.1');
    await expect(green).toReach('10.30.0.2');
    const bad = await br.vlan(g.peer, 4095).catch((e: unknown) => e);
    expect(String(bad)).toMatch(/invalid vlan 4095: expected a VLAN id/);
  });

  test.runIf(!k.has('bridge vlan_filtering'))('where the kernel lacks VLAN filtering: lab.bridge({ vlanFiltering }) is a PrerequisiteError, undone, the name given back', async ({ lab }) => {
    const error = await lab.bridge('br0', { vlanFiltering: true }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PrerequisiteError);
    expect(String(error)).toMatch(/bridge VLAN filtering \(CONFIG_BRIDGE_VLAN_FILTERING\) is not available: the kernel said "RTNETLINK answers: Operation not supported"/);
    await expect(lab.host).not.toHaveLink('br0'); // undone, and the name given back
    await lab.bridge('br0');
    await expect(lab.host).toHaveLink('br0');
  });
});

describe('bridge steps (`bridge -batch`)', () => {
  test('run in order after the ip steps of the same call; one the tool refuses is a CommandError naming its command', async ({ lab }) => {
    await lab.bridge('br0');
    const error = await lab.host.apply([linkUpStep('br0'), bridgeVlanStep('nope0', { vid: 10, pvid: true, untagged: true })]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CommandError);
    expect((error as CommandError).argv).toEqual(['bridge', 'vlan', 'add', 'dev', 'nope0', 'vid', '10', 'pvid', 'untagged']);
    expect(String(error)).toMatch(/put nope0 in VLAN 10 \(pvid\) \(untagged\) failed in lab \d+ host: `bridge vlan add dev nope0 vid 10 pvid untagged` exited with code 1\n\s+Cannot find bridge device "nope0"/);
  });
});

describe('link kinds this kernel may lack', () => {
  const kinds = [
    { kind: 'dummy', feature: 'dummy', module: 'dummy', spec: {} },
    { kind: 'vlan', feature: 'vlan (802.1q)', module: '8021q', spec: { parent: 'eth0', id: 5 } },
    { kind: 'bond', feature: 'bond', module: 'bonding', spec: {} },
    { kind: 'vrf', feature: 'vrf', module: 'vrf', spec: { table: 10 } },
  ] as const;
  for (const kind of kinds) {
    test.runIf(k.has(kind.feature))(`${kind.kind}: made and up, with its address${k.needs(kind.feature)}`, async ({ lab }) => {
      const red = await lab.netns('red');
      await lab.veth({ ns: red, name: 'eth0' }, { ns: lab.host, name: 'red-h' });
      await lab.link({ ns: red, name: 'k0', kind: kind.kind, ...kind.spec, address: '10.40.0.1/24' });
      await expect(red).toHaveLink('k0', { kind: kind.kind });
      await expect(red).toHaveAddress('10.40.0.1/24', { dev: 'k0' });
    });

    test.runIf(!k.has(kind.feature))(`${kind.kind}: where the kernel lacks it, a PrerequisiteError naming ${kind.module}, and nothing left behind`, async ({ lab }) => {
      const red = await lab.netns('red');
      await lab.veth({ ns: red, name: 'eth0' }, { ns: lab.host, name: 'red-h' });
      const error = await lab.link({ ns: red, name: 'k0', kind: kind.kind, ...kind.spec, address: '10.40.0.1/24' }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(PrerequisiteError);
      expect((error as PrerequisiteError).missing).toBe(`the ${kind.kind} link kind (kernel module ${kind.module})`);
      expect(String(error)).toMatch(new RegExp(`the kernel refused it in lab \\d+ namespace red \\([^)]*(Unknown device type|Operation not supported)[^)]*\\); load it as root on the machine \\(\`modprobe ${kind.module}\``));
      await expect(red).not.toHaveLink('k0');
    });
  }

  test('bad input for lab.link: kinds it does not make, options of another kind', async ({ lab }) => {
    const red = await lab.netns('red');
    for (const [spec, message] of [
      [{ kind: 'veth' }, /invalid link kind "veth": expected one of dummy, vlan, bond, vrf \(veth: lab\.veth/],
      [{ kind: 'dummy; reboot' }, /invalid link kind "dummy; reboot"/],
      [{ kind: 'vlan', parent: 'lo', id: 0 }, /invalid vlan id 0: expected a VLAN id/],
      [{ kind: 'vlan', id: 5 }, /invalid vlan parent undefined/],
      [{ kind: 'vrf' }, /invalid vrf table undefined/],
      [{ kind: 'dummy', table: 10 }, /invalid dummy table 10: table is for a vrf link only/],
      [{ kind: 'bond', parent: 'lo' }, /invalid bond options "lo": parent and id are for a vlan link only/],
    ] as const) {
      const error = await lab.link({ ns: red, name: 'k0', ...spec } as never).catch((e: unknown) => e);
      expect(error, String(message)).toBeInstanceOf(InvalidInputError);
      expect(String(error)).toMatch(message);
    }
  });
});
