/**
 * Lessons past the tutorial: a stateful firewall (first: Docker's own rules use conntrack), then Docker's bridge. The lab's host starts as a Docker host (the
 * `dockerHost` fixture: docker0, Docker's chains in Docker's order, FORWARD policy DROP, ip_forward on; the lab's wan
 * is the Internet), and the learner adds, with plain iptables/iproute2, what Docker or a firewall would.
 */
import type { Lab } from '../src/index.js';
import { dockerHost, type DockerHost } from '../fixtures/index.js';
import { expect, fail, need, type Lesson } from './course.js';

/** The tutorial's red and blue on v-net-0, the host .3 as their gateway, then Docker installed, with one container. */
async function bridgeThenDocker(lab: Lab): Promise<DockerHost> {
  await Promise.all([lab.netns('red'), lab.netns('blue')]);
  const br = await lab.bridge('v-net-0', { address: '192.168.15.3/24' });
  await Promise.all([
    br.attach(lab.get('red'), { address: '192.168.15.1/24', ifname: 'veth-red', peer: 'veth-red-brdg', gateway: true }),
    br.attach(lab.get('blue'), { address: '192.168.15.2/24', ifname: 'veth-blue', peer: 'veth-blue-brdg', gateway: true }),
  ]);
  const docker = await dockerHost(lab);
  await docker.run('c1');
  return docker;
}

async function twoContainers(lab: Lab, names: [string, string]): Promise<DockerHost> {
  const docker = await dockerHost(lab);
  await docker.run(names[0]);
  await docker.run(names[1]);
  return docker;
}

function container(docker: DockerHost, name: string) {
  const c = docker.containers.find((x) => x.name === name);
  if (!c) throw new Error(`no container ${name}`);
  return c;
}

