// The soundness harness: "not reached" asked of targets that ARE reachable, many times, under adverse conditions.
// Every "not reached" verdict there is a false pass of `.not.toReach` / `toHaveReachability({…: false})`; the only
// acceptable number is 0. A probe that cannot decide (starved of CPU) must throw, never answer: counted apart.
// False fails (a positive probe that missed a reachable target) are counted and printed, not hidden.
//
// Conditions: the CPU saturated (a busy loop per core, ended by PID) with several labs probing at once; and slow
// answers (this kernel has no netem: a user-space echo answering ICMP 150–500 ms late with the kernel's echo off, and a
// UDP server that waits as long before it answers, in the same process). NETSPEC_SOUNDNESS_TRIES sets the tries per case (default 8).
import { describe, expect, test } from '../../src/vitest.js';
import { createLab } from '../../src/index.js';
import { saturate } from './helpers.js';
import { CASES, dualStack, figures, tallies, TRIES, tryCase, tryMesh } from './soundness-harness.js';

// This half saturates every core on purpose: it runs alone, after every other file (vitest.config.ts, SERIAL); the
// slow-answers half is specs/verdicts/soundness-slow.spec.ts.
describe('soundness: "not reached" is never said of a reachable target', () => {
  test('the CPU saturated, three labs probing at once', async () => {
    const labs = await Promise.all([createLab(), createLab(), createLab()]);
    const load = saturate();
    try {
      await Promise.all(
        labs.map(async (lab) => {
          const { red, blue } = await dualStack(lab);
          for (const c of CASES) await tryCase('saturated', red, c, Math.ceil(TRIES / 3));
          await tryMesh('saturated', lab, red, blue, Math.ceil(TRIES / 3));
        }),
      );
    } finally {
      load.stop();
      await Promise.all(labs.map((l) => l.dispose()));
    }
    for (const [name, t] of tallies) if (name.startsWith('saturated')) expect({ name, falsePasses: t.falsePasses }).toEqual({ name, falsePasses: 0 });
  }, 600_000);

  test('figures', () => figures('soundness-saturated.json'));
});
