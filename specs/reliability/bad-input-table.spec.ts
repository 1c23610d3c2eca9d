// Issue 7: every public entry point, fed bad input: a typed error naming the input and the fix, nothing half-built,
// and the lab still usable afterwards.
import { afterAll, beforeAll, describe, expect, test } from '../../src/vitest.js';
import { createLab, DuplicateNameError, InvalidInputError, LabGoneError, NetspecError, NotFoundError, type Lab, type Netns } from '../../src/index.js';
import { buildTopology } from '../../fixtures/index.js';
import { labSnapshot } from '../helpers/lab-snapshot.js';

interface Scope {
  lab: Lab;
  red: Netns;
  blue: Netns;
  bridge: Awaited<ReturnType<Lab['bridge']>>;
  foreign: Netns;
  disposed: Netns;
}

type Case = [name: string, call: (w: Scope) => Promise<unknown>, type: new (...a: never[]) => Error, message: RegExp, input?: string];

const NAMES = ['veth-red-to-the-bridge', '', 'a/b', 'has space', 'ünïcode', ';rm -rf /', '$(reboot)', '-dev', '.hidden'];
/** Why each name is refused, as the error says it (for the interface-name case, which names the exact rule broken). */
const WHY: Record<string, string> = {
  'veth-red-to-the-bridge': 'at most 15',
  '': 'non-empty',
  'a/b': 'contains "/"',
  'has space': 'contains " "',
  ';rm -rf /': 'contains ";"',
  '$(reboot)': 'contains "$"',
  '-dev': 'must not start with "-"',
};
const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

