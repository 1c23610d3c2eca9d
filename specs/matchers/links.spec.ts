// Link options and toHaveLink: MTU and MAC where links are made and on existing ones (setLink), the kernel's MTU bounds
// as a typed error, IPv6 addresses usable at once (nodad), carrier and waiting (timeout, and .not over a whole window),
// bridge port flags (isolated, hairpin, learning) and an existing link added to a bridge. Real labs; every positive
// case has its negative, and bad input is an InvalidInputError naming the input.
import { describe, expect, test } from '../../src/vitest.js';
import { ConflictError, InvalidInputError, NotFoundError, type Lab, type LinkInfo, type Netns } from '../../src/index.js';
import { buildTopology, validateTopology } from '../../fixtures/index.js';
import { failureOf } from './helpers.js';

const link = async (ns: Netns, name: string): Promise<LinkInfo | undefined> => (await ns.links()).find((l) => l.ifname === name);

/** red and blue on one veth (10.1.0.1/24 – 10.1.0.2/24), with options for either end. */
async function pair(lab: Lab, a: Record<string, unknown> = {}, b: Record<string, unknown> = {}) {
  const [red, blue] = await Promise.all([lab.netns('red'), lab.netns('blue')]);
  await lab.veth({ ns: red, name: 'eth0', address: '10.1.0.1/24', ...a }, { ns: blue, name: 'eth0', address: '10.1.0.2/24', ...b });
  return { red, blue };
}

