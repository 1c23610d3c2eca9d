/**
 * The course, in order: the container-network tutorial (01–05), a stateful firewall and Docker lessons past it
 * (06–10), and debugging katas (11–). Every check is a netspec matcher, so the failure a learner reads is the one a spec's user
 * reads; `says` names what is missing, the hints (on request) name the command family, then the object.
 */
import type { Lab } from '../src/index.js';
import { expect, fail, LessonFailure, need, type Lesson } from './course.js';
import { dockerLessons } from './docker.js';
import { linksUp, masqueradeRules, networkOf, onNetwork, prefixesOf } from './facts.js';
import { katas } from './katas.js';

async function redAndBlue(lab: Lab) {
  await Promise.all([lab.netns('red'), lab.netns('blue')]);
}

/** Lessons 01–03 done: red .1 and blue .2 on the bridge v-net-0. */
export async function redAndBlueOnTheBridge(lab: Lab): Promise<void> {
  await redAndBlue(lab);
  const br = await lab.bridge('v-net-0');
  await Promise.all([
    br.attach(lab.get('red'), { address: '192.168.15.1/24', ifname: 'veth-red', peer: 'veth-red-brdg' }),
    br.attach(lab.get('blue'), { address: '192.168.15.2/24', ifname: 'veth-blue', peer: 'veth-blue-brdg' }),
  ]);
}

/**
 * Lesson 04's mistakes with the host's address, named from the lab: 192.168.15.3 on another link than the bridge, or
 * with another prefix length than the namespaces' (a /32: their subnet is not on it, whatever route is added).
 */
async function hostOnTheBridge(lab: Lab): Promise<void> {
  const [mine, blues] = await Promise.all([prefixesOf(lab.host, '192.168.15.3'), prefixesOf(lab.get('blue'), '192.168.15.2')]);
  if (mine.length === 0) return; // not there at all: the reachability check says so
  const blueNet = networkOf('192.168.15.2', blues[0]?.prefixLength ?? 24);
  const onBridge = mine.find((a) => a.dev === 'v-net-0');
  if (!onBridge) {
    fail({
      step: 'host-address',
      says: `the host has 192.168.15.3 on ${mine.map((a) => a.dev).join(', ')}, not on the bridge v-net-0, where red and blue are: their subnet ${blueNet} is not reached through that link.`,
      hints: ['`ip addr`: which link carries which address.', 'The host\'s address on that network belongs on v-net-0, the bridge red and blue are cabled to.'],
    });
  }
  const [, blueLen] = blueNet.split('/');
  if (String(onBridge.prefixLength) === blueLen) return;
  const hostNet = networkOf('192.168.15.3', onBridge.prefixLength);
  const why =
    onBridge.prefixLength < Number(blueLen)
      ? `its network ${hostNet} is wider than the namespaces' subnet ${blueNet}`
      : onNetwork('192.168.15.2', hostNet)
        ? `its network is ${hostNet}, so only part of the namespaces' subnet ${blueNet} is on it`
        : `its network is ${hostNet}, so the namespaces' subnet ${blueNet} is not on it: the host is no neighbor of red and blue, and no gateway of theirs`;
  fail({
    step: 'host-prefix',
    says: `the bridge's address is a /${onBridge.prefixLength} (192.168.15.3/${onBridge.prefixLength} on v-net-0): ${why}. This lesson asks for the namespaces' prefix length, /${blueLen}.`,
    hints: ['An address comes with a prefix length, which says which addresses are on the same link: `ip addr show v-net-0`.', `red and blue are ${blueNet}: the host's address on v-net-0 needs the same /${blueLen}.`],
  });
}

/**
 * Lesson 05's NAT step, with the mistake of a MASQUERADE rule on the wrong outgoing interface named: when the check
 * fails and every MASQUERADE rule of the host matches an `-o` other than the one the packets leave by.
 */
async function masqueradeOut(lab: Lab, check: () => Promise<void>): Promise<void> {
  try {
    await check();
  } catch (error) {
    if (!(error instanceof LessonFailure)) throw error;
    const [rules, route] = await Promise.all([masqueradeRules(lab.host), lab.host.routeGet('203.0.113.8')]);
    const out = route?.dev;
    const wrong = rules.filter((r) => r.out !== undefined && r.out !== out);
    if (!out || rules.length === 0 || wrong.length !== rules.length) throw error;
    const said = wrong.map((r) => `-o ${r.out}`).join(', ');
    throw new LessonFailure(
      `your MASQUERADE rule${wrong.length > 1 ? 's match' : ' matches'} ${said}, but these packets leave by ${out} (the host's route to the Internet): no MASQUERADE rule applies to them, so they go out with their private source.\n\n${error.message}`,
      error.step,
      ['A rule\'s `-o` names the interface packets leave by: `iptables -t nat -S POSTROUTING` and `ip route get 203.0.113.8` (in the host).', `The packets to the Internet leave by ${out}, not ${wrong[0]!.out}.`],
      error.evidence,
    );
  }
}

