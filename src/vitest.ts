/**
 * `netspec/vitest`: Vitest's `test` with a fresh, private `lab` per test (disposed after it on pass, failure or
 * timeout), and `expect` with netspec's matchers registered.
 */
import { test as base, expect } from 'vitest';
import { createLab, type Lab, type LabOptions } from './lab.js';

export interface NetspecFixtures {
  /** A fresh, private network lab for this test; the kernel frees everything in it when the test ends. */
  lab: Lab;
  /** Options for the `lab` fixture; override with `test.scoped({ labOptions: {...} })` or `test.extend`. */
  labOptions: LabOptions;
}

export const test = base.extend<NetspecFixtures>({
  labOptions: [{}, { injected: true }],
  lab: async ({ labOptions }, use) => {
    const lab = await createLab(labOptions);
    try {
      await use(lab);
    } finally {
      await lab.dispose();
    }
  },
});

export const it = test;
export { expect };
export { describe, beforeAll, afterAll, beforeEach, afterEach, vi } from 'vitest';
export type { Lab } from './lab.js';
