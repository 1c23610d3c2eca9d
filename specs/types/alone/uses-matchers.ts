// Compiled on its own (specs/types/matchers-alone.spec.ts): netspec/matchers imported alone, without netspec/vitest,
// types Vitest's expect with netspec's matchers.
import { expect } from 'vitest';
import { matchers } from 'netspec/matchers';
import type { Lab, Netns } from 'netspec';

expect.extend(matchers);

declare const lab: Lab;
declare const red: Netns;

export async function check(): Promise<void> {
  await expect(lab).toHaveReachability({ red: { blue: true } });
  await expect(red).toReach('192.168.15.2', { timeout: 500 });
  await expect(red).not.toHaveRouteEntry({ destination: 'default' });
  await expect(red).toHaveRule({ fwmark: 1, table: 101 });
}
