// Two namespaces on links of their own to the lab's host, which routes between them: red on lan1, blue on lan2 (10.0.1.0/24
// and 10.0.2.0/24, or fd01::/64 and fd02::/64; the host .1 / ::1 on each). Argument arrays through the lab's API. The
// specs that need it set the host's forwarding (and anything else they test) themselves.
import type { Lab, Netns } from '../../src/index.js';

export async function routedPair(lab: Lab, options: { family?: 4 | 6; red?: string; blue?: string; defaultRoutes?: boolean } = {}): Promise<{ red: Netns; blue: Netns }> {
  const v6 = options.family === 6;
  const len = v6 ? 64 : 24;
  const gateways = v6 ? ['fd01::1', 'fd02::1'] : ['10.0.1.1', '10.0.2.1'];
  const own = [options.red ?? (v6 ? 'fd01::2/64' : '10.0.1.2/24'), options.blue ?? (v6 ? 'fd02::2/64' : '10.0.2.2/24')];
  const nodad = v6 ? ['nodad'] : [];
  const ends: Netns[] = [];
  for (const [i, name] of (['red', 'blue'] as const).entries()) {
    const ns = await lab.netns(name);
    const lan = `lan${i + 1}`;
    await lab.host.exec('ip', ['link', 'add', lan, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', name]);
    await lab.host.exec('ip', ['addr', 'add', `${gateways[i]}/${len}`, 'dev', lan, ...nodad]);
    await lab.host.exec('ip', ['link', 'set', lan, 'up']);
    await ns.exec('ip', ['addr', 'add', own[i]!, 'dev', 'eth0', ...nodad]);
    await ns.exec('ip', ['link', 'set', 'eth0', 'up']);
    if (options.defaultRoutes !== false) await ns.exec('ip', [...(v6 ? ['-6'] : []), 'route', 'add', 'default', 'via', gateways[i]!]);
    ends.push(ns);
  }
  return { red: ends[0]!, blue: ends[1]! };
}
