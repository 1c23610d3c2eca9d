// Issue 22 (the trust-landing and trust-input branches together): "silence is not refusal" is judged on the probe's own
// datagrams, as netspec's landing watch sees them pass every input filter where the spec's server listens, never on
// the landing namespace's UDP counters, which any other UDP traffic to that namespace raises too.
import { expect, test } from '../../src/vitest.js';
import { ProbeError, type Lab, type Netns } from '../../src/index.js';
import { outcomeOf } from './helpers.js';

/** red .1 and blue .2 on one bridge. */
async function pair(lab: Lab): Promise<{ red: Netns; blue: Netns }> {
  const [red, blue] = await Promise.all([lab.netns('red'), lab.netns('blue')]);
  const br = await lab.bridge('v-net-0');
  await Promise.all([br.attach(red!, { address: '192.168.15.1/24' }), br.attach(blue!, { address: '192.168.15.2/24' })]);
  return { red: red!, blue: blue! };
}

/** A UDP server in `ns` that receives every datagram and never answers; resolves once it listens. */
async function silentUdp(ns: Netns, port: number): Promise<void> {
  void ns.exec('timeout', ['30', 'socat', '-u', `UDP4-RECV:${port}`, '/dev/null'], { reject: false }).catch(() => undefined);
  for (let i = 0; !(await ns.exec('ss', ['-H', '-lun', `sport = :${port}`])).stdout.trim(); i++) {
    if (i > 200) throw new Error('the silent server never listened');
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** blue's UDP InDatagrams (/proc/net/snmp). */
async function inDatagrams(ns: Netns): Promise<number> {
  const lines = (await ns.exec('cat', ['/proc/net/snmp'])).stdout.split('\n').filter((l) => l.startsWith('Udp: '));
  const names = lines[0]!.trim().split(/\s+/);
  return Number(lines[1]!.trim().split(/\s+/)[names.indexOf('InDatagrams')]);
}

/** Other UDP traffic to blue:port, from red's ephemeral ports, until stopped. */
function background(red: Netns, port: number): { stop(): Promise<void> } {
  let going = true;
  const loop = (async () => {
    while (going) {
      await red.exec('socat', ['-u', '-', `UDP4-SENDTO:192.168.15.2:${port}`], { input: 'other traffic\n', reject: false }).catch(() => undefined);
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  return {
    async stop() {
      going = false;
      await loop;
    },
  };
}

test('a probe a filter drops before the socket is "not reached", however much other UDP traffic the landing namespace receives meanwhile', async ({ lab }) => {
  const { red, blue } = await pair(lab);
  await silentUdp(blue, 5310);
  await silentUdp(blue, 5311);
  await blue.iptables(['-I', 'INPUT', '-p', 'udp', '--dport', '5310', '-j', 'DROP']);
  const before = await inDatagrams(blue);
  const noise = background(red, 5311);
  try {
    await expect(red).not.toReach({ address: '192.168.15.2', port: 5310 }, { protocol: 'udp', window: 1000 });
    await expect(red).not.toReach({ address: '192.168.15.2', port: 5310 }, { protocol: 'udp', window: 1000, because: 'FILTERED' });
  } finally {
    await noise.stop();
  }
  // the other traffic was there, delivered to blue's sockets during the probes (what the namespace-wide counters saw)
  expect(await inDatagrams(blue)).toBeGreaterThan(before + 5);
});

test('the probe\'s own datagram that a silent server received is still an error, with other UDP traffic about', async ({ lab }) => {
  const { red, blue } = await pair(lab);
  await silentUdp(blue, 5312);
  await silentUdp(blue, 5313);
  const noise = background(red, 5313);
  try {
    const not = await outcomeOf(expect(red).not.toReach({ address: '192.168.15.2', port: 5312 }, { protocol: 'udp', window: 500 }));
    expect(not).toMatchObject({ threw: expect.any(ProbeError) });
    expect((not as { threw: Error }).threw.message).toMatch(/landing watch saw 1 of the probe's own datagram pass every input filter there to 192\.168\.15\.2:5312; nothing was sent back to the probe: the server received the datagram and stayed silent/);
  } finally {
    await noise.stop();
  }
});
