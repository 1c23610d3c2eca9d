/** A lab's configuration as comparable text: namespaces, links, addresses, routes and rules (not counters or neighbors). */
import type { Lab } from '../../src/index.js';
import { readLabState } from '../../src/state.js';

export async function labSnapshot(lab: Lab): Promise<Record<string, string[]>> {
  const states = await readLabState(lab);
  return Object.fromEntries(
    states.map((s) => [
      s.name,
      [
        // admin state, not operstate (a bridge's operstate follows its ports, asynchronously)
        ...s.links.map((l) => `link ${l.ifname} ${l.flags.includes('UP') ? 'up' : 'down'} ${l.master ?? ''}`),
        ...s.addresses.flatMap((l) => (l.addr_info ?? []).filter((a) => a.scope !== 'link').map((a) => `addr ${l.ifname} ${a.local}/${a.prefixlen}`)),
        ...s.routes.map((r) => `route ${r.dst} ${r.gateway ?? ''} ${r.dev ?? ''}`),
        ...s.iptables.split('\n').filter((x) => x && !x.startsWith('#')).map((x) => `ipt ${x.replace(/\[\d+:\d+\]/g, '')}`),
        `forwarding ${s.forwarding.ipv4} ${s.forwarding.ipv6}`,
      ].sort(),
    ]),
  );
}
