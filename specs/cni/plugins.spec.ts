// Real CNI plugins (Debian's containernetworking-plugins) run in a lab as a container runtime runs them: ADD/CHECK/DEL
// through a conflist. bridge + host-local + portmap + firewall, with verdicts from real packets.
import { describe, expect, test } from '../../src/vitest.js';
import { InvalidInputError } from '../../src/index.js';
import { cniNetwork, CniError, type CniConfList } from '../../fixtures/index.js';

/** A conflist as Podman/Kubernetes write them: a bridge with host-local IPAM, port mappings, and the firewall plugin. */
const conflist = (name: string, bridge: string, subnet: string, extra: Partial<CniConfList> = {}): CniConfList => ({
  cniVersion: '1.0.0',
  name,
  plugins: [
    { type: 'bridge', bridge, isGateway: true, ipMasq: true, ipam: { type: 'host-local', ranges: [[{ subnet }]], routes: [{ dst: '0.0.0.0/0' }] } },
    { type: 'portmap', capabilities: { portMappings: true } },
    { type: 'firewall', backend: 'iptables' },
  ],
  ...extra,
});

describe('bridge + host-local + portmap + firewall', () => {
  test('ADD gives a container an address on the bridge, a way out through NAT, and its mapped port from outside', async ({ lab }) => {
    const wan = await lab.wan();
    await lab.host.forwarding(true);
    const net = await cniNetwork(lab, conflist('podman', 'cni-podman0', '10.88.0.0/16'));
    const c1 = await lab.netns('c1');
    const a = await net.add(c1, { runtimeConfig: { portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }] } });
    expect(a.address).toBe('10.88.0.2');
    expect(a.result.interfaces?.some((i) => i.name === 'eth0' && i.sandbox === '/run/netns/c1')).toBe(true);
    await expect(c1).toHaveAddress('10.88.0.2/16');
    await expect(c1).toRouteVia('203.0.113.8', '10.88.0.1');
    await expect(lab.host).toHaveLink('cni-podman0', { state: 'UP' });
    await expect(c1).toReach('203.0.113.8', { seenAs: wan.hostAddress }); // ipMasq
    await expect(wan.ns).toReach({ address: wan.hostAddress, port: 8080 }); // portmap's DNAT to 10.88.0.2:80
    await expect(wan.ns).not.toReach({ address: wan.hostAddress, port: 8081 }); // nothing mapped there
  });

  test('CHECK passes on an intact attachment and fails once the plugin\'s work is undone', async ({ lab }) => {
    // without portmap: its 1.1.1 CHECK also looks for IPv6 chains it never made, and fails on any IPv4-only set-up
    const net = await cniNetwork(lab, { ...conflist('podman', 'cni-podman0', '10.88.0.0/16'), plugins: conflist('p', 'cni-podman0', '10.88.0.0/16').plugins.filter((p) => p.type !== 'portmap') });
    const c1 = await lab.netns('c1');
    await net.add(c1);
    await net.check(c1);
    await c1.exec('ip', ['addr', 'flush', 'dev', 'eth0']);
    await expect(net.check(c1)).rejects.toBeInstanceOf(CniError);
  });

  test('DEL removes the interface, the lease and the rules; CHECK then fails; a second ADD gets the address again', async ({ lab }) => {
    const net = await cniNetwork(lab, conflist('podman', 'cni-podman0', '10.88.0.0/16'));
    const c1 = await lab.netns('c1');
    const rulesBefore = (await lab.host.exec('iptables-save')).stdout;
    await net.add(c1, { runtimeConfig: { portMappings: [{ hostPort: 8080, containerPort: 80 }] } });
    expect((await lab.host.exec('iptables-save')).stdout).toMatch(/CNI-DN-|CNI-HOSTPORT-DNAT/);
    await net.del(c1);
    await expect(c1).not.toHaveLink('eth0');
    const leases = await lab.host.exec('ls', ['/run/netspec-cni/networks/podman'], { reject: false });
    expect(leases.stdout).not.toMatch(/10\.88\.0\.2/);
    const rulesAfter = (await lab.host.exec('iptables-save')).stdout;
    expect(rulesAfter).not.toMatch(/CNI-DN-[0-9a-f]/);
    expect(rulesAfter).not.toMatch(/10\.88\.0\.2/);
    expect(rulesBefore).not.toMatch(/10\.88\.0\.2/);
    await expect(net.check(c1)).rejects.toThrow(InvalidInputError); // not attached any more
    const again = await net.add(c1); // host-local hands out the next address round-robin, not the one just freed
    expect(again.address).toMatch(/^10\.88\.0\.\d+$/);
    await expect(c1).toHaveAddress(`${again.address}/16`);
  });

  test('under a FORWARD DROP host, the firewall plugin lets its containers through, and a network without it stays cut off', async ({ lab }) => {
    await lab.host.forwarding(true);
    await lab.host.policy('FORWARD', 'DROP'); // a hardened host: only what the firewall plugin allows is forwarded
    const front = await cniNetwork(lab, conflist('front', 'cni-front', '10.90.0.0/24'));
    const back = await cniNetwork(lab, conflist('back', 'cni-back', '10.91.0.0/24'));
    const bare = await cniNetwork(lab, { ...conflist('bare', 'cni-bare', '10.92.0.0/24'), plugins: conflist('bare', 'cni-bare', '10.92.0.0/24').plugins.filter((p) => p.type === 'bridge') });
    const [f1, f2, b1, x1] = await Promise.all([lab.netns('f1'), lab.netns('f2'), lab.netns('b1'), lab.netns('x1')]);
    const a1 = await front.add(f1);
    const a2 = await front.add(f2);
    await back.add(b1);
    const ax = await bare.add(x1);
    await expect(f1).toReach(a2.address!); // same bridge: switched, not forwarded
    await expect(f1).toReach('10.90.0.1'); // its gateway
    await expect(b1).toReach(a1.address!); // forwarded: the firewall plugin ACCEPTs its containers' addresses
    await expect(x1).not.toReach(a1.address!, { because: 'FILTERED' }); // no firewall plugin: the FORWARD policy drops it
    await expect(f1).toReach(ax.address!); // the other way: the plugin ACCEPTs what its container sends, and the reply as ESTABLISHED
    await front.del(f1);
    await expect(b1).not.toReach(a1.address!); // gone with DEL
  });
});

