// Regressions of an adversarial pass over toHaveLink: each case passed where the kernel's state said it should fail,
// or gave a verdict where netspec could not read what it asserts about. Real labs, real links, no mocks.
import { describe, expect, test } from '../../src/vitest.js';
import { InvalidInputError, NotFoundError, ProbeError, type Lab, type Netns } from '../../src/index.js';
import { failureOf } from './helpers.js';

/** red and blue on one veth (10.1.0.1/24 – 10.1.0.2/24); blue's end starts down, so red's has no carrier. */
async function pair(lab: Lab): Promise<{ red: Netns; blue: Netns }> {
  const [red, blue] = await Promise.all([lab.netns('red'), lab.netns('blue')]);
  await lab.veth({ ns: red, name: 'eth0', address: '10.1.0.1/24' }, { ns: blue, name: 'eth0', address: '10.1.0.2/24', up: false });
  return { red, blue };
}

const errorOf = (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => e);
/** Run `ip -batch` lines in `ns` MS milliseconds from now, in one process (so nothing reads between them). */
const later = (ns: Netns, ms: number, ...lines: string[]) => new Promise((r) => setTimeout(r, ms)).then(() => ns.exec('ip', ['-batch', '-'], { input: lines.join('\n') + '\n' }));

describe('toHaveLink: no vacuous .not', () => {
  test('a state that is no operstate is an InvalidInputError, not a .not that passes whatever the state', async ({ lab }) => {
    const { red } = await pair(lab);
    for (const state of ['UPP', 'LOWER_UP', 'NO_CARRIER', 'ACTIVE']) {
      const error = await errorOf(expect(red).not.toHaveLink('eth0', { state }));
      expect(error, state).toBeInstanceOf(InvalidInputError);
      expect(String(error)).toMatch(new RegExp(`invalid state "${state}": expected an operstate as ip prints it: UP, DOWN, UNKNOWN, LOWERLAYERDOWN, DORMANT, TESTING, NOTPRESENT`));
    }
    // every real one still works, both ways
    await expect(red).toHaveLink('eth0', { state: 'DOWN' });
    await expect(red).not.toHaveLink('eth0', { state: 'UP' });
    await expect(red).toHaveLink('lo', { state: 'UNKNOWN' });
  });

  test('.not with options on a link that is not there is a NotFoundError (a misspelt name passed it); without options it still passes', async ({ lab }) => {
    const { red } = await pair(lab);
    for (const options of [{ carrier: true }, { state: 'UP' }, { master: 'br0' }, { mtu: 1500 }, { carrier: true, timeout: 300 }]) {
      const error = await errorOf(expect(red).not.toHaveLink('eht0', options));
      expect(error, JSON.stringify(options)).toBeInstanceOf(NotFoundError);
      expect(String(error)).toMatch(/no interface named "eht0" in this lab: namespace red of lab \d+ has no link eht0.*, so \.not\.toHaveLink\("eht0", .*\) has nothing to say about its .*; to assert that the link is not there, use \.not\.toHaveLink\("eht0"\)/);
    }
    await expect(red).not.toHaveLink('eht0');
    await expect(red).not.toHaveLink('eht0', { timeout: 200 });
    await expect(red).not.toHaveLink('eth0', { carrier: true });
  });
});

