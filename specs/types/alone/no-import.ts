// Compiled on its own (specs/types/matchers-alone.spec.ts): without netspec/matchers or netspec/vitest, Vitest's expect
// has no netspec matchers — the proof that the other program's types come from its import alone.
import { expect } from 'vitest';
import type { Lab } from 'netspec';

declare const lab: Lab;

export async function check(): Promise<void> {
  await expect(lab).toHaveReachability('all');
}
