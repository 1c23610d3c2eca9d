/**
 * The namespace scope a handle lives in: a lab (which netspec built and owns) or an attachment to namespaces that
 * already exist on the machine (read-only). Matchers, probes and diagnoses work on either, through this interface
 * alone: each implementation owns how it runs a command in every namespace and what it allows (traces, witnesses,
 * responders, targets), so no caller asks which kind it has (ARCHITECTURE.md, "Layers").
 */
import type { Step } from './batch.js';
import type { RunOptions, RunResult } from './exec.js';
import type { Netns } from './netns.js';

declare module './netns.js' {
  // a namespace handle's `lab` is a whole World (merged here: World names Netns, so netns.ts cannot import this file)
  interface NetnsWorld extends World {}
}

/** Output of one command run in every namespace of a scope but its host. */
export interface EveryResult {
  /** Each namespace's standard output, by name. */
  readonly outputs: Map<string, string>;
  /** What failed, one line each (`red: nft: …`, or the whole run's exit status and first stderr line). */
  readonly failures: string[];
}

export interface World {
  readonly id: number | string;
  readonly alive: boolean;
  /** The namespace that routes between the others: the lab's host, or for an attachment the host it was given. */
  readonly host: Netns;
  assertAlive(): void;
  run(target: string, argv: readonly string[], options: RunOptions): Promise<RunResult>;
  apply(steps: readonly Step[]): Promise<void>;
  /** Names of the world's namespaces other than its host. */
  namespaces(): string[];
  get(name: string): Netns;
  /** The argv prefix that enters a namespace of this world. */
  enter(target: string): string[];
  /**
   * Run `argv` in every namespace but the host: a lab in one process (`ip -all netns exec` in its host), an attachment
   * namespace by namespace. How state, addresses and traces are read everywhere.
   */
  inEveryNamespace(argv: readonly string[], options: RunOptions): Promise<EveryResult>;
  /** Why netspec may not add its own nftables tables here (kernel traces, seenAs witnesses), or undefined if it may. */
  refusesTables(): string | undefined;
  /** Why TCP/UDP probes may not start short-lived responders here, or undefined if they may. */
  refusesResponders(): string | undefined;
  /** Throws unless probing `address` from this world is allowed (an attachment probes only its own namespaces). */
  checkTarget(address: string): Promise<void>;
  /** The identity of a namespace (a lab: the inode of its namespace file), to tell a namespace made again under the same name. */
  identityOf?(name: string): number | undefined;
}

/** The same interface under the name issue 11 gives it: the scope of namespaces a handle lives in. */
export type Scope = World;