describe('toHaveLink: state follows the carrier, not the operstate the kernel has not updated yet', () => {
  test('right after the peer goes down: not UP (the operstate still says UP for most of a second), and .not DOWN does not pass', async ({ lab }) => {
    const { red, blue } = await pair(lab);
    await blue.up('eth0');
    await expect(red).toHaveLink('eth0', { state: 'UP', carrier: true });
    await new Promise((r) => setTimeout(r, 1200)); // past linkwatch's once-a-second: the next change is not seen at once
    await blue.down('eth0');
    const stale = (await red.links()).find((l) => l.ifname === 'eth0')!;
    expect(stale.flags).not.toContain('LOWER_UP'); // the kernel knows at once the carrier is gone…
    const up = await failureOf(expect(red).toHaveLink('eth0', { state: 'UP', timeout: 100 }));
    expect(up).toMatch(/red: its state is (UP|DOWN) \(flags [A-Z_,-]*\)(, which the kernel has not caught up with its carrier yet)?, not UP/);
    await expect(red).not.toHaveLink('eth0', { state: 'UP' });
    // …and .not DOWN waits for the operstate to settle instead of passing on the stale UP
    const down = await failureOf(expect(red).not.toHaveLink('eth0', { state: 'DOWN' }));
    expect(down).toMatch(/^expect\(red\)\.not\.toHaveLink\("eth0", \{"state":"DOWN"\}\)\n\nred has eth0 veth DOWN NO-CARRIER/);
    // the same the other way: right after the peer comes up, UP at once (carrier), and .not UP fails
    await blue.up('eth0');
    await expect(red).toHaveLink('eth0', { state: 'UP', timeout: 100 });
    await expect(red).not.toHaveLink('eth0', { state: 'DOWN' });
  });
});

