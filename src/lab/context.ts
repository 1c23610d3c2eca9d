/** What a builder (namespace, veth, bridge, wan) needs of its lab, and nothing more: builders never see `Lab`. */
import type { Batcher, Step } from '../batch.js';
import type { RunOptions, RunResult } from '../exec.js';
import type { Netns } from '../netns.js';
import type { Scope } from '../scope.js';
import type { Inventory } from './inventory.js';
import type { Lifeline } from './lifeline.js';

export interface BuildContext {
  /** The lab, as its namespace handles know it (`ns.lab`): for ownership checks and messages. */
  readonly world: Scope;
  /** The lab's host namespace. */
  readonly host: Netns;
  /** The names the lab has handed out. */
  readonly inventory: Inventory;
  readonly alive: boolean;
  /** Throws a LabGoneError unless the lab is alive. */
  assertAlive(): void;
  /** Run an argv in the lab host or a namespace (not batched): for undoing a failed build. */
  run(target: string, argv: readonly string[], options: RunOptions): Promise<RunResult>;
  /** Queue steps in the lab's batcher; one promise per step, each of which settles (Batcher.addEach). */
  queue(steps: readonly Step[]): Promise<void>[];
  /** Whether the lab has a namespace of this name now, however it was made. */
  hasNetns(name: string): boolean;
  /** The names of the lab's namespaces now (its /run/netns), sorted. */
  listNetns(): string[];
  /** The identity of a namespace of the lab (see Scope.identityOf). */
  identityOf(name: string): number | undefined;
}

/** The context of a lab: `world` is the lab itself (its run and assertAlive, which name it in errors). */
export function labContext(world: Scope, inventory: Inventory, lifeline: Lifeline, batcher: Batcher): BuildContext {
  return {
    world,
    host: world.host,
    inventory,
    get alive() {
      return lifeline.alive;
    },
    assertAlive: () => world.assertAlive(),
    run: (target, argv, options) => world.run(target, argv, options),
    queue: (steps) => batcher.addEach(steps),
    hasNetns: (name) => lifeline.hasNetns(name),
    listNetns: () => lifeline.listNetns(),
    identityOf: (name) => lifeline.identityOf(name),
  };
}