describe('errors', () => {
  test('a plugin that is not installed is a PrerequisiteError naming the package', async ({ lab }) => {
    await expect(cniNetwork(lab, { cniVersion: '1.0.0', name: 'x', plugins: [{ type: 'nosuchplugin' }] })).rejects.toThrow(/nosuchplugin.*containernetworking-plugins/);
  });

  test('bad conflists are typed errors naming the input', async ({ lab }) => {
    await expect(cniNetwork(lab, { cniVersion: 'one', name: 'x', plugins: [{ type: 'bridge' }] })).rejects.toThrow(/cniVersion/);
    await expect(cniNetwork(lab, { cniVersion: '1.0.0', name: 'x; rm -rf /', plugins: [{ type: 'bridge' }] })).rejects.toThrow(InvalidInputError);
    await expect(cniNetwork(lab, { cniVersion: '1.0.0', name: 'x', plugins: [{ type: '../../bin/sh' }] })).rejects.toThrow(/CNI plugin type/);
    await expect(cniNetwork(lab, { cniVersion: '1.0.0', name: 'x', plugins: [] })).rejects.toThrow(/non-empty/);
    const net = await cniNetwork(lab, conflist('x', 'cni0', '10.1.0.0/24'));
    const c = await lab.netns('c');
    await expect(net.add(c, { runtimeConfig: { portMappings: [{ hostPort: 0, containerPort: 80 }] } })).rejects.toThrow(/hostPort/);
    await expect(net.add(c, { ifname: 'eth0; reboot' })).rejects.toThrow(InvalidInputError);
    await expect(net.add(c, { containerId: '$(reboot)' })).rejects.toThrow(/container id/);
    await expect(c).not.toHaveLink('eth0');
    // leases outside the lab's /run would be written onto the machine's disk
    await expect(cniNetwork(lab, conflist('x', 'cni0', '10.1.0.0/24', { plugins: [{ type: 'bridge', ipam: { type: 'host-local', dataDir: '/var/lib/cni', subnet: '10.1.0.0/24' } }] }))).rejects.toThrow(/dataDir/);
  });

  test("a plugin's own refusal is a CniError with the CNI code, and a failed ADD leaves nothing behind", async ({ lab }) => {
    const net = await cniNetwork(lab, { cniVersion: '1.0.0', name: 'bad', plugins: [{ type: 'bridge', bridge: 'cni-bad', ipam: { type: 'host-local', ranges: [[{ subnet: 'not-a-subnet' }]] } }] });
    const c1 = await lab.netns('c1');
    const error = await net.add(c1).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(CniError);
    expect((error as CniError).plugin).toBe('bridge');
    expect((error as CniError).message).toMatch(/not-a-subnet|invalid/i);
    await expect(c1).not.toHaveLink('eth0');
  });
});
