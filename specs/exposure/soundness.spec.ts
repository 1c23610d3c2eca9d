// Issue 30, soundness of exposure sweeps: generated firewalls (specs/verdicts/soundness-harness.ts, exposureCase), each
// swept over every port and checked against its own rules and, for a sample of ports, against an independent probe
// (socat to the oracle's listener, bench/oracle/truth.ts). A port reported closed that is open is a false pass of
// `toReachOnly` / `.not.toReachAny`: the only acceptable number is 0. NETSPEC_EXPOSURE_CASES sets the number of cases.
import { afterAll, expect, test } from '../../src/vitest.js';
import { exposureCase, figures, tryExposure } from '../verdicts/soundness-harness.js';

// seeds 30-37 cover TCP and UDP on the target's input, the router's forward and a DNAT on the router
const CASES = Number(process.env.NETSPEC_EXPOSURE_CASES ?? 8);
const SEED = Number(process.env.NETSPEC_EXPOSURE_SEED ?? 30);

test.concurrent.for(Array.from({ length: CASES }, (_, i) => SEED + i))('generated firewall, seed %i: the sweep agrees with the rules and with an independent probe', { timeout: 120_000 }, async (seed, { lab }) => {
  const c = exposureCase(seed);
  const f = await tryExposure(lab, c);
  if (!f) return; // no verdict (a ProbeError): counted, never a pass
  const where = `seed ${seed} (${c.protocol} on ${c.where}, accepted ${c.accepted.length} ports, the range ${c.range.join('-')}, rejected ${c.rejected.join(', ')})`;
  // no false pass, against the rules and against the independent probe; no false fail either
  expect({ where, missed: f.missed, missedByProbe: f.missedByProbe }).toEqual({ where, missed: [], missedByProbe: [] });
  expect({ where, extra: f.extra, extraByProbe: f.extraByProbe }).toEqual({ where, extra: [], extraByProbe: [] });
  // the oracle itself agrees with the rules (else the comparison proves nothing)
  expect({ where, oracleDisagrees: f.oracleDisagrees }).toEqual({ where, oracleDisagrees: [] });
  expect(f.sampled.length).toBeGreaterThan(5);
});

// the cases run concurrently (the labs project): the tally once they are all done
afterAll(() => figures('soundness-exposure.json'));
