// Regression specs for the false passes, false fails and wrong explanations of netspec 0.1.0 (one test per problem).
// Each reproduces the case that fooled 0.1.0 and asserts the verdict the kernel backs.
import { describe, expect, test } from '../../src/vitest.js';
import { InvalidInputError, ProbeError, createLab } from '../../src/index.js';
import { bridgeNetwork, dockerHost } from '../../fixtures/index.js';
import { failureOf, tutorial } from '../matchers/helpers.js';
import { outcomeOf, slowEcho } from './helpers.js';
import { formatState } from '../../src/report.js';
import { readLabState } from '../../src/state.js';

describe('no false pass', () => {
  test('1. late replies count: a target that answers 150 ms or 250 ms late is reached, and .not fails', async ({ lab }) => {
    const net = await tutorial(lab);
    const { red, blue } = net;
    for (const delay of [150, 250]) {
      const echo = await slowEcho(lab, blue, delay);
      try {
        expect(await outcomeOf(expect(red).not.toReach('192.168.15.2'))).toBe('failed');
        expect(await outcomeOf(expect(red).not.toReach('192.168.15.2', { window: 2000 }))).toBe('failed');
        await expect(red).toReach('192.168.15.2');
      } finally {
        echo.stop();
      }
    }
    // and a reply later than the whole window is "not reached", with its evidence
    const late = await slowEcho(lab, blue, 900);
    try {
      await expect(red).not.toReach('192.168.15.2', { window: 300 });
      const msg = await failureOf(expect(red).toReach('192.168.15.2', { timeout: 300 }));
      expect(msg).toMatch(/red cannot reach 192\.168\.15\.2 \(icmp\) \(NO_REPLY\) within 300 ms \(\d+ probes sent/);
    } finally {
      late.stop();
    }
  });

  test('3. a handle whose namespace was deleted, or replaced by a plain file, is an error, never "not reached"', async ({ lab }) => {
    const net = await tutorial(lab);
    const { red } = net;
    await lab.sh`ip netns del red`;
    for (const protocol of ['icmp', 'tcp', 'udp'] as const) {
      const target = protocol === 'icmp' ? '192.168.15.2' : { address: '192.168.15.2', port: 80 };
      const error = await expect(red).not.toReach(target, { protocol }).then(() => undefined, (e: unknown) => e);
      expect(error).toBeDefined();
      expect(String(error)).toMatch(/does not exist any more|network namespace "red"/);
      expect(error).not.toMatchObject({ name: 'AssertionError' });
    }
    await lab.sh`touch /run/netns/fake`;
    const fake = lab.get('fake');
    const error = await expect(fake).not.toReach('192.168.15.2').then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(ProbeError);
  });

  test('4. a `from` the namespace does not have is refused for ICMP, TCP and UDP, with .not too', async ({ lab }) => {
    const net = await tutorial(lab);
    const { red } = net;
    for (const from of ['nosuchdev', '10.9.9.9', '192.168.15.2']) {
      for (const protocol of ['icmp', 'tcp', 'udp'] as const) {
        const target = protocol === 'icmp' ? '192.168.15.2' : { address: '192.168.15.2', port: 80 };
        await expect(expect(red).not.toReach(target, { protocol, from })).rejects.toThrow(InvalidInputError);
      }
    }
    // its own address and interface are fine
    await expect(red).toReach('192.168.15.2', { from: '192.168.15.1' });
    await expect(red).toReach('192.168.15.2', { from: 'veth-red' });
  });

  test('5. a non-canonical IPv6 spelling is the same address: FD00::2 is reached over TCP and UDP', async ({ lab }) => {
    const [red, blue] = await Promise.all([lab.netns('red'), lab.netns('blue')]);
    const br = await lab.bridge('v-net-0');
    await br.attach(red, { address: 'fd00::1/64' });
    await br.attach(blue, { address: 'fd00::2/64' });
    for (const address of ['FD00::2', 'fd00:0000::0002']) {
      await expect(red).toReach({ address, port: 80 });
      await expect(red).toReach({ address, port: 53 }, { protocol: 'udp' });
      expect(await outcomeOf(expect(red).not.toReach({ address, port: 80 }))).toBe('failed');
      expect(await outcomeOf(expect(red).not.toReach({ address, port: 53 }, { protocol: 'udp' }))).toBe('failed');
    }
  }, 120_000);

  test('6. the unspecified address, IPv4-mapped IPv6, multicast and broadcast are refused as targets', async ({ lab }) => {
    const net = await tutorial(lab);
    const { red } = net;
    const empty = await lab.netns('empty');
    for (const address of ['0.0.0.0', '::', '::ffff:192.168.15.2', '::FFFF:c0a8:0f02', '224.0.0.1', '255.255.255.255', 'ff02::1']) {
      await expect(expect(red).not.toReach(address)).rejects.toThrow(InvalidInputError);
      await expect(expect(empty).toReach(address)).rejects.toThrow(InvalidInputError);
      await expect(expect(red).not.toReach({ address, port: 80 })).rejects.toThrow(InvalidInputError);
    }
  });

  test('7. non-finite deadlines are refused, never turned into 1 ms', async ({ lab }) => {
    await expect(createLab({ commandTimeoutMs: Infinity })).rejects.toThrow(InvalidInputError);
    await expect(createLab({ commandTimeoutMs: 2 ** 40 })).rejects.toThrow(InvalidInputError);
    const net = await tutorial(lab);
    const { red } = net;
    for (const bad of [Infinity, NaN, -1, 0, 2 ** 40]) {
      await expect(expect(red).not.toReach('192.168.15.2', { window: bad })).rejects.toThrow(InvalidInputError);
      await expect(expect(red).toReach('192.168.15.2', { timeout: bad })).rejects.toThrow(InvalidInputError);
    }
    // every matcher that waits takes at most an hour (a longer wait would also escape the fixture's time-budget warning)
    await expect(expect(red).toHaveLink('veth-red', { timeout: 2 ** 40 })).rejects.toThrow(/toHaveLink option timeout.*at most an hour/);
    await expect(expect(red).not.toHaveLink('veth-red', { timeout: 3_600_001 })).rejects.toThrow(InvalidInputError);
    await expect(expect(red).toHaveArpEntry('192.168.15.2', { timeout: 2 ** 40 })).rejects.toThrow(InvalidInputError);
  });

  test('8. a published port: REFUSED with nothing published, reached through DNAT when published, and no responder outlives its probe', async ({ lab }) => {
    const docker = await dockerHost(lab);
    await docker.createNetwork('web');
    const wan = docker.wan.ns;
    // nothing published: nothing listens on the host, and netspec stands in for no server there
    const refused = await failureOf(expect(wan).toReach({ address: docker.address, port: 8080 }, { timeout: 500 }));
    expect(refused).toMatch(/\(REFUSED\)/);
    await expect(wan).not.toReach({ address: docker.address, port: 8080 });
    // published: the responder runs in the container, where the DNAT sends the packet
    await docker.run('c1', { network: 'web', publish: ['8080:80'] });
    await expect(wan).toReach({ address: docker.address, port: 8080 });
    const reached = await failureOf(expect(wan).not.toReach({ address: docker.address, port: 8080 }));
    expect(reached).toMatch(/host: DNAT \S+:8080 → 172\.\d+\.0\.2:80 \(rule `-A DOCKER .*--dport 8080 -j DNAT --to-destination 172\.\d+\.0\.2:80`\); answered by netspec's responder in c1/);
    // the responders of those probes are gone: without one, nothing answers in the container
    await expect(wan).not.toReach({ address: docker.address, port: 8080 }, { responder: false });
  });
});

describe('explanations that are true', () => {
  test('9. seenAs keeps the protocol: an ICMP seenAs is unaffected by a UDP DROP, and proved by the target\'s witness', async ({ lab }) => {
    const net = await bridgeNetwork(lab, { nat: true });
    const { red } = net;
    await lab.host.iptables(['-I', 'FORWARD', '-p', 'udp', '-j', 'DROP']);
    await expect(red).toReach('203.0.113.8', { seenAs: net.wan!.hostAddress });
    const wrong = await failureOf(expect(red).toReach('203.0.113.8', { seenAs: '192.168.15.1', timeout: 500 }));
    expect(wrong).toMatch(/saw the source as 198\.51\.100\.2, not 192\.168\.15\.1/);
    expect(wrong).toMatch(/landing watch: the probe's own echo requests \(payload [0-9a-f]{16}\) were delivered to wan \(as 203\.0\.113\.8\), from 198\.51\.100\.2/);
    // and UDP, asked for, is dropped by that rule
    await expect(red).not.toReach({ address: '203.0.113.8', port: 53 }, { protocol: 'udp', because: 'FILTERED' });
  });

  test('11. a failing .not says what let the packet through', async ({ lab }) => {
    const net = await tutorial(lab);
    const { red } = net;
    await lab.host.iptables(['-A', 'FORWARD', '-s', '192.168.15.0/24', '-j', 'ACCEPT']);
    await lab.host.iptables(['-A', 'FORWARD', '-d', '192.168.15.0/24', '-j', 'ACCEPT']);
    await lab.host.policy('FORWARD', 'DROP');
    const msg = await failureOf(expect(red).not.toReach('203.0.113.8'));
    expect(msg).toMatch(/what let it through:/);
    // from the kernel's trace: the accepting rule, and the NAT rewrite
    expect(msg).toMatch(/host: rule `-A FORWARD -s 192\.168\.15\.0\/24 -j ACCEPT` \(table filter\) \(verdict accept\) — icmp echo-request 192\.168\.15\.1 → 203\.0\.113\.8 \(iif v-net-0, oif uplink0\) \(kernel trace\)/);
    expect(msg).toMatch(/host: rule `-A FORWARD -d 192\.168\.15\.0\/24 -j ACCEPT` \(table filter\) \(verdict accept\) — icmp echo-reply 203\.0\.113\.8 → 192\.168\.15\.1/);
    expect(msg).toMatch(/host: rule `-A POSTROUTING -s 192\.168\.15\.0\/24 -j MASQUERADE` \(table nat\) \(verdict accept\)/);
  });

  test('.not.toReach({ because }) asserts why, and fails when the reason differs', async ({ lab }) => {
    const net = await tutorial(lab);
    const { red } = net;
    await lab.host.policy('FORWARD', 'DROP');
    await expect(red).not.toReach('203.0.113.8', { because: 'FILTERED' });
    const msg = await failureOf(expect(red).not.toReach('203.0.113.8', { because: 'NO_ROUTE' }));
    expect(msg).toMatch(/did not reach 203\.0\.113\.8 \(icmp\) within \d+ ms, as expected, but because of FILTERED, not NO_ROUTE/);
    await expect(expect(red).toReach('203.0.113.8', { because: 'FILTERED' } as never)).rejects.toThrow(InvalidInputError);
    await expect(expect(red).not.toReach('203.0.113.8', { because: 'SLOW' as never })).rejects.toThrow(InvalidInputError);
  });
});

test('10. nftables is not invisible: a native nft forward chain with policy drop is named as the reason (kernel trace)', async ({ lab }) => {
  const net = await tutorial(lab);
  const { red } = net;
  await lab.host.exec('nft', ['-f', '-'], { input: 'table inet site {\n chain forward { type filter hook forward priority 0; policy drop; }\n}\n' });
  await expect(red).not.toReach('203.0.113.8', { because: 'FILTERED' });
  const msg = await failureOf(expect(red).toReach('203.0.113.8', { timeout: 500 }));
  expect(msg).toMatch(/\(FILTERED\)/);
  expect(msg).toMatch(/host: dropped by inet site forward policy drop — icmp echo-request 192\.168\.15\.1 → 203\.0\.113\.8 \(iif v-net-0, oif uplink0\) \(kernel trace\)/);
  expect(msg).not.toMatch(/FORWARD policy ACCEPT/);
  // and the lab's state dump (what a failure report shows) has the nft rules (iptables-nft's own tables stay in iptables form, shown once)
  const dump = formatState(await readLabState(lab));
  expect(dump).toMatch(/^  nft   table inet site \{\n  nft     chain forward \{\n  nft       type filter hook forward priority filter; policy drop;/m);
  expect(dump).not.toMatch(/nft   table ip (filter|nat)/);
  expect(dump).not.toMatch(/netspec_(trace|witness)/);
});

test('13. the bridged-traffic hint only where the dropped packet was bridged; a DNAT on the way is named', async ({ lab }) => {
  const net = await tutorial(lab);
  const { red } = net;
  await lab.host.policy('FORWARD', 'DROP');
  const routed = await failureOf(expect(red).toReach('203.0.113.8', { timeout: 500 }));
  expect(routed).toMatch(/host: dropped by the FORWARD policy DROP \(table filter\) — icmp echo-request 192\.168\.15\.1 → 203\.0\.113\.8 \(iif v-net-0, oif uplink0\) \(kernel trace\)/);
  expect(routed).not.toMatch(/bridge-nf-call-iptables/);
  const bridged = await failureOf(expect(red).toReach('192.168.15.2', { timeout: 500 }));
  expect(bridged).toMatch(/host: dropped by the FORWARD policy DROP \(table filter\) — icmp echo-request 192\.168\.15\.1 → 192\.168\.15\.2 \(iif v-net-0, oif v-net-0\) \(kernel trace\) \(bridged traffic goes through iptables/);
});

test('12. meshes count late replies and keep every pair\'s reason', async ({ lab }) => {
  const net = await tutorial(lab);
  const { red, blue } = net;
  const echo = await slowEcho(lab, blue, 250);
  try {
    expect(await outcomeOf(expect(lab).toHaveReachability({ red: { blue: false } }))).toBe('failed');
    expect((await lab.reachability([red], { targets: [blue] })).get('red', 'blue')).toMatchObject({ reached: true, disposition: 'REACHED' });
  } finally {
    echo.stop();
  }
  await lab.host.policy('FORWARD', 'DROP');
  const stray = await lab.netns('stray');
  await net.bridge.attach(stray, { address: '192.168.15.9/24' });
  await stray.down('veth-stray'); // cabled, but its end is down: nothing answers ARP for .9
  const m = await lab.reachability([red], { targets: [blue, stray, '203.0.113.8'], timeout: 500 });
  expect(m.get('red', '203.0.113.8')).toMatchObject({ reached: false, disposition: 'FILTERED' });
  expect(m.get('red', '203.0.113.8')!.why).toMatch(/host: dropped by the FORWARD policy DROP/);
  expect(m.get('red', 'stray')).toMatchObject({ reached: false, disposition: 'NEIGHBOR_UNREACHABLE' });
  const msg = await failureOf(expect(lab).toHaveReachability({ red: { '203.0.113.8': true } }, { timeout: 500 }));
  // the matcher lists every differing pair with its disposition and the whole diagnosis, hop by hop. (Its disposition
  // is not pinned here, the mesh's is, above: on a loaded machine the explaining probe's packet has been seen entering
  // the lab host and then neither traced nor counted in FORWARD, so the diagnosis said NO_REPLY; and with the suite's
  // files running beside each other the CPU is saturated, veth delivery waits for ksoftirqd, and red's ARP for its
  // gateway has been FAILED when the diagnosis read it, so it said NEIGHBOR_UNREACHABLE, which the kernel showed then.)
  expect(msg).toMatch(/red → 203\.0\.113\.8 \(203\.0\.113\.8\): (FILTERED|NO_REPLY|NEIGHBOR_UNREACHABLE), expected REACHED; [^\n]+\n\s+1\. red: route to 203\.0\.113\.8 via 192\.168\.15\.3/);
}, 90_000);

test('14. a lab sets bridge-nf-call-* and ip_forward itself, so a spec gives the same verdict on every machine', async () => {
  for (const bridgeNetfilter of [true, false]) {
    const lab = await createLab({ bridgeNetfilter });
    try {
      for (const key of ['iptables', 'ip6tables', 'arptables']) {
        expect(await lab.host.readSysctl(`net.bridge.bridge-nf-call-${key}`)).toBe(bridgeNetfilter ? '1' : '0');
      }
      expect(await lab.host.readSysctl('net.ipv4.ip_forward')).toBe('0');
      const net = await bridgeNetwork(lab, { names: ['red', 'blue'], gateway: false, defaultRoutes: false });
      const { red } = net;
      expect(await red.readSysctl('net.ipv4.ip_forward')).toBe('0');
      await lab.host.policy('FORWARD', 'DROP');
      // bridged traffic meets the FORWARD policy only with bridge-nf-call-iptables=1
      if (bridgeNetfilter) await expect(red).not.toReach('192.168.15.2', { because: 'FILTERED' });
      else await expect(red).toReach('192.168.15.2');
    } finally {
      await lab.dispose();
    }
  }
  await expect(createLab({ bridgeNetfilter: 'yes' as never })).rejects.toThrow(InvalidInputError);
});

test('15. multipath routes: every nexthop shown, and toHaveRouteEntry matches one of them', async ({ lab }) => {
  const red = await lab.netns('red');
  await lab.veth({ ns: red, name: 'a0', address: '10.1.0.2/24' }, { ns: lab.host, name: 'a1', address: '10.1.0.1/24' });
  await lab.veth({ ns: red, name: 'b0', address: '10.2.0.2/24' }, { ns: lab.host, name: 'b1', address: '10.2.0.1/24' });
  await red.exec('ip', ['route', 'add', '10.9.0.0/24', 'nexthop', 'via', '10.1.0.1', 'dev', 'a0', 'nexthop', 'via', '10.2.0.1', 'dev', 'b0']);
  await expect(red).toHaveRouteEntry({ destination: '10.9.0.0/24', gateway: '10.2.0.1' });
  await expect(red).toHaveRouteEntry({ destination: '10.9.0.0/24', gateway: '10.1.0.1', dev: 'a0' });
  await expect(red).not.toHaveRouteEntry({ destination: '10.9.0.0/24', gateway: '10.1.0.1', dev: 'b0' });
  const msg = await failureOf(expect(red).toHaveRouteEntry({ destination: '10.9.0.0/24', gateway: '10.3.0.1' }));
  expect(msg).toMatch(/10\.9\.0\.0\/24 nexthops: via 10\.1\.0\.1 dev a0 weight 1, via 10\.2\.0\.1 dev b0 weight 1/);
});

describe('found by an adversarial review of this round', () => {
  test('TCP/UDP seenAs over IPv6: the responder\'s bracketed, written-out peer address is the same address', async ({ lab }) => {
    const net = await tutorial(lab);
    const { red, blue } = net;
    await Promise.all([red.addAddress('fd00::1/64', 'veth-red'), blue.addAddress('fd00::2/64', 'veth-blue')]);
    for (const protocol of ['tcp', 'udp'] as const) {
      await expect(red).toReach({ address: 'fd00::2', port: 80 }, { protocol, seenAs: 'fd00::1' });
      expect(await outcomeOf(expect(red).not.toReach({ address: 'fd00::2', port: 80 }, { protocol, seenAs: 'FD00:0::1' }))).toBe('failed');
    }
  });

  test('seenAs of another family, IPv4-mapped or unspecified is refused; the spec\'s own server is witnessed by nftables', async ({ lab }) => {
    const net = await tutorial(lab);
    const { red, blue } = net;
    for (const seenAs of ['::ffff:192.168.15.1', 'fd00::1', '0.0.0.0']) {
      await expect(expect(red).not.toReach('192.168.15.2', { seenAs })).rejects.toThrow(InvalidInputError);
    }
    // the spec's own servers answer (they print no source): netspec's landing watch records the probe's own packets instead
    void blue.exec('timeout', ['20', 'socat', 'TCP-LISTEN:7000,fork,reuseaddr', 'SYSTEM:echo hi'], { reject: false }).catch(() => undefined);
    void blue.exec('timeout', ['20', 'socat', 'UDP-RECVFROM:7001,fork', 'SYSTEM:echo hi'], { reject: false }).catch(() => undefined);
    for (let i = 0; !(await blue.exec('ss', ['-H', '-ltun', 'sport = :7000 or sport = :7001'])).stdout.trim().includes('7001'); i++) {
      if (i > 200) throw new Error('the servers never listened');
      await new Promise((r) => setTimeout(r, 50));
    }
    for (const [protocol, port] of [['tcp', 7000], ['udp', 7001]] as const) {
      const target = { address: '192.168.15.2', port };
      // (a window long enough for socat's forked `echo hi` to answer on a busy machine: the UDP server is no verdict
      // until it answers)
      await expect(red).not.toReach(target, { protocol, seenAs: '192.168.15.9', responder: false, window: 3000 });
      const msg = await failureOf(expect(red).toReach(target, { protocol, seenAs: '192.168.15.9', responder: false, timeout: 3000 }));
      // (as 192.168.15.1, or as the host's .3: the tutorial's MASQUERADE also covers bridged traffic here)
      const seen = /but the target saw the source as (192\.168\.15\.[13]), not 192\.168\.15\.9/.exec(msg)?.[1];
      expect(seen, msg).toBeDefined();
      expect(msg).toMatch(new RegExp(`blue\\$ ss: the probe's packets landed in blue on 192\\.168\\.15\\.2:${port} from ${seen!.replace(/\./g, '\\.')} \\(netspec's landing watch\\)`));
      await expect(red).toReach(target, { protocol, seenAs: seen!, responder: false });
    }
  });

  test('toHaveReachability: odd spellings of an address key are the same target; a self pair or nothing to check is an error', async ({ lab }) => {
    const [red, blue] = await Promise.all([lab.netns('red'), lab.netns('blue')]);
    const br = await lab.bridge('v-net-0');
    await br.attach(red, { address: 'fd00::1/64' });
    await br.attach(blue, { address: 'fd00::2/64' });
    expect(await outcomeOf(expect(lab).toHaveReachability({ red: { 'FD00:0::2': false } }))).toBe('failed');
    await expect(lab).toHaveReachability({ red: { 'FD00:0::2': true } });
    await expect(expect(lab).toHaveReachability({ red: { red: false } })).rejects.toThrow(InvalidInputError);
    await expect(expect(lab).toHaveReachability({ red: {} })).rejects.toThrow(InvalidInputError);
  });

  test('a namespace deleted and made again under its name: the old handle is no verdict, lab.get gives the new one', async ({ lab }) => {
    const net = await tutorial(lab);
    const { blue } = net;
    await lab.sh`ip netns del blue; ip netns add blue`;
    await expect(expect(blue).not.toReach('192.168.15.1')).rejects.toThrow(ProbeError);
    const fresh = lab.get('blue');
    expect(fresh).not.toBe(blue);
    await expect(fresh).not.toReach('192.168.15.1', { because: 'NO_ROUTE' });
  });
});

test('seenAs: a spec\'s own server that prints an address is no evidence of the source; the kernel\'s witness decides', async ({ lab, expect }) => {
  const net = await tutorial(lab);
  // a server that answers every connection with a fixed address, as an echo-my-IP service might print a wrong one
  await net.blue.exec('sh', ['-c', "socat TCP-LISTEN:9000,fork,reuseaddr SYSTEM:'echo 10.9.9.9' >/dev/null 2>&1 &"]);
  await expect.poll(async () => (await net.blue.exec('ss', ['-Hltn', 'sport = :9000'])).stdout.trim()).not.toBe('');
  const msg = await failureOf(expect(net.red).toReach({ address: '192.168.15.2', port: 9000 }, { responder: false, seenAs: '10.9.9.9' }));
  expect(msg).toMatch(/but the target saw the source as \S+, not 10\.9\.9\.9/);
  expect(msg).toMatch(/blue\$ ss: the probe's packets landed in blue on 192\.168\.15\.2:9000 from \S+ \(netspec's landing watch\)/);
});
