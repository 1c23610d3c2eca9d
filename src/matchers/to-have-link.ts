/** `expect(ns).toHaveLink(name, { state?, master?, type? })`, e.g. a veth enslaved to a bridge and UP. */
import { checkIfname } from '../names.js';
import { InvalidInputError } from '../errors.js';
import { bullet, checkOptions, describe, hint, poll, receivedNetns, type MatcherContext, type MatcherResult } from './format.js';

export interface ToHaveLinkOptions {
  /** Operational state: `UP`, `DOWN`, `UNKNOWN`, `LOWERLAYERDOWN`… (`UP` also accepts a link whose flags say UP and LOWER_UP). */
  state?: string;
  master?: string;
  /** `veth`, `bridge`, … (the link's kind). */
  type?: string;
}

export async function toHaveLink(this: MatcherContext, received: unknown, name: unknown, options?: ToHaveLinkOptions): Promise<MatcherResult> {
  const ns = receivedNetns(received, 'toHaveLink');
  const ifname = checkIfname(name, 'link name');
  const opts = checkOptions<ToHaveLinkOptions>(options, 'toHaveLink', { state: 'string', master: 'string', type: 'string' });
  if (opts.state !== undefined && !/^[A-Z_]+$/.test(opts.state)) throw new InvalidInputError('state', opts.state, 'expected an operstate in capitals, e.g. "UP" or "DOWN"');
  const problems: string[] = [];
  const check = (links: Awaited<ReturnType<typeof ns.links>>): string[] => {
    const out: string[] = [];
    const link = links.find((l) => l.ifname === ifname);
    if (!link) return [`there is no link called ${ifname}`];
    const kind = link.linkinfo?.info_kind ?? link.link_type;
    const up = link.operstate === 'UP' || (link.operstate === 'UNKNOWN' && link.flags.includes('UP') && link.flags.includes('LOWER_UP'));
    const state = opts.state === 'UP' && up ? 'UP' : link.operstate;
    if (opts.state !== undefined && state !== opts.state) out.push(`its state is ${link.operstate} (flags ${link.flags.join(',')}), not ${opts.state}`);
    if (opts.master !== undefined && link.master !== opts.master) out.push(link.master ? `its master is ${link.master}, not ${opts.master}` : `it has no master (not enslaved to ${opts.master})`);
    if (opts.type !== undefined && kind !== opts.type) out.push(`its type is ${kind}, not ${opts.type}`);
    return out;
  };
  // a link's operational state follows its carrier a moment after `up`: a positive assertion waits briefly for it
  const links = this.isNot ? await ns.links() : await poll(() => ns.links(), (l) => check(l).length === 0, 1000);
  const link = links.find((l) => l.ifname === ifname);
  problems.push(...check(links));
  const pass = problems.length === 0;
  const args = describe(name) + (options ? `, ${describe(options)}` : '');
  const row = (l: (typeof links)[0]) => `${l.ifname} ${l.linkinfo?.info_kind ?? l.link_type} ${l.operstate}${l.master ? ` master ${l.master}` : ''}`;
  return {
    pass,
    actual: link ? row(link) : 'absent',
    expected: { name: ifname, ...opts },
    message: () =>
      pass
        ? `${hint(ns, 'toHaveLink', true, args)}\n\n${ns.name} has ${link ? row(link) : ifname}`
        : `${hint(ns, 'toHaveLink', false, args)}\n\n${ns.name}: ${problems.join('; ')}\n\nlinks (ip -j -d link show):\n${bullet(links.map(row))}`,
  };
}
