/**
 * `expect(ns).toForward({ ipv6? })`: the namespace forwards IP packets. IPv4 forwards a packet by the setting of the
 * interface it came in on (`net.ipv4.conf.IF.forwarding`; `net.ipv4.ip_forward` is `conf.all`'s and sets every
 * interface's only when written); IPv6 when `net.ipv6.conf.all.forwarding` is on, or the incoming interface's
 * `force_forwarding` (kernels from 6.17). So with the global switch off, a namespace whose interface has its own on
 * still forwards what comes in there, and `.not.toForward()` must not pass on it.
 */
import { parseProcSys } from '../parse/proc.js';
import type { Netns } from '../netns.js';
import { checkOptions, describe, hint, receivedNetns, type MatcherContext, type MatcherResult } from './format.js';

export async function toForward(this: MatcherContext, received: unknown, options?: { ipv6?: boolean }): Promise<MatcherResult> {
  const ns = receivedNetns(received, 'toForward');
  const opts = checkOptions<{ ipv6?: boolean }>(options, 'toForward', { ipv6: 'boolean' });
  const { key, value, knob, family, byInterface } = await forwardingOf(ns, opts.ipv6 ? 6 : 4);
  const pass = value === '1' || byInterface.length > 0;
  const args = options ? describe(options) : '';
  const own = byInterface.length
    ? `${key}=0, but forwarding is on for what comes in on ${byInterface.join(', ')} (net.${family}.conf.IF.${knob}=1: the kernel forwards by the incoming interface's setting)`
    : `${key}=1`;
  return {
    pass,
    actual: pass ? own : `${key}=${value}`,
    expected: `${key}=1`,
    message: () =>
      pass
        ? `${hint(ns, 'toForward', true, args)}\n\n${ns.name} forwards: ${own}`
        : `${hint(ns, 'toForward', false, args)}\n\n${ns.name} does not forward: ${key}=${value} and no interface's own ${knob} is on${this.audience === 'learner' ? '' : ` (turn it on with \`sysctl -w ${key}=1\`)`}`,
  };
}

/**
 * How a namespace forwards: the global switch (`net.ipv4.ip_forward`, `net.ipv6.conf.all.forwarding`) and, when it is
 * off, the interfaces whose own setting is on (IPv4 `conf.IF.forwarding`, IPv6 `conf.IF.force_forwarding`): one read
 * of the switch, one grep of /proc/sys/net/ipvN/conf. What `toForward` decides on, and what the course names.
 */
export async function forwardingOf(ns: Netns, family: 4 | 6): Promise<{ key: string; value: string; knob: string; family: 'ipv4' | 'ipv6'; byInterface: string[] }> {
  const key = family === 6 ? 'net.ipv6.conf.all.forwarding' : 'net.ipv4.ip_forward';
  const knob = family === 6 ? 'force_forwarding' : 'forwarding';
  const dir = family === 6 ? 'ipv6' : 'ipv4';
  const value = await ns.readSysctl(key);
  const byInterface: string[] = [];
  if (value !== '1') {
    const r = await ns.exec('grep', ['-rs', `--include=${knob}`, '', `/proc/sys/net/${dir}/conf`], { reject: false, intent: `read every interface's net.${dir}.conf.IF.${knob}` });
    for (const [path, v] of parseProcSys(r.stdout)) {
      const name = new RegExp(`^net/${dir}/conf/(.+)/${knob}$`).exec(path)?.[1];
      if (name && name !== 'all' && name !== 'default' && v === '1') byInterface.push(name);
    }
  }
  return { key, value, knob, family: dir, byInterface };
}