describe('toHaveLink: .not over a window', () => {
  test('a carrier that comes and goes between two reads fails .not { carrier: true } (the kernel counts carrier changes)', async ({ lab }) => {
    const { red, blue } = await pair(lab);
    // blue's end up and down again in one ip process: red's end has a carrier for a moment no read sees
    let flap = later(blue, 300, 'link set eth0 up', 'link set eth0 down');
    const msg = await failureOf(expect(red).not.toHaveLink('eth0', { carrier: true, timeout: 4000 }));
    await flap;
    expect(msg).toMatch(/^expect\(red\)\.not\.toHaveLink\("eth0", \{"carrier":true,"timeout":4000\}\)\n\nred has eth0 veth /);
    // (a read may, rarely, fall inside the flap and see the carrier itself; else the kernel's count says it came)
    if (msg.split('\n')[2]!.includes('NO-CARRIER')) expect(msg).toMatch(/NO-CARRIER .*\nits carrier changed 2 times between the reads at \d+ ms and \d+ ms into the window \(carrier_changes \d+ → \d+\), and the reads saw no change: it had its carrier in between/);
    // and the other way: a carrier lost for a moment fails .not { carrier: false }
    await blue.up('eth0');
    await expect(red).toHaveLink('eth0', { carrier: true });
    flap = later(blue, 300, 'link set eth0 down', 'link set eth0 up');
    const lost = await failureOf(expect(red).not.toHaveLink('eth0', { carrier: false, timeout: 4000 }));
    await flap;
    expect(lost).toMatch(/^expect\(red\)\.not\.toHaveLink\("eth0", \{"carrier":false,"timeout":4000\}\)\n\nred has eth0 veth /);
    if (!lost.split('\n')[2]!.includes('NO-CARRIER')) expect(lost).toMatch(/its carrier changed 2 times .* it lost its carrier in between/);
    // the link itself taken down and up between two reads (admin down at neither read): still seen
    flap = later(red, 300, 'link set eth0 down', 'link set eth0 up');
    const self = await failureOf(expect(red).not.toHaveLink('eth0', { carrier: false, timeout: 4000 }));
    await flap;
    expect(self).toMatch(/^expect\(red\)\.not\.toHaveLink\("eth0", \{"carrier":false,"timeout":4000\}\)\n\nred has eth0 veth /);
    // counted while the link was down at the reads (up and down again between them): whether it showed LOWER_UP is
    // not known from the reads, so no verdict either way (a ProbeError), unless a read caught it up
    await red.down('eth0');
    flap = later(red, 300, 'link set eth0 up', 'link set eth0 down');
    const ambiguous = await errorOf(expect(red).not.toHaveLink('eth0', { carrier: true, timeout: 4000 }));
    await flap;
    await red.up('eth0');
    if (!/has eth0 veth \S+ mtu/.test(String(ambiguous))) {
      expect(ambiguous).toBeInstanceOf(ProbeError);
      expect(String(ambiguous)).toMatch(/the carrier of eth0 in namespace red of lab \d+ changed 2 times between the reads .* but the link was down at one of them/);
    }
    // a steady carrier still passes, after the whole window
    const started = Date.now();
    await expect(red).not.toHaveLink('eth0', { carrier: false, timeout: 600 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(550);
  });

  // each window ends at the change (an error, or a match): a long one costs nothing, and leaves a loaded machine room
  // to make the change 200 ms in
  test('a link deleted, renamed or replaced during the window is an error, never a pass', async ({ lab }) => {
    const red = await lab.netns('red');
    await Promise.all([0, 1, 2].map((i) => lab.veth({ ns: red, name: `d${i}` }, { ns: red, name: `p${i}` })));
    let change = later(red, 200, 'link del d0');
    const deleted = await errorOf(expect(red).not.toHaveLink('d0', { mtu: 9000, timeout: 4000 }));
    await change;
    expect(deleted).toBeInstanceOf(NotFoundError);
    expect(String(deleted)).toMatch(/namespace red of lab \d+ has no link d0 \d+ ms into the 4000 ms window/);
    change = later(red, 200, 'link set d1 down', 'link set d1 name d9');
    // (renaming needs the link down; a claim that is false throughout, so no read between the two lines can match it)
    const renamed = await errorOf(expect(red).not.toHaveLink('d1', { mtu: 9000, timeout: 4000 }));
    await change;
    expect(renamed).toBeInstanceOf(NotFoundError);
    // replaced: another link takes the name, in one ip process (renamed away, then the new one renamed in: a delete
    // first waits for the kernel's grace period, and a read fell into that gap six times in a row on a loaded machine).
    // A read may still fall between the two renames (then d2 is not there, a NotFoundError, also right); try until the
    // reads saw both links
    let n = 0;
    const replace = async (mtu: number) => {
      for (let i = 0; ; i++) {
        n += 1;
        await red.exec('ip', ['link', 'add', `n${n}`, 'mtu', String(mtu), 'type', 'veth', 'peer', 'name', `q${n}`]);
        const swap = later(red, 200, `link set d2 name o${n}`, `link set n${n} name d2`, `link del o${n}`);
        const outcome = await errorOf(expect(red).not.toHaveLink('d2', { mtu: 1400, timeout: 4000 }));
        await swap;
        if (!(outcome instanceof NotFoundError) || i === 5) return outcome;
        expect(String(outcome)).toMatch(/has no link d2 \d+ ms into the 4000 ms window/);
      }
    };
    const replaced = await replace(1500);
    expect(replaced).toBeInstanceOf(ProbeError);
    expect(String(replaced)).toMatch(/d2 in namespace red of lab \d+ was replaced during the 4000 ms window of \.not\.toHaveLink\("d2", \{"mtu":1400,"timeout":4000\}\): ifindex \d+ at \d+ ms, \d+ at \d+ ms/);
    // replaced by one that matches: that read is evidence, so the .not fails (a verdict, not an error)
    const matched = await replace(1400);
    expect(matched).not.toBeInstanceOf(NotFoundError);
    expect(matched).not.toBeInstanceOf(ProbeError);
    expect(String(matched)).toMatch(/red has d2 veth .* mtu 1400 /);
    // the namespace deleted during the window: an error too
    change = later(lab.host, 200, 'netns del red');
    const nsGone = await errorOf(expect(red).not.toHaveLink('d2', { mtu: 9000, timeout: 4000 }));
    await change;
    expect(nsGone).toBeInstanceOf(NotFoundError);
    expect(String(nsGone)).toMatch(/no network namespace named "red"/);
  });
});

describe('hostile input', () => {
  test('keys every object has (constructor, toString, __proto__) are unknown options, InvalidInputErrors naming them; nothing is built', async ({ lab }) => {
    const br = await lab.bridge('br0');
    const [red, blue] = await Promise.all([lab.netns('red'), lab.netns('blue')]);
    const a = await br.attach(red, { address: '10.3.0.1/24' });
    for (const flags of [{ constructor: true }, { toString: false }, { hasOwnProperty: true }, JSON.parse('{"__proto__": true}') as object]) {
      const key = Object.keys(flags)[0];
      for (const call of [() => br.setPort(a.peer, flags as never), () => br.attach(blue, { address: '10.3.0.2/24', port: flags as never }), () => br.addPort('lo', { port: flags as never })]) {
        const error = await errorOf(call());
        expect(error, key).toBeInstanceOf(InvalidInputError);
        expect(String(error)).toMatch(new RegExp(`invalid (bridge port flags|port) key "${key}": expected one of hairpin, learning`));
      }
    }
    expect((await blue.links()).map((l) => l.ifname)).toEqual(['lo']);
    expect((await lab.host.links()).filter((l) => l.master === 'br0').map((l) => l.ifname)).toEqual([a.peer]);
    for (const key of ['constructor', 'valueOf', '__proto__']) {
      const options = JSON.parse(`{"${key}": 1}`) as never;
      for (const [matcher, call] of [['toHaveLink', () => expect(red).toHaveLink('lo', options)], ['toReach', () => expect(red).toReach('10.3.0.1', options)]] as const) {
        const error = await errorOf(call());
        expect(error, `${matcher} ${key}`).toBeInstanceOf(InvalidInputError);
        expect(String(error)).toMatch(new RegExp(`invalid ${matcher} option "${key}": unknown option; ${matcher} takes`));
      }
    }
  });
});

test('a vxlan tunnel end that is no address of a namespace (0.0.0.0, ::, IPv4-mapped, broadcast, multicast local) is refused; nothing is built', async ({ lab }) => {
  const ua = await lab.netns('ua');
  for (const [extra, message] of [
    [{ remote: '0.0.0.0' }, /invalid vxlan remote "0\.0\.0\.0": the unspecified address/],
    [{ remote: '::' }, /invalid vxlan remote "::": the unspecified address/],
    [{ remote: '::ffff:10.0.0.2' }, /invalid vxlan remote "::ffff:10\.0\.0\.2": an IPv4-mapped IPv6 address .* write the IPv4 address 10\.0\.0\.2/],
    [{ remote: '::ffff:224.0.0.1' }, /invalid vxlan remote "::ffff:224\.0\.0\.1": an IPv4-mapped IPv6 address/],
    [{ remote: '255.255.255.255' }, /invalid vxlan remote "255\.255\.255\.255"/],
    [{ local: '::ffff:10.0.0.1', remote: 'fd00::2' }, /invalid vxlan local "::ffff:10\.0\.0\.1": an IPv4-mapped/],
    [{ local: '239.1.1.1', remote: '10.0.0.2' }, /invalid vxlan local "239\.1\.1\.1": it is a multicast address; local is a unicast address/],
  ] as const) {
    const error = await errorOf(lab.vxlan({ ns: ua, name: 'vx0', id: 1, ...extra }));
    expect(error, String(message)).toBeInstanceOf(InvalidInputError);
    expect(String(error)).toMatch(message);
  }
  expect((await ua.links()).map((l) => l.ifname)).toEqual(['lo']);
  // a tunnel end that is one still works
  await lab.vxlan({ ns: ua, name: 'vx0', id: 1, local: '10.0.0.1', remote: '10.0.0.2' });
  await expect(ua).toHaveLink('vx0', { kind: 'vxlan' });
});

test('a misspelt option of a link builder, setLink or addAddress is an InvalidInputError naming it (it was ignored: { moed: "private" } made a bridge-mode macvlan)', async ({ lab }) => {
  const [red, blue] = await Promise.all([lab.netns('red'), lab.netns('blue')]);
  const br = await lab.bridge('br0');
  await lab.veth({ ns: red, name: 'e0' }, { ns: lab.host, name: 'e1' });
  const cases: [() => Promise<unknown>, RegExp][] = [
    [() => lab.veth({ ns: red, name: 'a0', mtuu: 1400 } as never, { ns: lab.host, name: 'a1' }), /invalid first veth end option "mtuu": unknown option; a veth end takes ns, name, address, mtu, mac, up/],
    [() => lab.bridge('br1', { vlanfiltering: true } as never), /invalid bridge option "vlanfiltering": unknown option; lab\.bridge takes address, mtu, mac, vlanFiltering/],
    [() => br.attach(blue, { adress: '10.0.0.1/24' } as never), /invalid attach option "adress": unknown option; attach takes/],
    [() => br.addPort('e1', { prot: { hairpin: true } } as never), /invalid port option "prot": unknown option; addPort takes port, vlan/],
    [() => lab.macvlan({ ns: lab.host, parent: 'e1', name: 'mv0', moed: 'private' } as never), /invalid macvlan option "moed": unknown option; lab\.macvlan takes ns, name, into, address, up, mtu, mac, parent, mode/],
    [() => lab.vxlan({ ns: red, name: 'vx0', id: 1, remtoe: '10.0.0.2' } as never), /invalid vxlan option "remtoe": unknown option; lab\.vxlan takes/],
    [() => lab.link({ ns: red, name: 'k0', kind: 'dummy', upp: false } as never), /invalid link option "upp": unknown option; lab\.link takes/],
    [() => red.setLink('e0', { mut: 1400, up: false } as never), /invalid link option "mut": unknown option; setLink takes mtu, mac, up/],
    [() => red.addAddress('fd00::1/64', 'e0', { nodda: false } as never), /invalid address option "nodda": unknown option; addAddress takes nodad/],
  ];
  for (const [call, message] of cases) {
    const error = await errorOf(call());
    expect(error, String(message)).toBeInstanceOf(InvalidInputError);
    expect(String(error)).toMatch(message);
  }
  // nothing was built or changed: e0 still up, no address, no new link anywhere; e1 on no bridge
  expect((await red.links()).map((l) => l.ifname).sort()).toEqual(['e0', 'lo']);
  expect((await blue.links()).map((l) => l.ifname)).toEqual(['lo']);
  expect((await lab.host.links()).map((l) => `${l.ifname}${l.master ? `@${l.master}` : ''}`).sort()).toEqual(['br0', 'e1', 'lo']);
  await expect(red).toHaveLink('e0', { mtu: 1500 });
  expect((await red.addresses()).filter((l) => l.ifname === 'e0').flatMap((l) => l.addr_info).filter((a) => !a.local.startsWith('fe80'))).toEqual([]);
});

test('shape: a rate up to the 10 tbit it takes applies without a burst given (the default burst was out of range above ~3.4 tbit)', async ({ lab }) => {
  const red = await lab.netns('red');
  await lab.veth({ ns: red, name: 'e0' }, { ns: lab.host, name: 'e1' });
  for (const rate of ['4tbit', '10tbit', 1e13, '1250gbps']) {
    await red.shape('e0', { rate });
    const qdisc = JSON.parse((await red.exec('tc', ['-j', 'qdisc', 'show', 'dev', 'e0', 'root'])).stdout) as { kind: string }[];
    expect(qdisc[0]?.kind, String(rate)).toBe('tbf');
  }
  // a burst given out of range is still refused, naming it
  const error = await errorOf(red.shape('e0', { rate: '1mbit', burst: 2 ** 32 }));
  expect(error).toBeInstanceOf(InvalidInputError);
  expect(String(error)).toMatch(/invalid shape option burst 4294967296/);
});
