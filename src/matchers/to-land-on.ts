/**
 * `expect(source).toLandOn(ns, target, options?)`: a TCP/UDP probe from `source` to `target` is delivered in namespace
 * `ns` (after every NAT on the way), as netspec's landing watch observes it (src/landing.ts: a table of netspec's own
 * in every namespace records the probe's own packets at input). Never read from the rules: where a DNAT sent the probe
 * is what the kernel did with its packets. `delivered` also pins the address and port they arrived with there.
 * `.not` passes when the probe's packets were delivered elsewhere or nowhere during the whole timeout.
 */
import { InvalidInputError, ProbeError } from '../errors.js';
import { canonical, hostPort, parseProbeAddress } from '../address.js';
import { probe, resolveTarget, type Protocol } from '../probe.js';
import { Netns } from '../netns.js';
import { checkOptions, commands, describe, hint, receivedNetns, type MatcherContext, type MatcherResult } from './format.js';

export interface ToLandOnOptions {
  /** `tcp` (default) or `udp`. */
  protocol?: Exclude<Protocol, 'icmp'>;
  /** The port, when the target is an address. */
  port?: number;
  /** The destination the probe's packets must arrive with in `ns` (after DNAT): `{ address?, port? }`. */
  delivered?: { address?: string; port?: number };
  /** Start netspec's responder where the probe lands when nothing listens there (default true). */
  responder?: boolean;
  /** How long the probe tries, in ms (default 3000). */
  timeout?: number;
}

export async function toLandOn(this: MatcherContext, received: unknown, where: unknown, target: unknown, options?: ToLandOnOptions): Promise<MatcherResult> {
  const source = receivedNetns(received, 'toLandOn');
  if (!(where instanceof Netns)) throw new InvalidInputError('toLandOn namespace', describe(where), 'expected the namespace handle where the probe must land: expect(wan).toLandOn(web, { address, port })');
  if (where.lab !== source.lab) throw new InvalidInputError('toLandOn namespace', String(where), `it belongs to ${where.lab}, the source to ${source.lab}`);
  const opts = checkOptions<ToLandOnOptions>(options, 'toLandOn', { protocol: 'string', port: 'number', delivered: 'object', responder: 'boolean', timeout: 'number' });
  if (opts.protocol !== undefined && opts.protocol !== 'tcp' && opts.protocol !== 'udp') {
    throw new InvalidInputError('toLandOn option protocol', opts.protocol, 'expected "tcp" or "udp": the landing of a TCP/UDP probe is observed by its source port (an ICMP landing: toReach(target, { seenAs }))');
  }
  let delivered: { address?: string; port?: number } | undefined;
  if (opts.delivered !== undefined) {
    const d = opts.delivered as unknown;
    if (d === null || typeof d !== 'object' || Array.isArray(d)) throw new InvalidInputError('toLandOn option delivered', d, 'expected { address?, port? }');
    for (const key of Object.keys(d)) if (key !== 'address' && key !== 'port') throw new InvalidInputError('toLandOn option delivered key', key, 'unknown key; delivered takes address, port');
    const dd = d as { address?: unknown; port?: unknown };
    if (dd.port !== undefined && (typeof dd.port !== 'number' || !Number.isInteger(dd.port) || dd.port < 1 || dd.port > 65535)) throw new InvalidInputError('toLandOn option delivered.port', dd.port, 'expected a whole number from 1 to 65535');
    delivered = { address: dd.address === undefined ? undefined : parseProbeAddress(dd.address, 'toLandOn option delivered.address').address, port: dd.port as number | undefined };
  }
  if (opts.timeout !== undefined && (opts.timeout <= 0 || opts.timeout > 3_600_000)) throw new InvalidInputError('toLandOn option timeout', opts.timeout, 'expected a number of milliseconds > 0 and at most an hour');
  const t = await resolveTarget(source, target, { protocol: opts.protocol ?? 'tcp', port: opts.port });
  await source.lab.checkTarget?.(t.address);
  const refused = source.lab.refusesTables();
  if (refused) throw new ProbeError(`${refused}: where the probe lands cannot be observed here (netspec's landing watch is a table of its own); no verdict`);
  const durationMs = opts.timeout ?? 3000;
  const outcome = await probe(source, t, { durationMs, until: 'success', responder: opts.responder, landing: true });
  const l = outcome.landing;
  const at = l ? `${l.ns ?? '(outside the lab)'} on ${hostPort(l.address, l.port)}${l.dnat ? ` (${l.dnat})` : ''}` : undefined;
  const inNs = l?.observed === true && l.ns === where.name;
  const addrOk = !delivered?.address || (l !== undefined && canonical(l.address) === delivered.address);
  const portOk = delivered?.port === undefined || l?.port === delivered.port;
  const pass = inNs && addrOk && portOk;
  const label = `${hostPort(t.address, t.port!)} (${t.protocol})`;
  const want = `${where.name}${delivered ? ` as ${delivered.address ?? '*'}:${delivered.port ?? '*'}` : ''}`;
  const args = `${where.name}, ${describe(target)}${options ? `, ${describe(options)}` : ''}`;
  const found = at ? `landed in ${at}` : `was delivered to no namespace of the lab within ${durationMs} ms (${outcome.sent} tr${outcome.sent === 1 ? 'y' : 'ies'}, netspec's landing watch in every namespace)`;
  return {
    pass,
    actual: at ?? 'nowhere',
    expected: want,
    message: () =>
      `${hint(source, 'toLandOn', this.isNot, args)}\n\n${source.name}'s probe to ${label} ${found}${pass ? '' : `, not in ${want}`}\n\ncommands:\n${commands(outcome.log)}`,
  };
}
