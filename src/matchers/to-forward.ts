/** `expect(ns).toForward({ ipv6? })`: IP forwarding is on (`net.ipv4.ip_forward`, `net.ipv6.conf.all.forwarding`). */
import { checkOptions, describe, hint, receivedNetns, type MatcherContext, type MatcherResult } from './format.js';

export async function toForward(this: MatcherContext, received: unknown, options?: { ipv6?: boolean }): Promise<MatcherResult> {
  const ns = receivedNetns(received, 'toForward');
  const opts = checkOptions<{ ipv6?: boolean }>(options, 'toForward', { ipv6: 'boolean' });
  const key = opts.ipv6 ? 'net.ipv6.conf.all.forwarding' : 'net.ipv4.ip_forward';
  const value = await ns.readSysctl(key);
  const pass = value === '1';
  const args = options ? describe(options) : '';
  return {
    pass,
    actual: `${key}=${value}`,
    expected: `${key}=1`,
    message: () =>
      pass
        ? `${hint(ns, 'toForward', true, args)}\n\n${ns.name} forwards: ${key}=1`
        : `${hint(ns, 'toForward', false, args)}\n\n${ns.name} does not forward: ${key}=${value}${this.audience === 'learner' ? '' : ` (turn it on with \`sysctl -w ${key}=1\`)`}`,
  };
}