describe('MTU and MAC', () => {
  test('veth ends and bridges are made with them, setLink changes them, toHaveLink matches them (and says what differs)', async ({ lab }) => {
    const { red, blue } = await pair(lab, { mtu: 1400, mac: '02:00:00:00:0a:01' }, { mtu: 9000, mac: '02:00:00:00:0A:02' });
    await expect(red).toHaveLink('eth0', { mtu: 1400, mac: '02:00:00:00:0a:01', kind: 'veth', state: 'UP', carrier: true });
    await expect(blue).toHaveLink('eth0', { mtu: 9000, mac: '02:00:00:00:0a:02' });
    await expect(red).not.toHaveLink('eth0', { mtu: 1500 });
    const wrong = await failureOf(expect(red).toHaveLink('eth0', { mtu: 1500, mac: '02:00:00:00:0a:09', timeout: 100 }));
    expect(wrong).toMatch(/red: its MTU is 1400, not 1500; its MAC is 02:00:00:00:0a:01, not 02:00:00:00:0a:09 \(after waiting \d+ ms\)/);
    await expect(red).toReach('10.1.0.2');

    await red.setLink('eth0', { mtu: 1280, mac: '02:00:00:00:0b:01' });
    await expect(red).toHaveLink('eth0', { mtu: 1280, mac: '02:00:00:00:0b:01', state: 'UP' });
    await red.setLink('eth0', { up: false });
    await expect(red).toHaveLink('eth0', { state: 'DOWN' });
    await expect(red).not.toReach('10.1.0.2', { window: 300 });
    await red.setLink('eth0', { up: true });
    await expect(red).toReach('10.1.0.2');

    const br = await lab.bridge('br0', { mtu: 1450, mac: '02:00:00:00:0c:01' });
    await expect(lab.host).toHaveLink('br0', { kind: 'bridge', mtu: 1450, mac: '02:00:00:00:0c:01' });
    const green = await lab.netns('green');
    const a = await br.attach(green, { address: '10.2.0.1/24', mtu: 1450, mac: '02:00:00:00:0d:01' });
    await expect(green).toHaveLink(a.ifname, { mtu: 1450, mac: '02:00:00:00:0d:01' });
    await expect(lab.host).toHaveLink(a.peer, { mtu: 1450, master: 'br0' });
  });

  test("the kernel's MTU bounds come back as an InvalidInputError naming the mtu; the lab is unchanged", async ({ lab }) => {
    const red = await lab.netns('red');
    // 70000 and 1e9 are whole numbers, so only the kernel knows they are too big for a veth (max_mtu 65535)
    for (const mtu of [70000, 1e9]) {
      const error = await lab.veth({ ns: red, name: 'big0', mtu }, { ns: lab.host, name: 'big1' }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidInputError);
      expect((error as InvalidInputError).input).toBe('mtu');
      expect(String(error)).toMatch(new RegExp(`invalid mtu ${mtu}: lab \\d+ host refused to create big0 with it \\(RTNETLINK answers: Invalid argument\\): an MTU outside`));
    }
    await expect(red).not.toHaveLink('big0');
    await expect(lab.host).not.toHaveLink('big1');
    // the names were given back: the same call with a good MTU works
    await lab.veth({ ns: red, name: 'big0', mtu: 65535 }, { ns: lab.host, name: 'big1' });
    await expect(red).toHaveLink('big0', { mtu: 65535 });
    const small = await red.setLink('big0', { mtu: 10 }).catch((e: unknown) => e);
    expect(small).toBeInstanceOf(InvalidInputError);
    expect(String(small)).toMatch(/invalid mtu 10: .*mtu less than device minimum/);
    await expect(red).toHaveLink('big0', { mtu: 65535 });
    const missing = await red.setLink('nope0', { mtu: 1400 }).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(NotFoundError);
  });

  test('bad MTUs, MACs and hostile names are InvalidInputErrors naming the input, before anything runs', async ({ lab }) => {
    const red = await lab.netns('red');
    const cases: [() => Promise<unknown>, RegExp][] = [
      [() => lab.veth({ ns: red, name: 'a0', mtu: -1 }, { ns: lab.host, name: 'a1' }), /invalid first veth end mtu -1/],
      [() => lab.veth({ ns: red, name: 'a0', mtu: Number.NaN }, { ns: lab.host, name: 'a1' }), /invalid first veth end mtu null/],
      [() => lab.veth({ ns: red, name: 'a0' }, { ns: lab.host, name: 'a1', mtu: 1500.5 }), /invalid second veth end mtu 1500\.5/],
      [() => lab.veth({ ns: red, name: 'a0', mtu: '1500' as never }, { ns: lab.host, name: 'a1' }), /invalid first veth end mtu "1500"/],
      [() => lab.veth({ ns: red, name: 'a0', mac: 'zz:00:00:00:00:01' }, { ns: lab.host, name: 'a1' }), /invalid first veth end mac "zz:00:00:00:00:01": expected a MAC address/],
      [() => lab.veth({ ns: red, name: 'a0', mac: '01:00:5e:00:00:01' }, { ns: lab.host, name: 'a1' }), /invalid first veth end mac "01:00:5e:00:00:01": it is a multicast MAC/],
      [() => lab.veth({ ns: red, name: 'a0', mac: 'ff:ff:ff:ff:ff:ff' }, { ns: lab.host, name: 'a1' }), /multicast MAC/],
      [() => lab.veth({ ns: red, name: 'a0', mac: '00:00:00:00:00:00' }, { ns: lab.host, name: 'a1' }), /the all-zero MAC/],
      [() => lab.veth({ ns: red, name: 'a0', mac: '02:00:00:00:00:01; reboot' }, { ns: lab.host, name: 'a1' }), /invalid first veth end mac "02:00:00:00:00:01; reboot"/],
      [() => lab.bridge('br0', { mtu: 1e10 }), /invalid bridge mtu 10000000000/],
      [() => lab.bridge('br0', { mac: '$(id)' }), /invalid bridge mac "\$\(id\)"/],
      [() => lab.bridge('br0', { vlanFiltering: 'yes' as never }), /invalid bridge vlanFiltering "yes"/],
      [() => red.setLink('eth0; reboot', { mtu: 1400 }), /invalid device "eth0; reboot"/],
      [() => red.setLink('$(id)', { up: true }), /invalid device "\$\(id\)"/],
      [() => red.setLink('lo', { mtu: -1 }), /invalid link mtu -1/],
      [() => red.setLink('lo', { mac: '02:00:00:00:00' }), /invalid link mac "02:00:00:00:00"/],
      [() => red.setLink('lo', { up: 'yes' as never }), /invalid link up "yes"/],
      [() => red.setLink('lo', {}), /nothing to set/],
      [() => red.addAddress('fd00::1/64', 'lo', { nodad: 'no' as never }), /invalid nodad "no"/],
      [() => expect(red).toHaveLink('lo', { mtu: Number.NaN }), /invalid toHaveLink option mtu/],
      [() => expect(red).toHaveLink('lo', { mac: 'zz:zz:zz:zz:zz:zz' }), /invalid toHaveLink option mac "zz:zz:zz:zz:zz:zz"/],
      [() => expect(red).toHaveLink('lo', { carrier: 'yes' as never }), /invalid toHaveLink option carrier "yes": expected a boolean/],
      [() => expect(red).toHaveLink('lo', { timeout: -5 }), /invalid toHaveLink option timeout -5/],
      [() => expect(red).toHaveLink('lo', { kind: 'veth; reboot' }), /invalid kind "veth; reboot"/],
      [() => expect(red).toHaveLink('lo', { master: '$(id)' }), /invalid master "\$\(id\)"/],
    ];
    for (const [call, message] of cases) {
      const error = await call().catch((e: unknown) => e);
      expect(error, String(message)).toBeInstanceOf(InvalidInputError);
      expect(String(error)).toMatch(message);
    }
    // nothing was built: no link, no bridge
    expect((await red.links()).map((l) => l.ifname)).toEqual(['lo']);
    expect((await lab.host.links()).map((l) => l.ifname)).toEqual(['lo']);
  });
});

