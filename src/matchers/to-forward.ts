/**
 * `expect(ns).toForward({ ipv6? })`: the namespace forwards IP packets. IPv6: `net.ipv6.conf.all.forwarding`. IPv4
 * forwards a packet by the setting of the interface it came in on (`net.ipv4.conf.IF.forwarding`; `net.ipv4.ip_forward`
 * is `conf.all`'s and sets every interface's only when written): so with `ip_forward` 0 a namespace whose interface has
 * its own forwarding on still forwards what comes in there, and `.not.toForward()` must not pass on it.
 */
import { parseProcSys } from '../parse/proc.js';
import { checkOptions, describe, hint, receivedNetns, type MatcherContext, type MatcherResult } from './format.js';

export async function toForward(this: MatcherContext, received: unknown, options?: { ipv6?: boolean }): Promise<MatcherResult> {
  const ns = receivedNetns(received, 'toForward');
  const opts = checkOptions<{ ipv6?: boolean }>(options, 'toForward', { ipv6: 'boolean' });
  const key = opts.ipv6 ? 'net.ipv6.conf.all.forwarding' : 'net.ipv4.ip_forward';
  const value = await ns.readSysctl(key);
  // IPv4 with ip_forward 0: every interface's own setting (one grep of /proc/sys/net/ipv4/conf/*/forwarding)
  const byInterface: string[] = [];
  if (!opts.ipv6 && value !== '1') {
    const r = await ns.exec('grep', ['-rs', '--include=forwarding', '', '/proc/sys/net/ipv4/conf'], { reject: false, intent: 'read every interface\'s net.ipv4.conf.IF.forwarding' });
    for (const [path, v] of parseProcSys(r.stdout)) {
      const name = /^net\/ipv4\/conf\/(.+)\/forwarding$/.exec(path)?.[1];
      if (name && name !== 'all' && name !== 'default' && v === '1') byInterface.push(name);
    }
  }
  const pass = value === '1' || byInterface.length > 0;
  const args = options ? describe(options) : '';
  const own = byInterface.length ? `${key}=0, but forwarding is on for what comes in on ${byInterface.join(', ')} (net.ipv4.conf.IF.forwarding=1: IPv4 forwards by the incoming interface's setting)` : `${key}=1`;
  return {
    pass,
    actual: pass ? own : `${key}=${value}`,
    expected: `${key}=1`,
    message: () =>
      pass
        ? `${hint(ns, 'toForward', true, args)}\n\n${ns.name} forwards: ${own}`
        : `${hint(ns, 'toForward', false, args)}\n\n${ns.name} does not forward: ${key}=${value}${opts.ipv6 ? '' : ' and no interface\'s own forwarding is on'}${this.audience === 'learner' ? '' : ` (turn it on with \`sysctl -w ${key}=1\`)`}`,
  };
}
