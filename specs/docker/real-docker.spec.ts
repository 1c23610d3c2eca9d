// Conformance: the same behaviours and rule sets on a real Docker engine, where one is installed (CI installs Debian's
// docker.io and busybox-static). dockerd runs inside a lab of its own, so the machine's network is never touched.
import { describe, expect, test, vi } from '../../src/vitest.js';
import { behaviours, proxySettings, ruleScenarios, withPublishWatch } from './behaviours.js';
import { dockerEngine, dockerInstalled, emulationEngine, type Engine } from './engines.js';

// these tests start other processes (child test runs, engines): give them room on a busy 2-core machine
vi.setConfig({ testTimeout: 90_000 });

async function withEngine<T>(make: () => Promise<Engine>, use: (e: Engine) => Promise<T>): Promise<T> {
  const engine = await make();
  try {
    return await use(engine);
  } finally {
    await engine.dispose();
  }
}

// dockerd with and without --userland-proxy: docker-proxy carries hairpin and host-local connections, or NAT rules do
describe.runIf(dockerInstalled).each([true, false])('a real Docker engine (20.10), userland proxy %s', (userlandProxy) => {
  // a behaviour that publishes no port is checked with the default (proxy on) only: the setting changes nothing it uses
  describe.each(behaviours.filter((b) => proxySettings(b).includes(userlandProxy)).map((b) => [b.id, b] as const))('behaviour %i', (_id, behaviour) => {
    test(`${behaviour.title} — the same on real Docker as on the emulation`, async () => {
      await withEngine(() => dockerEngine({ userlandProxy }), (e) => behaviour.run(withPublishWatch(e, behaviour)));
    });
  });

  test.each(ruleScenarios.map((s) => [s.title, s] as const))('rule set for %s: real Docker and the emulation agree', async (_title, scenario) => {
    const real = await withEngine(() => dockerEngine({ userlandProxy }), async (e) => (await scenario.build(e), e.rules()));
    const emulated = await withEngine(() => emulationEngine({ userlandProxy }), async (e) => (await scenario.build(e), e.rules()));
    expect(emulated).toBe(real);
  });
});

// Where no engine is installed the conformance tests above do not run; this entry is reported as skipped, with the reason.
if (!dockerInstalled) {
  test.skip('a real Docker engine: skipped, dockerd, docker or busybox is not installed here, so only the emulation ran (apt-get install docker.io busybox-static)', () => {});
}

describe.runIf(dockerInstalled)('a lab next to a real Docker engine', () => {
  test('while dockerd has set its FORWARD policy to DROP, a lab beside it still forwards: labs do not share rules', async () => {
    const engine = await dockerEngine();
    try {
      await engine.run('c1');
      expect((await engine.lab.host.exec('iptables', ['-S', 'FORWARD'])).stdout).toMatch(/^-P FORWARD DROP$/m);
      const { createLab } = await import('../../src/index.js');
      const { tutorialNetwork } = await import('../../fixtures/index.js');
      const lab = await createLab();
      try {
        const net = await tutorialNetwork(lab);
        await expect(net.red).toReach('192.168.15.2');
        await expect(net.red).toReach('203.0.113.8');
      } finally {
        await lab.dispose();
      }
    } finally {
      await engine.dispose();
    }
  });
});
