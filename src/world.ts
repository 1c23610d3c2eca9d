/**
 * What a namespace handle needs from the world it lives in: a lab (which netspec built and owns) or an attachment to
 * namespaces that already exist on the machine (read-only). Matchers, probes and diagnoses work on either.
 */
import type { Step } from './batch.js';
import type { RunOptions, RunResult } from './exec.js';
import type { Netns } from './netns.js';

declare module './netns.js' {
  // a namespace handle's `lab` is a whole World (merged here: World names Netns, so netns.ts cannot import this file)
  interface NetnsWorld extends World {}
}

export interface World {
  readonly id: number | string;
  readonly alive: boolean;
  /** The namespace that routes between the others: the lab's host, or for an attachment the host it was given. */
  readonly host: Netns;
  /** Attach mode: never changes anything, and probes only its own addresses unless told otherwise. */
  readonly readOnly: boolean;
  /** TCP/UDP probes may start short-lived responders in its namespaces. */
  readonly responders: boolean;
  assertAlive(): void;
  run(target: string, argv: readonly string[], options: RunOptions): Promise<RunResult>;
  apply(steps: readonly Step[]): Promise<void>;
  /** Names of the world's namespaces other than its host. */
  namespaces(): string[];
  get(name: string): Netns;
  /** The argv prefix that enters a namespace of this world. */
  enter(target: string): string[];
  /** The identity of a namespace (a lab: the inode of its namespace file), to tell a namespace made again under the same name. */
  identityOf?(name: string): number | undefined;
  /** Throws unless probing `address` from this world is allowed (attach mode's guard). */
  checkTarget?(address: string): Promise<void>;
}
