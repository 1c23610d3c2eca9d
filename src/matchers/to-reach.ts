/** `expect(ns).toReach(target, options?)`: real packets from inside `ns`; a failure says why, hop by hop. */
import { canonical, parseAddress } from '../ip.js';
import { diagnose, describeRoute } from '../diagnose.js';
import { reportFailure } from '../report.js';
import { probe, resolveTarget, type Protocol } from '../probe.js';
import { bullet, checkOptions, describe, hint, receivedNetns, type MatcherContext, type MatcherResult } from './format.js';

export interface ToReachOptions {
  /** `icmp` (default without a port), `tcp` (default with a port) or `udp`. */
  protocol?: Protocol;
  port?: number;
  /** Source address or interface. */
  from?: string;
  /** How long a positive assertion keeps trying, in ms (default 3000: enough for ARP/ND resolution). */
  timeout?: number;
  /** How long `.not` watches for any success, in ms (default 400); it never decides earlier. */
  window?: number;
  /** The source address the target must see (proves NAT). Uses a responder in the target's namespace. */
  seenAs?: string;
  /** Start a short-lived responder in the target's namespace for TCP/UDP when nothing listens there (default true). */
  responder?: boolean;
}

export const DEFAULT_REACH_TIMEOUT_MS = 3000;
export const DEFAULT_NOT_WINDOW_MS = 400;

export async function toReach(this: MatcherContext, received: unknown, target: unknown, options?: ToReachOptions): Promise<MatcherResult> {
  const ns = receivedNetns(received, 'toReach');
  const opts = checkOptions<ToReachOptions>(options, 'toReach', {
    protocol: 'string',
    port: 'number',
    from: 'string',
    timeout: 'number',
    window: 'number',
    seenAs: 'string',
    responder: 'boolean',
  });
  const seenAs = opts.seenAs === undefined ? undefined : parseAddress(opts.seenAs, 'seenAs').address;
  const t = await resolveTarget(ns, target, { protocol: opts.protocol, port: opts.port });
  await ns.lab.checkTarget?.(t.address);
  const label = `${t.address}${t.port ? `:${t.port}` : ''} (${t.protocol}${seenAs ? `, seen as ${seenAs}` : ''})`;
  const args = describe(target) + (options ? `, ${describe(options)}` : '');
  const durationMs = this.isNot ? (opts.window ?? DEFAULT_NOT_WINDOW_MS) : (opts.timeout ?? DEFAULT_REACH_TIMEOUT_MS);
  const outcome = await probe(ns, t, { durationMs, from: opts.from, seenAs: seenAs !== undefined, responder: opts.responder });
  const seenOk = seenAs === undefined || (outcome.seenAs !== undefined && canonical(outcome.seenAs) === canonical(seenAs));
  const pass = outcome.reached && seenOk;

  if (pass) {
    // only shown for a failing `.not`: say what did reach, and how
    const route = await ns.routeGet(t.address);
    const how = route ? describeRoute(route) : 'an unknown route';
    return {
      pass,
      actual: 'REACHED',
      expected: 'not reached',
      message: () =>
        `${hint(ns, 'toReach', true, args)}\n\n${ns.name} reached ${label} within ${Math.round(outcome.elapsedMs)} ms (REACHED); route: ${how}${outcome.seenAs ? `; the target saw the source as ${outcome.seenAs}` : ''}\n\ncommands:\n${bullet(outcome.log)}`,
    };
  }
  if (this.isNot) {
    return { pass, message: () => `${hint(ns, 'toReach', false, args)}\n\n${ns.name} did not reach ${label} within ${durationMs} ms`, actual: 'not reached', expected: 'REACHED' };
  }
  if (outcome.reached && !seenOk) {
    return {
      pass,
      actual: outcome.seenAs ?? 'unknown',
      expected: seenAs,
      message: () =>
        `${hint(ns, 'toReach', false, args)}\n\n${ns.name} reached ${t.address}, but the target saw the source as ${outcome.seenAs ?? '(nothing: no responder could run there)'}, not ${seenAs}${outcome.seenAs && outcome.seenAs !== seenAs ? ' (is MASQUERADE missing or on another router?)' : ''}\n\ncommands:\n${bullet(outcome.log)}`,
    };
  }
  const d = await diagnose(ns, t, outcome, { from: opts.from, responder: opts.responder });
  const report = await reportFailure(ns.lab, { source: ns.name, target: t.address, disposition: d.disposition, path: d.path, stoppedAt: d.stoppedAt }, d.states).catch(() => undefined);
  const files = report ? `\n\nthe lab's state: ${report.files.dump}\nthe picture: ${report.files.svg} (Mermaid: ${report.files.mermaid})` : '';
  return {
    pass,
    actual: d.disposition,
    expected: 'REACHED',
    message: () =>
      `${hint(ns, 'toReach', false, args)}\n\n${ns.name} cannot reach ${label} (${d.disposition}) within ${durationMs} ms:\n${bullet(d.hops.map((h, i) => `${i + 1}. ${h}`))}\n\ncommands:\n${bullet(d.log)}${files}`,
  };
}
