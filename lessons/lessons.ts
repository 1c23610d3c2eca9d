/** The lessons, in order: one per step of the container-network tutorial. */
import { expect } from 'vitest';
import '../src/vitest.js'; // registers netspec's matchers on Vitest's expect
import type { Lab } from '../src/index.js';
import { addressFacing } from '../src/ip.js';
import { hint, LessonFailure, type Lesson } from './lesson.js';

async function redAndBlue(lab: Lab) {
  await Promise.all([lab.netns('red'), lab.netns('blue')]);
}

async function redAndBlueOnTheBridge(lab: Lab) {
  await redAndBlue(lab);
  const br = await lab.bridge('v-net-0');
  await Promise.all([
    br.attach(lab.get('red'), { address: '192.168.15.1/24', ifname: 'veth-red', peer: 'veth-red-brdg' }),
    br.attach(lab.get('blue'), { address: '192.168.15.2/24', ifname: 'veth-blue', peer: 'veth-blue-brdg' }),
  ]);
}

export const lessons: Lesson[] = [
  {
    id: '01-namespaces',
    title: 'Create two network namespaces, red and blue',
    async check(lab) {
      const names = lab.namespaces();
      for (const n of ['red', 'blue']) {
        if (!names.includes(n)) {
          throw new LessonFailure(
            `there is no network namespace called "${n}" yet (namespaces now: ${names.join(', ') || 'none'}).\nHint: network namespaces are managed with \`ip netns\` (see \`ip netns help\`).`,
          );
        }
      }
    },
    starterFails: /there is no network namespace called "red" yet/,
  },
  {
    id: '02-veth-pair',
    title: 'Cable red straight to blue with a veth pair, and give them 192.168.15.1/24 and 192.168.15.2/24',
    setup: redAndBlue,
    async check(lab) {
      const red = lab.get('red');
      const blue = lab.get('blue');
      await hint(
        expect(red).toHaveAddress('192.168.15.1/24'),
        'red has no address 192.168.15.1/24. Hint: an interface must exist inside red first (`ip link add … type veth peer name …`, then `ip link set … netns …`), then `ip addr`.',
      );
      await hint(expect(blue).toHaveAddress('192.168.15.2/24'), 'blue has no address 192.168.15.2/24 yet. Hint: the other end of the cable belongs in blue.');
      await hint(expect(red).toReach('192.168.15.2'), 'red cannot reach blue yet. Hint: a new interface is DOWN until you bring it up (`ip link set … up`), on both ends.');
      await hint(expect(blue).toReach('192.168.15.1'), 'blue cannot reach red.');
    },
    starterFails: /red has no address 192\.168\.15\.1\/24/,
  },
  {
    id: '03-bridge',
    title: 'Make the bridge v-net-0 the switch, cable red and blue to it, and let the bridged traffic through',
    setup: async (lab) => {
      await redAndBlue(lab);
      await lab.host.policy('FORWARD', 'DROP'); // what Docker leaves behind
    },
    async check(lab) {
      const red = lab.get('red');
      await hint(expect(lab.host).toHaveLink('v-net-0', { type: 'bridge', state: 'UP' }), 'there is no bridge v-net-0 that is UP. Hint: a bridge is a link of `type bridge` (`ip link add …`), and links start DOWN.');
      await hint(expect(lab.host).toHaveLink('veth-red-brdg', { master: 'v-net-0', state: 'UP' }), 'red is not cabled to v-net-0: the host end veth-red-brdg should be UP with v-net-0 as its master. Hint: `ip link set … master …`.');
      await hint(expect(lab.host).toHaveLink('veth-blue-brdg', { master: 'v-net-0', state: 'UP' }), 'blue is not cabled to v-net-0 (veth-blue-brdg, master v-net-0, UP).');
      await hint(expect(red).toHaveAddress('192.168.15.1/24', { dev: 'veth-red' }), 'red has no 192.168.15.1/24 on veth-red.');
      await hint(expect(lab.get('blue')).toHaveAddress('192.168.15.2/24', { dev: 'veth-blue' }), 'blue has no 192.168.15.2/24 on veth-blue.');
      await hint(expect(red).toReach('192.168.15.2'), 'red still cannot reach blue across the bridge. Read the disposition below: if it is FILTERED, look at the policy of the FORWARD chain (`iptables -L`).');
    },
    starterFails: /there is no bridge v-net-0 that is UP/,
  },
  {
    id: '04-host',
    title: 'Let the host join the private network: 192.168.15.3/24 on v-net-0',
    setup: redAndBlueOnTheBridge,
    async check(lab) {
      await hint(expect(lab.host).toReach('192.168.15.2'), 'the host cannot reach blue. Hint: the bridge is also an interface of the host; what does the host need on it to be part of 192.168.15.0/24?');
      await hint(expect(lab.get('blue')).toReach('192.168.15.3'), 'blue cannot reach the host at 192.168.15.3.');
    },
    starterFails: /the host cannot reach blue/,
  },
  {
    id: '05-internet',
    title: 'Reach the Internet (the lab\'s 203.0.113.8) from red and blue',
    setup: async (lab) => {
      await redAndBlueOnTheBridge(lab);
      await Promise.all([lab.host.addAddress('192.168.15.3/24', 'v-net-0'), lab.wan(), lab.host.forwarding(true)]);
    },
    async check(lab) {
      // what a MASQUERADEd packet is seen as: the lab host's own address on the uplink, the subnet it shares with the wan
      const seenAs = addressFacing(await lab.get('wan').globalAddresses(4), await lab.host.globalAddresses(4));
      if (!seenAs) throw new LessonFailure('the lab host has no IPv4 address left: did your script remove the addresses the lesson gave it?');
      for (const name of ['red', 'blue']) {
        const ns = lab.get(name);
        await hint(expect(ns).toRouteVia('203.0.113.8', '192.168.15.3'), `${name} has no way out of its network. Hint: \`ip route\` — which gateway should everything that is not local go to?`);
        await hint(
          expect(ns).toReach('203.0.113.8', { seenAs }),
          `${name} sends to the Internet, but nothing comes back. Hint: the Internet does not know 192.168.15.0/24; the host must make the packets look like its own (\`iptables -t nat\`).`,
        );
      }
    },
    starterFails: /red has no way out of its network/,
  },
];
