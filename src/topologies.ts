/** Ready-made topologies by name, for the CLI (`netspec shell tutorial`, `netspec graph bridge:12`). */
import { InvalidInputError } from './errors.js';
import type { Lab } from './lab.js';
import { bridgeNetwork, tutorialNetwork, vethPair } from '../fixtures/topologies.js';

export const TOPOLOGY_NAMES = ['tutorial', 'bridge:N', 'veth', 'empty'];

/** Build a named topology in `lab`; returns a one-paragraph description for the user. */
export async function buildNamed(lab: Lab, name = 'tutorial'): Promise<string> {
  if (name === 'tutorial') {
    await tutorialNetwork(lab);
    return 'the tutorial: red 192.168.15.1 and blue 192.168.15.2 on the bridge v-net-0, the host 192.168.15.3 as their gateway, forwarding and MASQUERADE on, and the wan, where 203.0.113.8 plays the tutorial\'s public DNS server';
  }
  const m = /^bridge:(\d{1,3})$/.exec(name);
  if (m) {
    const n = Number(m[1]);
    if (n < 1 || n > 250) throw new InvalidInputError('topology', name, 'bridge:N takes N from 1 to 250');
    await bridgeNetwork(lab, { names: Array.from({ length: n }, (_, i) => `ns${i + 1}`), prefix: '10.0.0.0/24', nat: true });
    return `${n} namespaces (ns1…ns${n}, 10.0.0.1…) on the bridge v-net-0, the host 10.0.0.${n + 1} as their gateway, NAT to the wan (203.0.113.8)`;
  }
  if (name === 'veth') {
    await vethPair(lab);
    return 'red 192.168.15.1 and blue 192.168.15.2 on one veth pair (the tutorial\'s 2.1)';
  }
  if (name === 'empty') return 'an empty lab: build it yourself (`ip netns add red`, …)';
  throw new InvalidInputError('topology', name, `expected one of ${TOPOLOGY_NAMES.join(', ')}`);
}