describe('topologies', () => {
  test('a topology veth end takes mtu, mac and up: false; bad values build nothing', async ({ lab }) => {
    const t = await buildTopology(lab, {
      namespaces: ['red', 'blue'],
      veths: [{ a: { ns: 'red', name: 'eth0', address: '10.5.0.1/24', mtu: 1400, mac: '02:00:00:00:05:01' }, b: { ns: 'blue', name: 'eth0', address: '10.5.0.2/24', mtu: 1400, up: false } }],
    });
    await expect(t.ns.red).toHaveLink('eth0', { mtu: 1400, mac: '02:00:00:00:05:01', carrier: false });
    await expect(t.ns.blue).toHaveLink('eth0', { state: 'DOWN' });
    await expect(t.ns.red).not.toReach('10.5.0.2', { window: 300 });
    await t.ns.blue.up('eth0');
    await expect(t.ns.red).toReach('10.5.0.2');
    for (const [end, message] of [
      [{ mtu: -1 }, /invalid end a of veth 1 mtu -1/],
      [{ mac: '01:00:00:00:00:01' }, /invalid end a of veth 1 mac "01:00:00:00:00:01": it is a multicast MAC/],
      [{ up: 'no' }, /invalid end a of veth 1 up "no"/],
      [{ hairpin: true }, /invalid key of end a of veth 1 "hairpin"/],
    ] as const) {
      const spec = { namespaces: ['x'], veths: [{ a: { ns: 'x', name: 'e0', ...end }, b: { ns: 'host', name: 'e1' } }] };
      expect(() => validateTopology(spec as never), String(message)).toThrow(message);
    }
  });
});

describe('IPv6 addresses netspec adds are usable at once', () => {
  test('a probe right after the build reaches; with { nodad: false } the address is tentative at first, then not', async ({ lab }) => {
    const { red, blue } = await pair(lab, { address: 'fd00:1::1/64' }, { address: 'fd00:1::2/64' });
    // no wait between the build and the probe: a tentative address could neither send nor answer. (The first packets
    // may still be late by up to a second: a veth's queue starts when the kernel's linkwatch sees its carrier, which it
    // does at most once a second; that is the link, not the address, and toReach's default timeout covers it.)
    await expect(red).toReach('fd00:1::2');
    const flags = (await red.addresses()).flatMap((l) => l.addr_info ?? []).find((a) => a.local === 'fd00:1::1');
    expect(flags?.tentative).toBeUndefined();

    await red.addAddress('fd00:1::11/64', 'eth0', { nodad: false });
    await blue.addAddress('fd00:1::12/64', 'eth0', { nodad: true });
    const read = async (ns: Netns, address: string) => (await ns.addresses()).flatMap((l) => l.addr_info ?? []).find((a) => a.local === address);
    expect((await read(red, 'fd00:1::11'))?.tentative).toBe(true); // duplicate address detection runs (about a second)
    expect((await read(blue, 'fd00:1::12'))?.tentative).toBeUndefined();
    await expect(blue).toReach('fd00:1::11', { timeout: 5000 });
    expect((await read(red, 'fd00:1::11'))?.tentative).toBeUndefined();
  });
});

