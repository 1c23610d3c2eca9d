// False passes found by an adversarial pass over toHaveReachability, toHaveArpEntry and the CNI fixture: each case is
// an assertion the kernel's state says must fail (or that has no verdict), checked with real namespaces and packets.
import { describe, expect, test } from '../../src/vitest.js';
import { createLab, InvalidInputError, NotFoundError, ProbeError } from '../../src/index.js';
import { bridgeNetwork, cniNetwork, CniError } from '../../fixtures/index.js';
import { tutorial } from '../matchers/helpers.js';
import { slowEcho } from './helpers.js';

describe('toHaveReachability', () => {
  test('two spellings of one target with contradicting verdicts are an InvalidInputError, not the later one alone', async ({ lab }) => {
    await bridgeNetwork(lab, { names: ['red', 'blue'] });
    // fd00::9 is nobody's: 'FD00::9': true is false; before, the later key 'fd00::9': false replaced it and the matcher passed
    const both = expect(lab).toHaveReachability({ red: { 'FD00::9': true, 'fd00::9': false } }, { timeout: 200 });
    await expect(both).rejects.toThrow(InvalidInputError);
    await expect(both).rejects.toThrow(/"FD00::9" and "fd00::9"/);
    // the same verdict twice is no contradiction
    await expect(lab).toHaveReachability({ red: { 'FD00::9': false, 'fd00:0::9': false, blue: true } }, { timeout: 200 });
  });

  test('a target namespace with no address gets no packet: "not reached" there is a ProbeError, for .not as well', async ({ lab }) => {
    const { red, blue } = await bridgeNetwork(lab, { names: ['red', 'blue'] }).then((n) => n.ns);
    await red.exec('ip', ['addr', 'add', '10.77.0.1/32', 'dev', 'lo']); // an address red has that nothing routes to
    await blue.exec('ip', ['addr', 'flush', 'dev', 'veth-blue', 'scope', 'global']); // e.g. a set-up that forgot it
    // before, the isolation claim passed without a packet sent
    await expect(expect(lab).toHaveReachability({ red: { blue: false } }, { timeout: 200 })).rejects.toThrow(ProbeError);
    await expect(expect(lab).not.toHaveReachability({ red: { blue: true } }, { timeout: 200 })).rejects.toThrow(/no global address of its own to probe/);
    // a claim of reachability fails as before, and a .not that rests on a probed pair still passes
    await expect(expect(lab).toHaveReachability({ red: { blue: true } }, { timeout: 200 })).rejects.toThrow(/blue has no address to probe/);
    await expect(lab).not.toHaveReachability({ red: { blue: true }, blue: { '10.77.0.1': true } }, { timeout: 200 });
  });

  test('a target namespace deleted while the mesh waits for its late reply is no "not reached" verdict', async ({ lab }) => {
    const { red, blue } = await tutorial(lab);
    await expect(red).toReach(blue); // neighbors resolved: what follows is about the echo reply alone
    const echo = await slowEcho(lab, blue, 800); // blue answers 0.8 s late (inside the 1.5 s timeout: reached)
    await expect(lab).toHaveReachability({ red: { blue: true } }, { timeout: 1500 });
    // blue shuts down 300 ms in, before its reply leaves: before, the mesh said "not reached" and the claim passed
    const gone = new Promise((r) => setTimeout(r, 300)).then(() => (echo.stop(), lab.sh`ip netns del blue`));
    const error = await expect(lab).toHaveReachability({ red: { blue: false } }, { timeout: 1500 }).then(() => undefined, (e: unknown) => e);
    await gone;
    // deleted before the matcher read the lab (a loaded machine): an error too, never a pass
    expect(error instanceof NotFoundError || error instanceof ProbeError, String(error)).toBe(true);
    await expect(expect(lab).toHaveReachability({ red: { blue: false } })).rejects.toThrow(/no network namespace named "blue"/);
  });

  test('a target whose address the source has too is answered by the source itself: no pass for toReach or the mesh', async ({ lab }) => {
    const { red, blue } = await tutorial(lab);
    // blue cut off (its link down), with red's address 192.168.15.1 as its only one: before, both claims passed
    await blue.exec('ip', ['-batch', '-'], { input: 'addr flush dev veth-blue scope global\nlink set veth-blue down\naddr add 192.168.15.1/24 dev veth-blue\n' });
    await expect(expect(red).toReach(blue)).rejects.toThrow(ProbeError);
    await expect(expect(red).toReach(blue)).rejects.toThrow(/answered by red itself/);
    await expect(expect(lab).toHaveReachability({ red: { blue: true } }, { timeout: 200 })).rejects.toThrow(/also one of red's own/);
    await expect(expect(lab).toHaveReachability({ red: { blue: false } }, { timeout: 200 })).rejects.toThrow(ProbeError);
    // the same on red's lo: 10.77.0.1 is blue's only address and one of red's
    await blue.exec('ip', ['addr', 'replace', '10.77.0.1/32', 'dev', 'veth-blue']);
    await blue.exec('ip', ['addr', 'del', '192.168.15.1/24', 'dev', 'veth-blue']);
    await red.exec('ip', ['addr', 'add', '10.77.0.1/32', 'dev', 'lo']);
    await expect(expect(red).toReach(blue)).rejects.toThrow(ProbeError);
    // an address of blue's own next to the shared one is the one probed
    await blue.exec('ip', ['-batch', '-'], { input: 'link set veth-blue up\naddr add 192.168.15.2/24 dev veth-blue\n' });
    await expect(red).toReach(blue);
    await expect(lab).toHaveReachability({ red: { blue: true } });
  });
});

describe('toHaveArpEntry', () => {
  test('a device that is not there is a NotFoundError, for .not as for the positive form (a misspelt dev passed .not)', async ({ lab }) => {
    const net = await tutorial(lab);
    const { red, blue } = net;
    await expect(red).toReach(blue);
    await expect(red).toHaveArpEntry('192.168.15.2', { dev: 'veth-red' });
    await expect(red).not.toHaveArpEntry('192.168.15.2', { dev: 'lo' }); // a device that is there: a verdict
    await expect(expect(red).not.toHaveArpEntry('192.168.15.2', { dev: 'veth-rde' })).rejects.toThrow(NotFoundError);
    await expect(expect(red).toHaveArpEntry('192.168.15.2', { dev: 'veth-rde', timeout: 100 })).rejects.toThrow(NotFoundError);
  });

  test('a handle whose namespace was deleted and made again is no verdict (.not passed on the new, empty table)', async ({ lab }) => {
    const { red, blue } = await tutorial(lab);
    await expect(red).toReach(blue);
    await expect(red).toHaveArpEntry('192.168.15.2');
    await lab.sh`ip netns del red; ip netns add red`;
    await expect(expect(red).not.toHaveArpEntry('192.168.15.2')).rejects.toThrow(ProbeError);
    await expect(lab.get('red')).not.toHaveArpEntry('192.168.15.2'); // a handle of the namespace there now: a verdict
  });

  test('an empty list of states is an InvalidInputError (it matched no entry, so .not passed on a resolved one)', async ({ lab }) => {
    const { red, blue } = await tutorial(lab);
    await expect(red).toReach(blue);
    await expect(red).toHaveArpEntry('192.168.15.2');
    await expect(expect(red).not.toHaveArpEntry('192.168.15.2', { state: [] })).rejects.toThrow(InvalidInputError);
    await expect(red).not.toHaveArpEntry('192.168.15.2', { state: ['FAILED'] }); // a list that is not empty: a verdict
  });

  test('an IPv4-mapped IPv6 spelling is refused, not compared with IPv4 entries it never equals (.not passed)', async ({ lab }) => {
    const { red, blue } = await tutorial(lab);
    await expect(red).toReach(blue);
    await expect(red).toHaveArpEntry('192.168.15.2');
    await expect(expect(red).not.toHaveArpEntry('::ffff:192.168.15.2')).rejects.toThrow(InvalidInputError);
    await expect(expect(red).toHaveArpEntry('::FFFF:c0a8:f02', { timeout: 100 })).rejects.toThrow(/write the IPv4 address 192\.168\.15\.2/);
  });
});

describe('cniNetwork', () => {
  test('a host-local dataDir that climbs out of /run with ".." is refused before any plugin runs', async ({ lab }) => {
    const conf = (dataDir: string) => ({ cniVersion: '1.0.0', name: 'esc', plugins: [{ type: 'bridge', bridge: 'cni-esc', ipam: { type: 'host-local', dataDir, ranges: [[{ subnet: '10.93.0.0/24' }]] } }] });
    await expect(cniNetwork(lab, conf('/run/../tmp/netspec-escape'))).rejects.toThrow(InvalidInputError);
    await expect(cniNetwork(lab, conf('/run/./x/../../var/lib/cni'))).rejects.toThrow(InvalidInputError);
    await expect(cniNetwork(lab, conf('/run/netspec-cni/mine'))).resolves.toBeDefined();
  });

  test("a namespace of another lab is refused: ADD attached this lab's namespace of the same name instead", async ({ lab }) => {
    const other = await createLab();
    try {
      const c1 = await lab.netns('c1');
      const elsewhere = await other.netns('c1');
      const net = await cniNetwork(lab, { cniVersion: '1.0.0', name: 'two', plugins: [{ type: 'bridge', bridge: 'cni-two', ipam: { type: 'host-local', ranges: [[{ subnet: '10.95.0.0/24' }]] } }] });
      await expect(net.add(elsewhere)).rejects.toThrow(InvalidInputError);
      await expect(c1).not.toHaveLink('eth0');
      await expect(elsewhere).not.toHaveLink('eth0');
      await net.add(c1); // CHECK and DEL of the namesake in the other lab are no CHECK and DEL of c1
      await expect(net.check(elsewhere)).rejects.toThrow(InvalidInputError);
      await expect(net.del(elsewhere)).rejects.toThrow(InvalidInputError);
      await expect(c1).toHaveLink('eth0');
    } finally {
      await other.dispose();
    }
  });

  test('an ADD that fails at the second plugin leaves no interface and no lease behind', async ({ lab }) => {
    const net = await cniNetwork(lab, {
      cniVersion: '1.0.0',
      name: 'half',
      plugins: [
        { type: 'bridge', bridge: 'cni-half', ipam: { type: 'host-local', ranges: [[{ subnet: '10.94.0.0/24' }]] } },
        { type: 'tuning', sysctl: { 'net.ipv4.conf.eth0.no_such_setting': '1' } },
      ],
    });
    const c1 = await lab.netns('c1');
    const error = await net.add(c1).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(CniError);
    expect((error as CniError).plugin).toBe('tuning');
    await expect(c1).not.toHaveLink('eth0');
    const leases = await lab.host.exec('ls', ['/run/netspec-cni/networks/half'], { reject: false });
    expect(leases.stdout).not.toMatch(/10\.94\.0\./);
  });
});