const cases: Case[] = [
  ...['x'.repeat(65), ...NAMES.slice(1)].map((n): Case => [`lab.netns(${JSON.stringify(n)})`, (w) => w.lab.netns(n), InvalidInputError, /invalid namespace name/]),
  ...NAMES.map((n): Case => [
    `bridge.attach(ifname ${JSON.stringify(n)})`,
    (w) => w.bridge.attach(w.blue, { ifname: n }),
    InvalidInputError,
    new RegExp(`invalid interface name ${escapeRe(JSON.stringify(n))}${WHY[n] ? `.*${escapeRe(WHY[n])}` : ''}`, 's'),
    'interface name',
  ]),
  ...NAMES.map((n): Case => [`lab.bridge(${JSON.stringify(n)})`, (w) => w.lab.bridge(n), InvalidInputError, /invalid bridge name/]),
  ...NAMES.map((n): Case => [`lab.veth(name ${JSON.stringify(n)})`, (w) => w.lab.veth({ ns: w.red, name: 'ok0' }, { ns: w.blue, name: n }), InvalidInputError, /invalid second veth end name/]),
  ['lab.get("/etc")', async (w) => w.lab.get('/etc'), InvalidInputError, /invalid namespace name "\/etc"/],
  ['lab.get of a missing namespace', async (w) => w.lab.get('green'), NotFoundError, /no network namespace named "green" in this lab: create it first/],
  ['lab.netns("host")', (w) => w.lab.netns('host'), InvalidInputError, /"host" is the lab's own namespace/],
  ['duplicate namespace', (w) => w.lab.netns('red'), DuplicateNameError, /already has a namespace called "red"/],
  ['duplicate bridge', (w) => w.lab.bridge('v-net-0'), DuplicateNameError, /already has an interface called "v-net-0"/],
  ['duplicate interface in a namespace', (w) => w.bridge.attach(w.red, { peer: 'other-brdg' }), DuplicateNameError, /invalid interface name "veth-red": namespace red of lab \d+ already has an interface called "veth-red"/],
  // addresses and prefixes
  ...['192.168.15.300/24', '192.168.15.1', '192.168.15.1/33', '10.0.0.1/-1', 'fd00::zz/64', 'fd00::1/129', 'localhost/8', '', '1.2.3.4/24/8'].map(
    (a): Case => [`addAddress(${JSON.stringify(a)})`, (w) => w.red.addAddress(a, 'veth-red'), InvalidInputError, /invalid address/],
  ),
  ['masquerade with host bits set', (w) => w.lab.host.masquerade('192.168.15.1/24'), InvalidInputError, /host bits are set; the network is 192\.168\.15\.0\/24/],
  ['masquerade of an IPv6 prefix', (w) => w.lab.host.masquerade('fd00::/64'), InvalidInputError, /IPv4 only/],
  ['route to a prefix with host bits set', (w) => w.red.addRoute('10.1.2.3/8', { via: '192.168.15.3' }), InvalidInputError, /host bits are set; the network is 10\.0\.0\.0\/8/],
  ['route via a gateway outside every link', (w) => w.red.addRoute('10.0.0.0/8', { via: '172.31.0.1' }), InvalidInputError, /invalid gateway \(via\) "172\.31\.0\.1".*no link in the gateway's subnet/s],
  ['route via an IPv6 gateway for an IPv4 prefix', (w) => w.red.addRoute('10.0.0.0/8', { via: 'fd00::1' }), InvalidInputError, /it is IPv6 but the destination 10\.0\.0\.0\/8 is IPv4/],
  ['route without via or dev', (w) => w.red.addRoute('10.0.0.0/8'), InvalidInputError, /give a gateway \(`via`\), a device \(`dev`\), or both/],
  ['attach with a gateway outside its subnet', (w) => w.bridge.attach(w.blue, { address: '192.168.15.2/24', gateway: '10.0.0.1' }), InvalidInputError, /it is not inside 192\.168\.15\.2\/24/],
  ['a wan on a real address', (w) => w.lab.wan({ internet: ['9.9.9.9'] }), InvalidInputError, /documentation ranges only/],
  ['a wan uplink outside the documentation ranges', (w) => w.lab.wan({ uplink: '10.0.0.0/24' }), InvalidInputError, /documentation ranges only/],
  // traffic shaping and toReach's ttl (issue 15)
  ['shape with a rate tc does not know', (w) => w.red.shape('veth-red', { rate: '1xbit' }), InvalidInputError, /invalid shape option rate "1xbit": expected bits per second .*units: bit, kbit, mbit/],
  ['shape a device the namespace lacks', (w) => w.red.shape('eth9', { rate: '1mbit' }), NotFoundError, /no interface named "eth9".*namespace red/],
  ['netem jitter without a delay', (w) => w.red.netem('veth-red', { jitter: 5 }), InvalidInputError, /a jitter varies the delay: give a delay too/],
  ['netem loss over 100', (w) => w.red.netem('veth-red', { loss: 101 }), InvalidInputError, /expected a percentage from 0 to 100/],
  ['toReach ttl 256', (w) => expect(w.red).toReach('192.168.15.2', { ttl: 256 }), InvalidInputError, /invalid toReach option ttl 256: expected a whole number from 1 to 255/],
  ['.not.toReach with ttl', (w) => expect(w.red).not.toReach('192.168.15.2', { ttl: 63 }), InvalidInputError, /`\.not\.toReach` does not take ttl/],
  // options of the wrong type
  ['createLab({ userns: "yes" })', () => createLab({ userns: 'yes' as never }), InvalidInputError, /lab option userns "yes": expected true or false/],
  ['createLab({ color: 1 })', () => createLab({ color: 1 } as never), InvalidInputError, /unknown; createLab takes/],
  ['lab.bridge(name, { address: 5 })', (w) => w.lab.bridge('br9', { address: 5 as never }), InvalidInputError, /invalid bridge address 5/],
  ['existingNamespaces(ns, { ifname: 5 })', (w) => w.bridge.attach(w.blue, { ifname: 5 as never }), InvalidInputError, /invalid interface name 5/],
  ['lab.wan({ internet: "203.0.113.8" })', (w) => w.lab.wan({ internet: '203.0.113.8' as never }), InvalidInputError, /expected a non-empty list of addresses/],
  ['lab.wan({ defaultroute: false })', (w) => w.lab.wan({ defaultroute: false } as never), InvalidInputError, /unknown; lab.wan\(\) takes/],
  ['policy("FORWARD", "MAYBE")', (w) => w.lab.host.policy('FORWARD', 'MAYBE' as never), InvalidInputError, /expected "ACCEPT" or "DROP"/],
  ['sysctl("kernel.panic", 1)', (w) => w.red.sysctl('kernel.panic', 1), InvalidInputError, /only net\.\* is private to a namespace/],
  ['sysctl value with a space', (w) => w.red.sysctl('net.ipv4.ip_forward', '1 2'), InvalidInputError, /expected a number or a single word/],
  ['exec with a non-array', (w) => w.red.exec('ping', '-c1' as never), InvalidInputError, /expected an array of strings/],
  ['buildTopology with an unknown key', (w) => buildTopology(w.lab, { namespace: ['x'] } as never), InvalidInputError, /unknown; a topology has/],
  ['buildTopology attaching an undeclared namespace', (w) => buildTopology(w.lab, { bridges: { br1: { attach: { green: '10.0.0.1/24' } } } }), InvalidInputError, /no such namespace in the topology/],
  // handles of another lab, or of a disposed one
  ['attaching a namespace of another lab', (w) => w.bridge.attach(w.foreign), InvalidInputError, /belongs to lab \d+, but bridge v-net-0 of lab \d+ is in lab \d+/],
  ['a veth to a namespace of another lab', (w) => w.lab.veth({ ns: w.red, name: 'x0' }, { ns: w.foreign, name: 'x1' }), InvalidInputError, /belongs to lab \d+, not lab \d+/],
  ['a handle of a disposed lab', (w) => w.disposed.addAddress('10.0.0.1/24', 'lo'), LabGoneError, /has been disposed; its handles cannot be used any more/],
  ['a matcher on a handle of a disposed lab', (w) => expect(w.disposed).not.toReach('10.0.0.1'), LabGoneError, /has been disposed/],
];

describe('bad input at every entry point', () => {
  // one other lab and one disposed lab for all the cases (labs are cheap, but a kernel freeing hundreds is not)
  let other: Lab;
  let foreign: Netns;
  let disposed: Netns;
  beforeAll(async () => {
    other = await createLab();
    foreign = await other.netns('red');
    const gone = await createLab();
    disposed = await gone.netns('x');
    await gone.dispose();
  });
  afterAll(() => other.dispose());

  test.concurrent.for(cases)('%s', async ([, call, type, message, input], { lab }) => {
    const [red, blue] = await Promise.all([lab.netns('red'), lab.netns('blue')]);
    const bridge = await lab.bridge('v-net-0', { address: '192.168.15.3/24' });
    await bridge.attach(red, { address: '192.168.15.1/24' });
    const world: Scope = { lab, red, blue, bridge, foreign, disposed };
    {
      const before = await labSnapshot(lab);
      const error = await Promise.resolve()
        .then(() => call(world))
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(error, 'the call should have been refused').toBeInstanceOf(type);
      expect(error).toBeInstanceOf(NetspecError);
      expect((error as Error).message).toMatch(message);
      if (error instanceof InvalidInputError) expect(error.fix.length).toBeGreaterThan(10);
      if (input !== undefined) expect((error as InvalidInputError).input).toBe(input);
      expect(await labSnapshot(lab), 'nothing half-built').toEqual(before);
      // still usable
      await bridge.attach(blue, { address: '192.168.15.2/24' });
      await expect(red).toReach(blue);
    }
  });
});
