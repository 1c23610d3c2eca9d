// Full load: eight labs at once in one worker (load-a and load-b run it in two workers side by side).
import { appendFileSync, readlinkSync } from 'node:fs';
import { expect, test } from '../../src/vitest.js';
import { bridgeNetwork } from '../../fixtures/index.js';

export function eightLabs(name: string): void {
  test.concurrent.for(Array.from({ length: 8 }, (_, i) => i))(`${name} lab %i`, async (_i, { lab }) => {
    appendFileSync(process.env.NETSPEC_REPORT!, readlinkSync(`/proc/${lab.pid}/ns/pid_for_children`) + '\n');
    const net = await bridgeNetwork(lab, { nat: true });
    await expect(net.red).toReach('203.0.113.8', { seenAs: net.wan!.hostAddress });
    await expect(lab).toHaveReachability({ red: { blue: true, wan: true }, blue: { red: true, wan: true }, wan: { red: false } });
    await expect(net.blue).not.toReach('192.168.15.40', { window: 200 });
  });
}
