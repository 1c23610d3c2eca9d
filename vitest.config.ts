import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['specs/**/*.spec.ts'],
    // labs are cheap, but every one is real kernel work: a 2-core machine is busy enough with a few workers
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 30_000,
    typecheck: { enabled: true, include: ['specs/**/*.test-d.ts'], tsconfig: './tsconfig.json' },
  },
});
