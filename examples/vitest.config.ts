import { defineConfig } from 'vitest/config';
import { netspecConfig } from 'netspec/vitest';

// netspecConfig(): a test timeout that fits netspec's matcher deadlines and diagnoses (Vitest's 5 s default would cut a
// failure's explanation off), the forks pool, and where failure reports go (.netspec/)
const netspec = netspecConfig();

export default defineConfig({
  test: { ...netspec.test, include: ['specs/**/*.spec.ts'] },
});
