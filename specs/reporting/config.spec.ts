// Issue 16: netspecConfig() (from netspec/vitest) gives a test timeout that fits a matcher's deadline and its diagnosis;
// without it, Vitest's 5 s default cuts the diagnosis off, and netspec warns before it happens.
import { describe, expect, test, vi } from 'vitest';
import { netspecConfig } from '../../src/vitest.js';
import { childVitest, runProcess } from '../helpers/process.js';
import { tempDir } from '../helpers/temp.js';

vi.setConfig({ testTimeout: 90_000 });

describe('netspecConfig()', () => {
  test('with the preset, a failing toReach with the default deadline after a slow set-up explains itself', async () => {
    const { code, out } = await runProcess([process.execPath, 'node_modules/vitest/vitest.mjs', 'run', '--config', 'specs/children/preset.config.ts'], { env: { NETSPEC_OUTPUT_DIR: tempDir('netspec-preset-') } });
    expect(code).toBe(1);
    expect(out).toMatch(/red cannot reach 203\.0\.113\.8 \(icmp\) \(NO_REPLY\) within 3000 ms[^]*\d\. host \(192\.168\.15\.3\): forwards; FORWARD policy ACCEPT; no MASQUERADE covers 192\.168\.15\.1/);
    expect(out).not.toMatch(/timed out|may take \d+ ms to decide/);
  });

  test("with Vitest's 5 s default, netspec warns at the assertion, and the timeout replaces the diagnosis", async () => {
    const { code, out } = await childVitest(['preset.child.ts'], { NETSPEC_CHILD_TIMEOUT: '5000', NETSPEC_OUTPUT_DIR: tempDir('netspec-preset-') });
    expect(code).toBe(1);
    expect(out).toMatch(
      /netspec: expect\(red\)\.toReach\(…\) at specs\/children\/preset\.child\.ts:10:\d+ may take 3000 ms to decide, and up to 2000 ms more to explain a failure, but the test has \d+ ms left of its 5000 ms timeout/,
    );
    expect(out).toMatch(/Test timed out in 5000ms/);
    expect(out).not.toMatch(/cannot reach 203\.0\.113\.8/);
    // the report says what the test was waiting for
    expect(out).toMatch(/❯ preset\.child\.ts:10:\d+ netspec:state/);
  });

  test('the settings: a timeout that fits a deadline and its diagnosis, the forks pool, the failure folder; too short a timeout is an error', () => {
    const dir = tempDir('netspec-config-');
    const c = netspecConfig({ outputDir: dir });
    expect(c.test).toMatchObject({ testTimeout: 30_000, hookTimeout: 30_000, pool: 'forks', attachmentsDir: `${dir}/attachments` });
    expect(c.test.env.NETSPEC_OUTPUT_DIR).toBe(process.env.NETSPEC_OUTPUT_DIR ?? `${dir}/failures`);
    expect(netspecConfig({ testTimeout: 60_000 }).test.testTimeout).toBe(60_000);
    expect(() => netspecConfig({ testTimeout: 1000 })).toThrow(/testTimeout 1000 is shorter than one toReach deadline and its diagnosis \(5000 ms\): give 5000 ms or more/);
  });
});
