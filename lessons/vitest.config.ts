import { defineConfig } from 'vitest/config';

export default defineConfig({
  cacheDir: process.env.NETSPEC_CACHE_DIR ?? 'node_modules/.vite',
  test: { root: new URL('..', import.meta.url).pathname, include: ['lessons/lessons.spec.ts'], testTimeout: 30_000, pool: 'forks' },
});
