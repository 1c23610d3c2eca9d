// Conformance: the same behaviours and rule sets on a real Docker engine, where one is installed (CI installs Debian's
// docker.io and busybox-static). dockerd runs inside a lab of its own, so the machine's network is never touched.
import { describe, expect, test } from '../../src/vitest.js';
import { behaviours, ruleScenarios } from './behaviours.js';
import { dockerEngine, dockerInstalled, emulationEngine, type Engine } from './engines.js';

async function withEngine<T>(make: () => Promise<Engine>, use: (e: Engine) => Promise<T>): Promise<T> {
  const engine = await make();
  try {
    return await use(engine);
  } finally {
    await engine.dispose();
  }
}

describe.runIf(dockerInstalled)('a real Docker engine', () => {
  describe.each(behaviours.map((b) => [b.id, b] as const))('behaviour %i', (_id, behaviour) => {
    test(`${behaviour.title} — the same on real Docker as on the emulation`, async () => {
      await withEngine(() => dockerEngine(), (e) => behaviour.run(e));
    });
  });

  test.each(ruleScenarios.map((s) => [s.title, s] as const))('rule set for %s: real Docker and the emulation agree', async (_title, scenario) => {
    const real = await withEngine(() => dockerEngine(), async (e) => (await scenario.build(e), e.rules()));
    const emulated = await withEngine(emulationEngine, async (e) => (await scenario.build(e), e.rules()));
    expect(emulated).toBe(real);
  });
});

test.skipIf(dockerInstalled)('a real Docker engine: not installed here (apt-get install docker.io busybox-static)', () => {
  expect(dockerInstalled).toBe(false);
});
