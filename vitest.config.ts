import { defineConfig } from 'vitest/config';

const src = (path: string) => new URL(path, import.meta.url).pathname;

export default defineConfig({
  // specs in this repository import netspec by its package name, as a user's would, without a build
  resolve: {
    alias: [
      { find: /^netspec\/vitest$/, replacement: src('./src/vitest.ts') },
      { find: /^netspec\/matchers$/, replacement: src('./src/matchers/index.ts') },
      { find: /^netspec\/fixtures$/, replacement: src('./fixtures/index.ts') },
      { find: /^netspec$/, replacement: src('./src/index.ts') },
    ],
  },
  // an unprivileged user (CI's) may not write into node_modules: let it put Vite's cache elsewhere
  cacheDir: process.env.NETSPEC_CACHE_DIR ?? 'node_modules/.vite',
  test: {
    include: ['specs/**/*.spec.ts'],
    // labs are cheap, but every one is real kernel work: a 2-core machine is busy enough with a few workers
    pool: 'forks',
    // test.concurrent labs: eight at once is what the suite promises
    maxConcurrency: 8,
    testTimeout: 30_000,
    hookTimeout: 30_000,
    typecheck: { enabled: true, include: ['specs/**/*.test-d.ts'], tsconfig: './tsconfig.json' },
  },
});
