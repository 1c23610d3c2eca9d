import type { Lab } from '../../src/index.js';
import { tutorialNetwork } from '../../fixtures/index.js';

/** The failure of an assertion that must fail, as text (throws if it passed). */
export async function failureOf(assertion: Promise<unknown>): Promise<string> {
  try {
    await assertion;
  } catch (error) {
    return String((error as Error).message ?? error);
  }
  throw new Error('expected the assertion to fail, but it passed');
}

/** The tutorial's network, complete (red .1, blue .2, host .3, NAT to the wan). */
export const tutorial = (lab: Lab) => tutorialNetwork(lab);