const tutorial: Lesson<any>[] = [
  {
    id: '01-namespaces',
    kind: 'lesson',
    title: 'Create two network namespaces, red and blue',
    async check(lab) {
      const names = lab.namespaces();
      for (const n of ['red', 'blue']) {
        if (!names.includes(n)) {
          fail({
            step: `netns-${n}`,
            says: `there is no network namespace called "${n}" yet (namespaces now: ${names.join(', ') || 'none'}).`,
            hints: ['Network namespaces are managed with `ip netns` (see `ip netns help`).', `The lab needs two of them, named red and blue; "${n}" is missing.`],
          });
        }
      }
    },
    starterFails: /there is no network namespace called "red" yet/,
  },
  {
    id: '02-veth-pair',
    kind: 'lesson',
    title: 'Cable red straight to blue with a veth pair, and give them 192.168.15.1/24 and 192.168.15.2/24',
    setup: redAndBlue,
    async check(lab) {
      const red = lab.get('red');
      const blue = lab.get('blue');
      await need(() => expect(red).toHaveAddress('192.168.15.1/24'), {
        step: 'red-address',
        says: 'red has no address 192.168.15.1/24.',
        hints: [
          'Virtual cables are links: `ip link add … type veth peer name …`; `ip link set … netns …` moves an end; addresses are `ip addr`.',
          'Missing: an interface inside red (one end of a veth pair) carrying 192.168.15.1/24.',
        ],
      });
      await need(() => expect(blue).toHaveAddress('192.168.15.2/24'), {
        step: 'blue-address',
        says: 'blue has no address 192.168.15.2/24 yet.',
        hints: ['`ip link set … netns …` and `ip netns exec blue ip addr …`.', 'Missing: the other end of the cable, inside blue, with 192.168.15.2/24.'],
      });
      // a cable end left DOWN is named as such (a failed ping would be explained as something else)
      const [redEnds, blueEnds] = await Promise.all([prefixesOf(red, '192.168.15.1'), prefixesOf(blue, '192.168.15.2')]);
      await linksUp(lab, [...redEnds.map((e) => ['red', e.dev] as const), ...blueEnds.map((e) => ['blue', e.dev] as const)]);
      await need(() => expect(red).toReach('192.168.15.2'), {
        step: 'up',
        says: 'red cannot reach blue yet.',
        hints: ['Interfaces have a state: `ip link set … up|down`.', 'A new interface is DOWN: both ends of the cable must be UP (each in its namespace).'],
      });
      await need(() => expect(blue).toReach('192.168.15.1'), { step: 'back', says: 'blue cannot reach red.', hints: ['`ip link`, in blue.', 'Both ends must be UP.'] });
    },
    starterFails: /red has no address 192\.168\.15\.1\/24/,
  },
  {
    id: '03-bridge',
    kind: 'lesson',
    title: 'Make the bridge v-net-0 the switch, cable red and blue to it, and let the bridged traffic through',
    setup: async (lab) => {
      await redAndBlue(lab);
      await lab.host.policy('FORWARD', 'DROP'); // what Docker leaves behind
    },
    async check(lab) {
      const red = lab.get('red');
      await linksUp(lab, [
        ['host', 'v-net-0'],
        ['host', 'veth-red-brdg'],
        ['host', 'veth-blue-brdg'],
        ['red', 'veth-red'],
        ['blue', 'veth-blue'],
      ]);
      await need(() => expect(lab.host).toHaveLink('v-net-0', { type: 'bridge', state: 'UP' }), {
        step: 'bridge',
        says: 'there is no bridge v-net-0 that is UP.',
        hints: ['A bridge is a link: `ip link add … type …`, `ip link set … up`.', 'Missing: a link named v-net-0 of type bridge, UP, in the host.'],
      });
      await need(() => expect(lab.host).toHaveLink('veth-red-brdg', { master: 'v-net-0', state: 'UP' }), {
        step: 'cable-red',
        says: 'red is not cabled to v-net-0: the host end veth-red-brdg should be UP with v-net-0 as its master.',
        hints: ['`ip link add … type veth peer name …`, then `ip link set … master …`.', 'Missing: veth-red-brdg, enslaved to v-net-0 and UP; its peer veth-red in red.'],
      });
      await need(() => expect(lab.host).toHaveLink('veth-blue-brdg', { master: 'v-net-0', state: 'UP' }), {
        step: 'cable-blue',
        says: 'blue is not cabled to v-net-0 (veth-blue-brdg, master v-net-0, UP).',
        hints: ['As for red: `ip link … master …`.', 'Missing: veth-blue-brdg, master v-net-0, UP.'],
      });
      await need(() => expect(red).toHaveAddress('192.168.15.1/24', { dev: 'veth-red' }), {
        step: 'red-address',
        says: 'red has no 192.168.15.1/24 on veth-red.',
        hints: ['`ip netns exec red ip addr …`.', 'Missing: 192.168.15.1/24 on veth-red, inside red.'],
      });
      await need(() => expect(lab.get('blue')).toHaveAddress('192.168.15.2/24', { dev: 'veth-blue' }), {
        step: 'blue-address',
        says: 'blue has no 192.168.15.2/24 on veth-blue.',
        hints: ['`ip netns exec blue ip addr …`.', 'Missing: 192.168.15.2/24 on veth-blue, inside blue.'],
      });
      await need(() => expect(red).toReach('192.168.15.2'), {
        step: 'forward',
        says: 'red still cannot reach blue across the bridge. Read the disposition below.',
        hints: [
          'FILTERED means a firewall rule or policy dropped it: `iptables -L FORWARD` (bridged traffic crosses FORWARD here, as on a Docker host).',
          'Missing: something in the FORWARD chain that lets the bridged traffic through (its policy is DROP).',
        ],
      });
    },
    starterFails: /there is no bridge v-net-0 that is UP/,
  },
  {
    id: '04-host',
    kind: 'lesson',
    title: 'Let the host join the private network: 192.168.15.3/24 on v-net-0',
    setup: redAndBlueOnTheBridge,
    async check(lab) {
      await hostOnTheBridge(lab);
      await need(() => expect(lab.host).toReach('192.168.15.2'), {
        step: 'host-address',
        says: 'the host cannot reach blue.',
        hints: ['The bridge is also an interface of the host: `ip addr`.', 'Missing: the host\'s address 192.168.15.3/24, on v-net-0.'],
      });
      await need(() => expect(lab.get('blue')).toReach('192.168.15.3'), { step: 'back', says: 'blue cannot reach the host at 192.168.15.3.', hints: ['`ip addr` on v-net-0.', 'The host needs 192.168.15.3/24 on v-net-0.'] });
      // what the title asks, whatever else made the pings pass (a /32 and a route to the subnet, say)
      await need(() => expect(lab.host).toHaveAddress('192.168.15.3/24', { dev: 'v-net-0' }), {
        step: 'host-prefix',
        says: 'the host reaches blue, but it has no 192.168.15.3/24 on v-net-0, which this lesson asks for.',
        hints: ['`ip addr show v-net-0`.', 'The host\'s address on the bridge is 192.168.15.3 with the namespaces\' prefix length, /24.'],
      });
    },
    starterFails: /the host cannot reach blue/,
  },
  {
    id: '05-internet',
    kind: 'lesson',
    title: "Reach the Internet (the lab's 203.0.113.8) from red and blue",
    setup: async (lab) => {
      await redAndBlueOnTheBridge(lab);
      // forwarding stays off (a fresh namespace's default): turning it on is the learner's
      const [wan] = await Promise.all([lab.wan(), lab.host.addAddress('192.168.15.3/24', 'v-net-0')]);
      return wan;
    },
    async check(lab, wan) {
      for (const name of ['red', 'blue']) {
        const ns = lab.get(name);
        await need(() => expect(ns).toRouteVia('203.0.113.8', '192.168.15.3'), {
          step: `${name}-route`,
          says: `${name} has no way out of its network.`,
          hints: ['Routes: `ip netns exec … ip route …`.', `Missing: a default route in ${name}, through the host (192.168.15.3).`],
        });
        await need(() => expect(lab.host).toForward(), {
          step: 'forward',
          says: `${name} sends its packets for the Internet to the host, but the host is not a router yet: it does not pass packets from one of its interfaces (v-net-0) out by another (its uplink).`,
          hints: [
            'Whether a Linux host routes packets between its interfaces is a kernel setting: `sysctl -a | grep forward`.',
            'Missing: IPv4 forwarding in the host (the net.ipv4 setting whose name ends in forward is 0).',
          ],
        });
        await masqueradeOut(lab, () => need(() => expect(ns).toReach('203.0.113.8', { seenAs: wan.hostAddress }), {
          step: 'nat',
          says: `${name} sends to the Internet, but nothing comes back as it should.`,
          hints: [
            'The Internet does not know 192.168.15.0/24: address translation, `iptables -t nat`.',
            'Missing: a rule in the nat table\'s POSTROUTING chain that makes packets from 192.168.15.0/24 look like the host\'s own.',
          ],
        }));
      }
    },
    starterFails: /red has no way out of its network/,
  },
];

export const lessons: Lesson<any>[] = [...tutorial, ...dockerLessons, ...katas];

/**
 * Lessons whose id changed (old → new): the stateful firewall (conntrack) moved before the Docker lessons, whose
 * rules use it. Progress saved under an old id is read as the new one's, and a learner's folder of an old name is
 * renamed (when the new one does not exist yet).
 */
export const RENAMED: Readonly<Record<string, string>> = {
  '10-stateful': '06-stateful',
  '06-docker-user': '07-docker-user',
  '07-published-port': '08-published-port',
  '08-icc': '09-icc',
  '09-internal': '10-internal',
};

/** A lesson by id or by number (`3`, `03`, `03-bridge`). */
export function findLesson(key: string): Lesson<any> | undefined {
  return lessons.find((l) => l.id === key) ?? lessons.find((l) => l.id.startsWith(`${key.padStart(2, '0')}-`));
}