export const dockerLessons: Lesson<any>[] = [
  {
    id: '06-stateful',
    kind: 'lesson',
    title: 'A stateful firewall: red opens connections to the Internet, the Internet opens none to red, replies and errors come back',
    setup: async (lab) => {
      const [red, wan] = await Promise.all([lab.netns('red'), lab.wan()]);
      const lan = await lab.bridge('lan0', { address: '10.0.0.1/24' });
      await Promise.all([lan.attach(red, { address: '10.0.0.2/24', gateway: true }), lab.host.forwarding(true), wan.ns.addRoute('10.0.0.0/24', { via: wan.hostAddress })]);
      return wan;
    },
    async check(lab) {
      const red = lab.get('red');
      const wan = lab.get('wan');
      await need(() => expect(red).toReach('203.0.113.8'), {
        step: 'replies',
        says: "red's packets leave for the Internet, but the replies do not come back in.",
        hints: [
          'Connection tracking: the `conntrack` match of iptables (`iptables -m conntrack --help`) knows which packets belong to a connection red opened.',
          'Missing: an ACCEPT in FORWARD for packets of connections that already exist (their state is ESTABLISHED).',
        ],
      });
      await need(() => expect(red).toReach({ address: '203.0.113.8', port: 443 }), {
        step: 'tcp',
        says: 'red cannot open a TCP connection to 203.0.113.8:443.',
        hints: ['Connection tracking covers TCP as it covers ICMP: `iptables -S FORWARD`.', 'The rule for existing connections should not name a protocol.'],
      });
      await need(() => expect(wan).not.toReach('10.0.0.2', { because: 'FILTERED' }), {
        step: 'closed',
        says: 'the Internet can open connections to red (10.0.0.2): only replies may come in.',
        hints: ['Read "what let it through" below.', 'Accept from the uplink only packets whose conntrack state is ESTABLISHED or RELATED; everything else meets the DROP policy.'],
      });
      await need(() => expect(red).not.toReach({ address: '203.0.113.8', port: 9 }, { protocol: 'udp', responder: false, because: 'REFUSED' }), {
        step: 'related',
        says: "red's UDP packet to a closed port of 203.0.113.8 gets no error back: the ICMP port-unreachable is dropped, so red waits instead of being told.",
        hints: [
          'An ICMP error is not part of the connection: conntrack calls it RELATED to it.',
          'Missing: RELATED beside ESTABLISHED in the conntrack rule.',
        ],
      });
    },
    starterFails: /red's packets leave for the Internet, but the replies do not come back in[\s\S]*FILTERED/,
  },
  {
    id: '07-docker-user',
    kind: 'lesson',
    title: 'Docker broke the bridge: let v-net-0 through again with DOCKER-USER, keeping the containers closed',
    setup: bridgeThenDocker,
    async check(lab, docker: DockerHost) {
      const red = lab.get('red');
      await need(() => expect(red).toReach('192.168.15.2'), {
        step: 'bridged',
        says: 'red cannot reach blue across v-net-0 since Docker started.',
        hints: [
          "Docker's firewall is iptables' filter table: `iptables -S FORWARD`, `iptables -S DOCKER-USER` (which runs first).",
          'Missing: a rule in DOCKER-USER that accepts packets entering and leaving by v-net-0.',
        ],
      });
      await need(() => expect(red).not.toReach(container(docker, 'c1').address, { because: 'FILTERED' }), {
        step: 'containers',
        says: "red reaches the container c1 (172.17.0.2): Docker's FORWARD policy DROP kept v-net-0 out of docker0, and now it does not. Let through v-net-0 to v-net-0 only.",
        hints: ['Read "what let it through" below: that rule or policy is too wide.', 'Keep the FORWARD policy DROP; the rule in DOCKER-USER should name v-net-0 both as the way in (-i) and the way out (-o).'],
      });
      const rules = (await lab.host.iptables(['-S', 'DOCKER-USER'])).stdout;
      if (!/^-A DOCKER-USER .*v-net-0/m.test(rules)) {
        fail({
          step: 'docker-user',
          says: `red reaches blue, but not through DOCKER-USER: rules that must come before Docker's belong there (Docker jumps to it first and never rewrites it). DOCKER-USER now:\n${rules.trim()}`,
          hints: ['`iptables -I DOCKER-USER …`.', 'Move the rule that accepts v-net-0 into DOCKER-USER.'],
        });
      }
    },
    starterFails: /red cannot reach blue across v-net-0 since Docker started[\s\S]*FILTERED/,
  },
  {
    id: '08-published-port',
    kind: 'lesson',
    title: "Publish web's port 80 as the host's 8080 (docker run -p 8080:80), for the Internet and, hairpinned, for other containers",
    setup: (lab) => twoContainers(lab, ['web', 'client']),
    async check(lab, docker: DockerHost) {
      const published = { address: docker.address, port: 8080 };
      await need(() => expect(docker.wan.ns).toReach(published), {
        step: 'dnat',
        says: `the Internet (the wan) cannot reach the published port ${docker.address}:8080.`,
        hints: [
          "A published port is address translation in the nat table (`iptables -t nat -S`: Docker's chain DOCKER), and the filter table must let the translated packets through (`iptables -S DOCKER`).",
          "Missing: a DNAT of tcp port 8080 to web's 172.17.0.2:80, and an ACCEPT for tcp to 172.17.0.2 port 80 going out by docker0.",
        ],
      });
      await need(() => expect(container(docker, 'client').ns).toReach(published), {
        step: 'hairpin',
        says: `the container client cannot reach web through the host's published port ${docker.address}:8080 (hairpin NAT).`,
        hints: [
          'Read the nat rules in order: `iptables -t nat -S DOCKER`. Which rule sees packets that come in by docker0 first, and what does `! -i docker0` exclude?',
          'Missing: a DNAT of port 8080 that applies to packets coming in by docker0 too, placed before `-A DOCKER -i docker0 -j RETURN`.',
        ],
      });
    },
    starterFails: /the Internet \(the wan\) cannot reach the published port 198\.51\.100\.2:8080[\s\S]*REFUSED/,
  },
  {
    id: '09-icc',
    kind: 'lesson',
    title: 'Make docker0 behave like dockerd --icc=false: containers do not reach each other, but still the Internet',
    setup: (lab) => twoContainers(lab, ['c1', 'c2']),
    async check(lab, docker: DockerHost) {
      const [c1, c2] = [container(docker, 'c1'), container(docker, 'c2')];
      for (const [a, b] of [
        [c1, c2],
        [c2, c1],
      ] as const) {
        await need(() => expect(a.ns).not.toReach(b.ns, { because: 'FILTERED' }), {
          step: 'icc',
          says: `${a.name} reaches ${b.name} on docker0: inter-container traffic must be dropped by the firewall, as enable_icc=false does.`,
          hints: [
            'Bridged traffic between containers crosses the filter table\'s FORWARD chain: `iptables -S FORWARD` (read "what let it through" below).',
            'Missing: a DROP for packets entering and leaving by docker0 (or no ACCEPT for them), before anything accepts them.',
          ],
        });
      }
      await need(() => expect(c1.ns).toReach('203.0.113.8'), {
        step: 'internet',
        says: 'c1 cannot reach the Internet any more: only container-to-container traffic should be dropped.',
        hints: ['Your rule is too wide: `iptables -S`.', 'Match packets by both interfaces: in by docker0 and out by docker0.'],
      });
    },
    starterFails: /c1 reaches c2 on docker0[\s\S]*what let it through/,
  },
  {
    id: '10-internal',
    kind: 'lesson',
    title: 'Make the network backend --internal: its containers talk to each other, and nothing leaves or enters it',
    setup: async (lab) => {
      const docker = await dockerHost(lab);
      await docker.run('c1');
      return docker;
    },
    async check(lab, docker: DockerHost) {
      const [db1, db2] = [lab.get('db1'), lab.get('db2')];
      const c1 = container(docker, 'c1');
      await need(() => expect(db1).toReach('172.18.0.3'), {
        step: 'inside',
        says: 'db1 cannot reach db2 (172.18.0.3) on backend: an internal network still works inside.',
        hints: ['`iptables -S FORWARD`: what accepts traffic in and out by br-backend?', 'Keep an ACCEPT for packets in by br-backend and out by br-backend.'],
      });
      await need(() => expect(db1).not.toReach('203.0.113.8', { because: 'FILTERED' }), {
        step: 'out',
        says: 'db1 reaches the Internet, or is not stopped by the firewall: nothing may leave an internal network, and Docker drops it in the filter table.',
        hints: [
          'Docker drops it in the filter table (`iptables -S DOCKER-ISOLATION-STAGE-1`); read "what let it through" below.',
          'Missing: a DROP of packets in by br-backend whose destination is outside 172.18.0.0/16 (and no MASQUERADE is needed any more).',
        ],
      });
      await need(() => expect(c1.ns).not.toReach('172.18.0.2', { because: 'FILTERED' }), {
        step: 'in',
        says: 'c1, on docker0, reaches db1 (172.18.0.2), or is not stopped by the firewall: nothing may enter an internal network from outside it.',
        hints: ['The other direction: packets going out by br-backend (`-o`).', 'Missing: a DROP of packets out by br-backend whose source is outside 172.18.0.0/16.'],
      });
    },
    starterFails: /db1 reaches the Internet[\s\S]*what let it through/,
  },

];
