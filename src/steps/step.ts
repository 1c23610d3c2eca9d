/** Steps (what src/batch.ts runs) and the shape every step builder returns: a Step without its target, which the caller adds. */
import { InvalidInputError } from '../errors.js';

/** `ip6`: `ip -6 -batch` (a command whose family its words cannot say, such as an IPv6 `ip rule` without addresses). */
export type StepKind = 'ip' | 'ip6' | 'tc' | 'bridge' | 'sysctl' | 'iptables' | 'ip6tables';

export interface Step {
  /** `host` or a namespace name. */
  readonly target: string;
  readonly kind: StepKind;
  /** ip / tc / bridge: the words after `ip` / `tc` / `bridge`; sysctl: `key=value`; iptables: the arguments after `iptables`. */
  readonly words: readonly string[];
  readonly intent: string;
  /** Run only after every step queued before it has run. */
  readonly barrier?: boolean;
}

/** A step not yet placed in a namespace. */
export type StepIn = Omit<Step, 'target'>;

/**
 * A step builder's options: an object (else an InvalidInputError for "WHAT options", saying `example`) whose keys are
 * all `known` (else an InvalidInputError for "WHAT option" naming the key and what `who` takes).
 */
export function checkStepOptions(options: unknown, what: string, known: readonly string[], who: string, example?: string): Record<string, unknown> {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new InvalidInputError(`${what} options`, options, example ?? `expected an object with some of: ${known.join(', ')}`);
  }
  for (const key of Object.keys(options)) if (!known.includes(key)) throw new InvalidInputError(`${what} option`, key, `unknown option; ${who} takes ${known.join(', ')}`);
  return options as Record<string, unknown>;
}

/** Place a step in `target` (`host` or a namespace name). */
export function at(target: string, step: StepIn): Step {
  return { ...step, target };
}
