/**
 * The tutorial's steps, each two ways: through netspec's API, and as the tutorial's own commands typed into the lab
 * (lab.sh). Every tutorial spec runs against both, with the same assertions.
 */
import type { Lab } from '../../src/index.js';

export type Via = 'api' | 'script';
export const VIAS: Via[] = ['api', 'script'];

/** 1. `ip netns add red; ip netns add blue` */
export async function createNamespaces(lab: Lab, via: Via): Promise<void> {
  if (via === 'api') await Promise.all([lab.netns('red'), lab.netns('blue')]);
  else {
    await lab.sh`ip netns add red`;
    await lab.sh`ip netns add blue`;
  }
}

/** 2.1: one veth pair straight between red and blue, addresses, links up. */
export async function cableRedToBlue(lab: Lab, via: Via): Promise<void> {
  await createNamespaces(lab, via);
  if (via === 'api') {
    await lab.veth({ ns: lab.get('red'), name: 'veth-red', address: '192.168.15.1/24' }, { ns: lab.get('blue'), name: 'veth-blue', address: '192.168.15.2/24' });
    return;
  }
  await lab.sh`ip link add veth-red type veth peer name veth-blue`;
  await lab.sh`ip link set veth-red netns red`;
  await lab.sh`ip link set veth-blue netns blue`;
  await lab.sh`ip netns exec red ip addr add 192.168.15.1/24 dev veth-red`;
  await lab.sh`ip netns exec blue ip addr add 192.168.15.2/24 dev veth-blue`;
  await lab.sh`ip netns exec red ip link set veth-red up`;
  await lab.sh`ip netns exec blue ip link set veth-blue up`;
}

/** 2.2: the bridge v-net-0 as a switch, red and blue cabled to it, addresses, links up (no host address yet). */
export async function bridgeRedAndBlue(lab: Lab, via: Via): Promise<void> {
  await createNamespaces(lab, via);
  if (via === 'api') {
    const bridge = await lab.bridge('v-net-0');
    await Promise.all([
      bridge.attach(lab.get('red'), { address: '192.168.15.1/24', ifname: 'veth-red', peer: 'veth-red-brdg' }),
      bridge.attach(lab.get('blue'), { address: '192.168.15.2/24', ifname: 'veth-blue', peer: 'veth-blue-brdg' }),
    ]);
    return;
  }
  await lab.sh`ip link add v-net-0 type bridge`;
  await lab.sh`ip link set dev v-net-0 up`;
  await lab.sh`ip link add veth-red type veth peer name veth-red-brdg`;
  await lab.sh`ip link add veth-blue type veth peer name veth-blue-brdg`;
  await lab.sh`ip link set veth-red netns red`;
  await lab.sh`ip link set veth-red-brdg master v-net-0`;
  await lab.sh`ip link set veth-blue netns blue`;
  await lab.sh`ip link set veth-blue-brdg master v-net-0`;
  await lab.sh`ip netns exec red ip addr add 192.168.15.1/24 dev veth-red`;
  await lab.sh`ip netns exec blue ip addr add 192.168.15.2/24 dev veth-blue`;
  await lab.sh`ip link set veth-red-brdg up`;
  await lab.sh`ip link set veth-blue-brdg up`;
  await lab.sh`ip netns exec red ip link set veth-red up`;
  await lab.sh`ip netns exec blue ip link set veth-blue up`;
}

/** The FORWARD policy, as Docker leaves it (DROP) or as the tutorial sets it (ACCEPT). */
export async function forwardPolicy(lab: Lab, via: Via, policy: 'ACCEPT' | 'DROP'): Promise<void> {
  if (via === 'api') await lab.host.policy('FORWARD', policy);
  else await lab.sh`iptables --policy FORWARD ${policy}`;
}

/** 2.3: `ip addr add 192.168.15.3/24 dev v-net-0` */
export async function hostAddress(lab: Lab, via: Via): Promise<void> {
  if (via === 'api') await lab.host.addAddress('192.168.15.3/24', 'v-net-0');
  else await lab.sh`ip addr add 192.168.15.3/24 dev v-net-0`;
}

/** 2.4, first half: default routes via the host. */
export async function defaultRoutes(lab: Lab, via: Via): Promise<void> {
  if (via === 'api') {
    await Promise.all([lab.get('red').addRoute('default', { via: '192.168.15.3' }), lab.get('blue').addRoute('default', { via: '192.168.15.3' })]);
    return;
  }
  await lab.sh`ip netns exec red ip route add default via 192.168.15.3`;
  await lab.sh`ip netns exec blue ip route add default via 192.168.15.3`;
}

/** 2.4, second half: `iptables -t nat -A POSTROUTING -s 192.168.15.0/24 -j MASQUERADE` */
export async function masquerade(lab: Lab, via: Via): Promise<void> {
  if (via === 'api') await lab.host.masquerade('192.168.15.0/24');
  else await lab.sh`iptables -t nat -A POSTROUTING -s 192.168.15.0/24 -j MASQUERADE`;
}

/**
 * The tutorial's host is a Docker host, so it already forwards (`ip_forward=1`) and has an uplink to the Internet.
 * In a lab that is the wan stand-in (203.0.113.8 plays the tutorial's public DNS server) and forwarding switched on.
 */
export async function dockerLikeHost(lab: Lab): Promise<import('../../src/index.js').Wan> {
  const [wan] = await Promise.all([lab.wan(), lab.host.forwarding(true)]);
  return wan;
}
