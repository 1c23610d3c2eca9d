// Docker's bridge behaviours on netspec's emulation (fixtures/docker.ts), and its rules against the reference engine's.
import { readFileSync } from 'node:fs';
import { describe, expect, test } from '../../src/vitest.js';
import { behaviours, ruleScenarios } from './behaviours.js';
import { emulationEngine } from './engines.js';

describe.each(behaviours.map((b) => [b.id, b] as const))('behaviour %i on the emulation', (_id, behaviour) => {
  test(behaviour.title, async () => {
    const engine = await emulationEngine();
    try {
      await behaviour.run(engine);
    } finally {
      await engine.dispose();
    }
  });
});

test('the emulation installs the rules a real Docker 20.10.24 installed (../shared/reference)', async () => {
  const engine = await emulationEngine();
  try {
    await ruleScenarios.at(-1)!.build(engine);
    const reference = readFileSync(new URL('../../fixtures/reference/docker-20.10.24-iptables-save.txt', import.meta.url), 'utf8');
    const bridges: Record<string, string> = { 'br-589be2712fbd': '172.18.0.0/16', 'br-52ccb0a8c27b': '172.19.0.0/16', 'br-80314994862b': '172.20.0.0/16' };
    let expected = reference.split('\n').filter((l) => l && !l.startsWith('#')).join('\n');
    for (const [br, subnet] of Object.entries(bridges)) expected = expected.replaceAll(br, `br-<${subnet}>`);
    expect(await engine.rules()).toBe(expected);
  } finally {
    await engine.dispose();
  }
});
