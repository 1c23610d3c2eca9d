// Config for the child Vitest runs that specs/harness/cleanup.spec.ts starts on purpose (timeouts, failures).
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    root: new URL('.', import.meta.url).pathname,
    include: ['*.child.ts'],
    hookTimeout: 10_000,
    pool: 'forks',
    // the repository's module cache (vitest.config.ts): a child run then transforms only what changed
    experimental: { fsModuleCache: true, fsModuleCachePath: new URL('../../node_modules/.experimental-vitest-cache', import.meta.url).pathname },
    maxConcurrency: 8,
    testTimeout: Number(process.env.NETSPEC_CHILD_TIMEOUT ?? 1500),
  },
});
