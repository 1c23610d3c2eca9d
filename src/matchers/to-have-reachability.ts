/**
 * `expect(lab).toHaveReachability(expected)`: a whole mesh at once. `expected` is `'all'` (every ordered pair of the
 * lab's namespaces reaches) or `{ red: { blue: true, '203.0.113.8': false }, … }`.
 */
import { InvalidInputError, NotFoundError, ProbeError } from '../errors.js';
import { canonical, ipFamily, parseProbeAddress } from '../address.js';
import { Lab } from '../lab.js';
import { ExistingNamespaces } from '../attach.js';
import { ReachabilityMatrix, reachability, type PairResult } from '../reachability.js';
import { bullet, checkOptions, describe, type MatcherContext, type MatcherResult } from './format.js';

export type ReachabilityExpectation = 'all' | Record<string, Record<string, boolean>>;

export async function toHaveReachability(
  this: MatcherContext,
  received: unknown,
  expected: unknown,
  options?: { timeout?: number },
): Promise<MatcherResult> {
  if (!(received instanceof Lab) && !(received instanceof ExistingNamespaces)) throw new InvalidInputError('value given to expect() for toHaveReachability', describe(received), 'expected a lab: expect(lab).toHaveReachability(…)');
  const lab = received;
  lab.assertAlive();
  const opts = checkOptions<{ timeout?: number }>(options, 'toHaveReachability', { timeout: 'number' });
  let matrix: ReachabilityMatrix;
  let wanted: (p: PairResult) => boolean | undefined;
  if (expected === 'all') {
    matrix = await reachability(lab, undefined, { timeout: opts.timeout });
    wanted = () => true;
  } else if (expected !== null && typeof expected === 'object' && !Array.isArray(expected)) {
    const given = expected as Record<string, Record<string, boolean>>;
    const sources = Object.keys(given).map((n) => lab.get(n));
    const known = new Set(lab.namespaces().concat('host'));
    // targets as the matrix labels them: namespace names, or addresses in canonical form (so 'FD00:0::2' is fd00::2)
    const label = (to: string) => {
      if (known.has(to)) return to;
      // neither a namespace of the lab nor an address: a misspelt or deleted namespace, not a malformed address
      if (!ipFamily(to) && /^[A-Za-z_][\w.-]*$/.test(to)) throw new NotFoundError('network namespace', to, `a reachability target is a namespace of the lab or an address (namespaces now: ${[...known].join(', ')})`);
      return parseProbeAddress(to, 'reachability target').address;
    };
    const spec: Record<string, Record<string, boolean>> = {};
    // a target written two ways ('FD00::9', 'fd00::9') is one pair: two verdicts for it would leave only the later one checked
    const spelt: Record<string, Record<string, string>> = {};
    for (const [from, row] of Object.entries(given)) {
      if (row === null || typeof row !== 'object' || Array.isArray(row)) throw new InvalidInputError('reachability row', row, 'expected { target: true | false, … }');
      spec[from] = {};
      spelt[from] = {};
      for (const [to, v] of Object.entries(row)) {
        if (typeof v !== 'boolean') throw new InvalidInputError(`reachability ${from} → ${to}`, v, 'expected true or false');
        if (to === from) throw new InvalidInputError(`reachability ${from} → ${to}`, to, 'a namespace is not probed against itself; name another target');
        const key = label(to);
        if (spec[from][key] !== undefined && spec[from][key] !== v) {
          throw new InvalidInputError(`reachability ${from} → ${to}`, v, `${JSON.stringify(spelt[from][key])} and ${JSON.stringify(to)} are the same target (${key}), expected ${spec[from][key]} and ${v}; give it once`);
        }
        spec[from][key] = v;
        spelt[from][key] = to;
      }
    }
    const targetNames = [...new Set(Object.values(spec).flatMap((row) => Object.keys(row)))];
    if (targetNames.length === 0) throw new InvalidInputError('expected reachability', expected, 'no pair to check: give at least one { from: { to: true | false } }');
    const targets = targetNames.map((t) => (known.has(t) ? lab.get(t) : t));
    // an address target the source holds itself (loopback included) is answered inside the source: refused (issue 22)
    for (const [from, row] of Object.entries(spec)) {
      const addresses = Object.keys(row).filter((t) => !known.has(t));
      if (addresses.length === 0) continue;
      const own = new Set((await lab.get(from).addresses()).flatMap((l) => (l.addr_info ?? []).map((a) => canonical(a.local))));
      const held = addresses.find((a) => own.has(a) || (a.includes(':') ? a === '::1' : a.startsWith('127.')));
      if (held) throw new InvalidInputError(`reachability ${from} → ${spelt[from]![held]}`, spelt[from]![held], `${from} holds ${held} itself: a probe to it never leaves ${from}, so it proves nothing about the network; name an address of another namespace`);
    }
    matrix = await reachability(lab, sources, { targets, timeout: opts.timeout });
    wanted = (p) => spec[p.from]?.[p.to];
  } else {
    throw new InvalidInputError('expected reachability', expected, "expected 'all' or { from: { to: true | false } }");
  }
  const checked = matrix.pairs.filter((p) => wanted(p) !== undefined);
  if (checked.length === 0) throw new InvalidInputError('expected reachability', expected, 'no pair of the matrix matches it: nothing would be checked');
  const wrong = checked.filter((p) => wanted(p) !== p.reached);
  const pass = wrong.length === 0;
  // a target namespace with no global address gets no packet: "not reached" is then no evidence about its path (an
  // isolation check would pass because an address is missing), so a verdict that rests on such a pair is a ProbeError
  const unsent = (p: PairResult) => p.address === '(no address)';
  const resting = this.isNot && pass ? [] : this.isNot ? (wrong.every(unsent) ? wrong : []) : checked.filter((p) => unsent(p) && wanted(p) === false);
  if (resting.length) {
    throw new ProbeError(`no packet was sent for ${resting.map((p) => `${p.from} → ${p.to}`).join(', ')}: ${[...new Set(resting.map((p) => p.to))].join(', ')} has no global address of its own to probe, so "not reached" there is no evidence about the path, and no verdict; give the namespace an address, or name an address as the target`);
  }
  const line = (p: PairResult) =>
    `${p.from} → ${p.to} (${p.address}): ${p.reached ? 'REACHED' : p.disposition}, expected ${wanted(p) ? 'REACHED' : 'not reached'}${p.why ? `; ${p.why}` : ''}${p.hops && p.hops.length > 1 ? `\n${bullet(p.hops.map((h, i) => `${i + 1}. ${h}`), '      ')}` : ''}`;
  return {
    pass,
    actual: Object.fromEntries(checked.map((p) => [`${p.from} → ${p.to}`, p.reached])),
    expected: Object.fromEntries(checked.map((p) => [`${p.from} → ${p.to}`, wanted(p)])),
    message: () =>
      pass
        ? `expect(lab).not.toHaveReachability(${describe(expected)})\n\nall ${checked.length} pairs are as given:\n${matrix}`
        : `expect(lab).toHaveReachability(${describe(expected)})\n\n${wrong.length} of ${checked.length} pairs differ:\n${bullet(wrong.map(line))}\n\n${matrix}\n\n(use expect(source).toReach(target) on one pair for the hop-by-hop reason)`,
  };
}
