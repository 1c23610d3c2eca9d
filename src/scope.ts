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
  // a namespace handle's `lab` is a whole Scope (merged here: Scope names Netns, so netns.ts cannot import this file)
  interface NetnsScope extends Scope {}
}

/** Output of one command run in every namespace of a scope but its host. */
export interface EveryResult {
  /** Each namespace's standard output, by name. */
  readonly outputs: Map<string, string>;
  /** What failed, one line each (`red: nft: …`, or the whole run's exit status and first stderr line). */
  readonly failures: string[];
}

export interface Scope {
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
   * Run `argv` in every namespace but the host: a lab through its lab runner (or one `ip -all netns exec` in its host), an attachment
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

/** @deprecated The old name of {@link Scope}. */
export type World = Scope;

// ───────────────────── running a command in every namespace: the two implementations ─────────────────────

/** A lab: one `ip -all netns exec` in the host; ip prints each namespace's output after a `netns: NAME` line. */
export async function everyLabNamespace(lab: Scope, argv: readonly string[], options: RunOptions): Promise<EveryResult> {
  if (lab.namespaces().length === 0) return { outputs: new Map(), failures: [] };
  const r = await lab.run('host', ['ip', '-all', 'netns', 'exec', ...argv], { reject: false, ...options, intent: `${options.intent} in every namespace` });
  const outputs = new Map<string, string>();
  for (const block of r.stdout.split(/^netns: /m).slice(1)) {
    const nl = block.indexOf('\n');
    outputs.set(block.slice(0, nl).trim(), block.slice(nl + 1));
  }
  const failures = r.exitCode === 0 ? [] : [`${argv[0]} exited ${r.exitCode} in some namespace: ${r.stderr.trim().split('\n')[0] ?? ''}`];
  return { outputs, failures };
}

/**
 * The command in each namespace, through the scope's own run: an attachment's (read-only), or a lab's through its lab
 * runner (one fork and exec a namespace, against `ip -all netns exec`'s fork, mount namespace and sysfs mount each).
 * At most `atOnce` at a time (a lab of a thousand namespaces starts no thousand processes at once).
 */
export async function eachNamespace(world: Scope, argv: readonly string[], options: RunOptions, atOnce = Infinity): Promise<EveryResult> {
  const outputs = new Map<string, string>();
  const failures: string[] = [];
  const names = world.namespaces();
  let next = 0;
  const worker = async () => {
    while (next < names.length) {
      const name = names[next++]!;
      const r = await world.run(name, argv, { reject: false, ...options });
      outputs.set(name, r.stdout);
      if (r.exitCode !== 0) failures.push(`${name}: ${argv[0]} exited ${r.exitCode}: ${r.stderr.trim().split('\n')[0] ?? ''}`);
    }
  };
  await Promise.all(Array.from({ length: Math.min(atOnce, names.length) }, worker));
  return { outputs, failures };
}
