/**
 * The real-engine conformance suite for one of the fetched engines (.ci/fetch-engines.sh: trixie's 26.1.x, sid's
 * 28.5.x): every behaviour of behaviours.ts once on the real engine (both proxy settings where it publishes a port,
 * the default otherwise), and the rule text of the version once per proxy setting, against the emulation of the layout
 * that release writes. An engine that is not fetched is reported as skipped with the reason, never as a pass.
 *
 * Each test starts a dockerd of its own (in a lab of its own, with a containerd of its own: ~0.5 s to come up): the behaviours cannot share one engine without
 * weakening them — 6, 9 and 10 publish the same host port 8080, 7 sets the FORWARD policy to ACCEPT (which would open
 * what 2, 3 and 4 check is closed), 8 adds a DOCKER-USER DROP and compares the whole rule text, 12 takes 10.99.0.0/24 —
 * and the tests of a file run concurrently.
 */
import { describe, expect, test, vi } from '../../src/vitest.js';
import { behaviours, everyScenario, proxySettings, withPublishWatch } from './behaviours.js';
import { layoutOf } from '../../fixtures/index.js';
import { dockerEngine, emulationEngine, realEngines, type Engine, type RealEngine } from './engines.js';

async function withEngine<T>(make: () => Promise<Engine>, use: (e: Engine) => Promise<T>): Promise<T> {
  const engine = await make();
  try {
    return await use(engine);
  } finally {
    await engine.dispose();
  }
}

/** The suite for the fetched engine of major version `major` ('26', '28'). */
export function realEngineSuite(major: string): void {
  // dockerd and its containers on a busy 2-core machine
  vi.setConfig({ testTimeout: 120_000 });
  const { available, missing } = realEngines();
  const engine: RealEngine | undefined = available.find((e) => e.release.startsWith(`${major}.`));
  if (!engine) {
    const why = missing.find((m) => m.release.startsWith(major))?.reason ?? 'not fetched';
    test.skip(`a real Docker ${major} engine: skipped, ${why}`, () => {});
    return;
  }
  describe(`a real Docker engine ${engine.release} (the ${engine.layout} layout)`, () => {
    const cases = behaviours.flatMap((b) => proxySettings(b).map((userlandProxy) => [b.id, userlandProxy, b.title, b] as const));
    test.for(cases)('behaviour %i, userland proxy %s: %s — the same as on the emulation', async ([, userlandProxy, , behaviour]) => {
      await withEngine(
        () => dockerEngine({ engine, userlandProxy }),
        async (e) => {
          expect(e.release).toBe(engine.release);
          await behaviour.run(withPublishWatch(e, behaviour));
        },
      );
    });

    test.for([true, false])(`rule set for ${everyScenario.title}, userland proxy %s: the real engine and the ${engine.layout} emulation agree`, async (userlandProxy) => {
      const [real, emulated] = await Promise.all([
        withEngine(() => dockerEngine({ engine, userlandProxy }), async (e) => (await everyScenario.build(e), e.rules())),
        withEngine(() => emulationEngine({ version: engine.layout, userlandProxy }), async (e) => (await everyScenario.build(e), e.rules())),
      ]);
      expect(emulated).toBe(real);
    });

    // IPv6 where the version writes ip6tables rules (27.0 on): a published port's DNAT to [addr]:port, the raw DROPs
    // (26.x writes none: behaviour 15 checks that IPv6 is routed there; no test is listed, rather than one skipped)
    if (layoutOf(engine.layout)!.ip6tables) test('ip6tables rule set for an --ipv6 network with -p 7070:70: the real engine and the emulation agree', async () => {
      const build = async (e: Engine) => {
        await e.createNetwork('six', { subnet6: 'fd00:a::/64' });
        await e.run('c1', { network: 'six', publish: ['7070:70'] });
        await e.run('c2', { network: 'six' });
        return e.rules6();
      };
      const [real, emulated] = await Promise.all([withEngine(() => dockerEngine({ engine }), build), withEngine(() => emulationEngine({ version: engine.layout }), build)]);
      expect(real).toContain('-j DNAT --to-destination [fd00:a::2]:70');
      expect(emulated).toBe(real);
    });
  });
}
