/**
 * The one way a builder changes a lab: claim names, queue steps, and on failure give the names back and undo what
 * this build made (ARCHITECTURE.md, "The path of one call").
 */
import { SkippedStepError, type Step } from '../batch.js';
import type { BuildContext } from './context.js';
import type { Claim } from './inventory.js';

/** A command that undoes one step, run (best effort) only when that step ran and a later one failed. */
export interface Undo {
  /** Index in `steps` of the step this undoes: the undo runs only if that step succeeded. */
  step: number;
  target: string;
  argv: readonly string[];
  intent: string;
}

export interface Transaction {
  /** Claims, taken in order before anything is queued; if one throws, those taken are given back. */
  claims: readonly (() => Claim)[];
  steps: readonly Step[];
  /** Run in order after a failure; only what this build made is undone (a name a script took is not ours). */
  undo?: readonly Undo[];
}

/**
 * Claim, queue, undo on failure. The steps are queued synchronously (in the caller's tick), so builders called in the
 * same tick share one flush. Rejects with the first failure that is not a skipped step (as Batcher.add does).
 */
export async function transact(ctx: BuildContext, tx: Transaction): Promise<void> {
  ctx.assertAlive();
  const held: Claim[] = [];
  const release = () => held.splice(0).reverse().forEach((c) => c.release());
  try {
    for (const claim of tx.claims) held.push(claim());
  } catch (error) {
    release();
    throw error;
  }
  let results: PromiseSettledResult<void>[];
  try {
    results = await Promise.allSettled(ctx.queue(tx.steps));
  } catch (error) {
    release();
    throw error;
  }
  const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (!failed.length) return;
  release();
  for (const undo of tx.undo ?? []) {
    if (!ctx.alive) break;
    if (results[undo.step]?.status !== 'fulfilled') continue;
    await ctx.run(undo.target, undo.argv, { intent: undo.intent, reject: false }).catch(() => undefined);
  }
  throw (failed.find((r) => !(r.reason instanceof SkippedStepError)) ?? failed[0]!).reason;
}
