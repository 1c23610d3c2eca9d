/** `expect(ns).toHaveAddress(cidr, { dev? })` */
import { canonical, parseCidr } from '../address.js';
import { checkIfname } from '../names.js';
import { bullet, checkOptions, describe, hint, receivedNetns, type MatcherContext, type MatcherResult } from './format.js';

export async function toHaveAddress(this: MatcherContext, received: unknown, cidr: unknown, options?: { dev?: string }): Promise<MatcherResult> {
  const ns = receivedNetns(received, 'toHaveAddress');
  const c = parseCidr(cidr, 'address', false);
  const opts = checkOptions<{ dev?: string }>(options, 'toHaveAddress', { dev: 'string' });
  if (opts.dev !== undefined) checkIfname(opts.dev, 'dev');
  const exactPrefix = typeof cidr === 'string' && cidr.includes('/');
  const all = (await ns.addresses()).flatMap((l) => (l.addr_info ?? []).map((a) => ({ dev: l.ifname, text: `${a.local}/${a.prefixlen}`, a })));
  const hit = all.find(
    (x) => canonical(x.a.local) === canonical(c.address) && (!exactPrefix || x.a.prefixlen === c.prefixLength) && (opts.dev === undefined || x.dev === opts.dev),
  );
  const pass = hit !== undefined;
  const args = describe(cidr) + (options ? `, ${describe(options)}` : '');
  return {
    pass,
    actual: all.map((x) => `${x.text} dev ${x.dev}`),
    expected: `${c.text}${opts.dev ? ` dev ${opts.dev}` : ''}`,
    message: () =>
      pass
        ? `${hint(ns, 'toHaveAddress', true, args)}\n\n${ns.name} has ${hit!.text} on ${hit!.dev}`
        : `${hint(ns, 'toHaveAddress', false, args)}\n\n${ns.name} does not have ${c.text}${opts.dev ? ` on ${opts.dev}` : ''}; its addresses:\n${bullet(all.map((x) => `${x.text} dev ${x.dev}`)) || '  (none)'}`,
  };
}