describe('carrier, and waiting', () => {
  test('a veth whose peer is down has no carrier; toHaveLink({ carrier }) both ways', async ({ lab }) => {
    const { red, blue } = await pair(lab, {}, { up: false });
    await expect(blue).toHaveLink('eth0', { state: 'DOWN' });
    await expect(red).toHaveLink('eth0', { carrier: false });
    await expect(red).not.toHaveLink('eth0', { carrier: true });
    const none = await failureOf(expect(red).toHaveLink('eth0', { carrier: true, timeout: 200 }));
    expect(none).toMatch(/red: it has no carrier \(flags NO-CARRIER,[A-Z_,-]*\)/);
    expect(none).toMatch(/eth0 veth DOWN NO-CARRIER mtu 1500/);
    await blue.up('eth0');
    await expect(red).toHaveLink('eth0', { carrier: true, state: 'UP' });
    await expect(red).not.toHaveLink('eth0', { carrier: false });
    const has = await failureOf(expect(red).toHaveLink('eth0', { carrier: false, timeout: 200 }));
    expect(has).toMatch(/red: it has a carrier/);
  });

  test('with a timeout, toHaveLink waits for the link; .not watches the whole window and fails when the link matches in it', async ({ lab }) => {
    const { red, blue } = await pair(lab, {}, { up: false });
    const later = (ms: number, up: boolean) => new Promise<void>((resolve, reject) => setTimeout(() => (up ? blue.up('eth0') : blue.down('eth0')).then(resolve, reject), ms));

    // positive: the carrier comes 400 ms later, within the timeout
    let started = Date.now();
    let change = later(400, true);
    await expect(red).toHaveLink('eth0', { carrier: true, timeout: 5000 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(350);
    await change;
    // without enough time, the same assertion fails, and says how long it waited
    await blue.down('eth0');
    await expect(red).toHaveLink('eth0', { carrier: false });
    const short = await failureOf(expect(red).toHaveLink('eth0', { carrier: true, timeout: 300 }));
    expect(short).toMatch(/it has no carrier .*\(after waiting \d+ ms\)/);

    // .not without a timeout reads once: no carrier now, so it passes (even though the carrier is about to come)
    change = later(400, true);
    await expect(red).not.toHaveLink('eth0', { carrier: true });
    // .not with a timeout does not pass on that transient state: the carrier comes within the window, so it fails
    const transient = await failureOf(expect(red).not.toHaveLink('eth0', { carrier: true, timeout: 3000 }));
    expect(transient).toMatch(/^expect\(red\)\.not\.toHaveLink\("eth0", \{"carrier":true,"timeout":3000\}\)\n\nred has eth0 veth UP mtu 1500 .* \(\d+ ms into the 3000 ms window\)/);
    await change;
    // and it passes only after watching the whole window
    await blue.down('eth0');
    started = Date.now();
    await expect(red).not.toHaveLink('eth0', { carrier: true, timeout: 600 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(550);
  });
});

describe('bridge ports', () => {
  test('isolated ports do not reach each other but reach a port that is not isolated; setPort lifts it', async ({ lab }) => {
    const br = await lab.bridge('br0');
    const [red, blue, green] = await Promise.all(['red', 'blue', 'green'].map((n) => lab.netns(n)));
    const r = await br.attach(red!, { address: '10.3.0.1/24', port: { isolated: true } });
    const b = await br.attach(blue!, { address: '10.3.0.2/24', port: { isolated: true, learning: false, hairpin: true } });
    await br.attach(green!, { address: '10.3.0.3/24' });
    await expect(red!).toReach('10.3.0.3');
    await expect(blue!).toReach('10.3.0.3');
    await expect(red!).not.toReach('10.3.0.2', { window: 500 });
    const ports = async () => (await lab.host.links()).filter((l) => l.master === 'br0');
    const slave = (l: LinkInfo | undefined) => (l?.linkinfo as { info_slave_data?: Record<string, unknown> } | undefined)?.info_slave_data;
    const byName = async (name: string) => slave((await ports()).find((l) => l.ifname === name));
    expect(await byName(b.peer)).toMatchObject({ isolated: true, learning: false, hairpin: true });
    expect(await byName(r.peer)).toMatchObject({ isolated: true, learning: true, hairpin: false });

    await br.setPort(r.peer, { isolated: false });
    expect(await byName(r.peer)).toMatchObject({ isolated: false });
    await expect(red!).toReach('10.3.0.2');
    for (const [flags, message] of [
      [{ isolated: 'on' }, /invalid bridge port flags isolated "on": expected true or false/],
      [{ hairpin: true, stp: true }, /invalid bridge port flags key "stp": expected one of hairpin, learning/],
      [{}, /nothing to set/],
      [null, /invalid bridge port flags null/],
    ] as const) {
      const error = await br.setPort(r.peer, flags as never).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidInputError);
      expect(String(error)).toMatch(message);
    }
    const hostile = await br.setPort('eth0; reboot', { hairpin: true }).catch((e: unknown) => e);
    expect(String(hostile)).toMatch(/invalid bridge port device "eth0; reboot"/);
    const vlan = await br.attach(green!, { ifname: 'eth9', vlan: 10 }).catch((e: unknown) => e);
    expect(String(vlan)).toMatch(/invalid vlan 10: bridge br0 of lab \d+ does not filter by VLAN; create it with lab\.bridge\("br0", \{ vlanFiltering: true \}\)/);
  });

  test('addPort: an existing link of the host (a veth end made with lab.veth) joins a bridge, with its flags', async ({ lab }) => {
    const br = await lab.bridge('br0');
    const [red, blue] = await Promise.all([lab.netns('red'), lab.netns('blue')]);
    await br.attach(blue, { address: '10.4.0.2/24' });
    await lab.veth({ ns: red, name: 'eth0', address: '10.4.0.1/24' }, { ns: lab.host, name: 'red-h' });
    await expect(red).not.toReach('10.4.0.2', { window: 300 }); // not on the bridge yet
    await br.addPort('red-h', { port: { hairpin: true } });
    await expect(lab.host).toHaveLink('red-h', { master: 'br0', state: 'UP' });
    await expect(red).toReach('10.4.0.2');
    const missing = await br.addPort('nope0').catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(NotFoundError);
    expect(String(missing)).toMatch(/no interface named "nope0"/);
    const self = await br.addPort('br0').catch((e: unknown) => e);
    expect(String(self)).toMatch(/invalid bridge port device "br0": a bridge cannot be a port of itself/);
    expect(String(await br.addPort('$(id)').catch((e: unknown) => e))).toMatch(/invalid bridge port device "\$\(id\)"/);
  });

  test("a port of another bridge: addPort does not steal it, setPort does not change it, and a link that is no port is refused", async ({ lab }) => {
    const [br0, br1] = await Promise.all([lab.bridge('br0'), lab.bridge('br1')]);
    const red = await lab.netns('red');
    const r = await br1.attach(red, { address: '10.5.0.1/24' });
    // the kernel would move it from br1 to br0 without a word
    const stolen = await br0.addPort(r.peer).catch((e: unknown) => e);
    expect(stolen).toBeInstanceOf(ConflictError);
    expect(String(stolen)).toMatch(new RegExp(`invalid bridge port device "${r.peer}": it is a port of br1 already; take it out first`));
    await expect(lab.host).toHaveLink(r.peer, { master: 'br1' });
    // flags are the device's, whichever bridge: br0.setPort would have changed br1's port
    const other = await br0.setPort(r.peer, { hairpin: true }).catch((e: unknown) => e);
    expect(other).toBeInstanceOf(InvalidInputError);
    expect(String(other)).toMatch(/it is a port of br1, not of br0: use that bridge's handle/);
    const { stdout } = await lab.host.exec('bridge', ['-j', '-d', 'link', 'show', 'dev', r.peer]);
    expect((JSON.parse(stdout) as { hairpin: boolean }[])[0]!.hairpin).toBe(false);
    await br1.setPort(r.peer, { hairpin: true });
    expect((JSON.parse((await lab.host.exec('bridge', ['-j', '-d', 'link', 'show', 'dev', r.peer])).stdout) as { hairpin: boolean }[])[0]!.hairpin).toBe(true);
    // a link of the host that is nobody's port, and one that is not there
    await lab.veth({ ns: lab.host, name: 'free0' }, { ns: red, name: 'free1' });
    expect(String(await br0.setPort('free0', { hairpin: true }).catch((e: unknown) => e))).toMatch(/it is not a port of br0 \(it has no master\): add it first with br0\.addPort\("free0"\)/);
    expect(await br0.setPort('nope0', { hairpin: true }).catch((e: unknown) => e)).toBeInstanceOf(NotFoundError);
  });
});
