import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['specs/**/*.spec.ts'],
    // netspec's matchers wait for their own deadlines (a `.not.toReach` window, a diagnosis): give a test more than
    // Vitest's default 5 s so that a failure shows its diagnosis, not "Test timed out in 5000ms"
    testTimeout: 30_000,
  },
});
