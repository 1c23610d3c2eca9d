// Config for the child run of specs/reporting/config.spec.ts: netspec's preset, as a user's vitest.config.ts spreads it.
import { defineConfig } from 'vitest/config';
import { netspecConfig } from '../../src/vitest.js';

const preset = netspecConfig();

export default defineConfig({
  ...preset,
  test: {
    ...preset.test,
    root: new URL('.', import.meta.url).pathname,
    include: ['preset.child.ts'],
    // the repository's module cache (vitest.config.ts), not part of the preset
    experimental: { fsModuleCache: true, fsModuleCachePath: new URL('../../node_modules/.experimental-vitest-cache', import.meta.url).pathname },
  },
});
