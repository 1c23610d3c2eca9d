/**
 * `netspecConfig()` (exported by `netspec/vitest`): the Vitest settings netspec's tests need, to spread into
 * `defineConfig`. No side effects: a config file may import it.
 */
import { isAbsolute, join } from 'node:path';
import { DEFAULT_REACH_TIMEOUT_MS } from './matchers/to-reach.js';
import { EXPLAIN_MS } from './matchers/index.js';

export interface NetspecConfigOptions {
  /** The test timeout in ms (default 30 s: lab set-up, a few matcher deadlines and a diagnosis fit in it many times). */
  testTimeout?: number;
  /** Where failure reports (state, picture, diagnosis) and Vitest's attachments go (default `.netspec` in the root). */
  outputDir?: string;
}

/** The settings, under `test`: `defineConfig({ ...netspecConfig(), … })`, or `test: { ...netspecConfig().test, include }`. */
export function netspecConfig(options: NetspecConfigOptions = {}) {
  const testTimeout = options.testTimeout ?? 30_000;
  const minimum = DEFAULT_REACH_TIMEOUT_MS + EXPLAIN_MS;
  if (!(Number.isFinite(testTimeout) && testTimeout >= minimum)) {
    throw new RangeError(`netspecConfig: testTimeout ${testTimeout} is shorter than one toReach deadline and its diagnosis (${minimum} ms): give ${minimum} ms or more`);
  }
  const out = options.outputDir ?? '.netspec';
  const dir = isAbsolute(out) ? out : join(process.cwd(), out);
  return {
    test: {
      // Vitest's 5 s default cuts a failing toReach off before its diagnosis ("Test timed out in 5000ms" instead)
      testTimeout,
      hookTimeout: testTimeout,
      // every lab is a few processes, and a worker watches its parent over the forks pool's IPC channel (src/vitest.ts)
      pool: 'forks' as const,
      // test.concurrent labs: eight at once on a small machine
      maxConcurrency: 8,
      // failure reports (src/report.ts reads NETSPEC_OUTPUT_DIR in the workers) and the annotations' attachments
      env: { NETSPEC_OUTPUT_DIR: process.env.NETSPEC_OUTPUT_DIR ?? join(dir, 'failures') },
      attachmentsDir: join(dir, 'attachments'),
    },
  };
}
