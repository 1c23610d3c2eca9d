/** The shape every step builder returns: a Step without its target, which the caller (a handle, a builder) adds. */
import type { Step } from '../batch.js';

/** A step not yet placed in a namespace. */
export type StepIn = Omit<Step, 'target'>;

/** Place a step in `target` (`host` or a namespace name). */
export function at(target: string, step: StepIn): Step {
  return { ...step, target };
}
