// Vitest's global setup: netspec's entry points compiled once before any spec file runs (specs/helpers/compiled.ts),
// so that no two workers build them at the same time.
import { compiled } from './compiled.js';

export default function setup(): void {
  const t = performance.now();
  compiled('src/cli.ts');
  if (process.env.NETSPEC_DEBUG_BUILD) console.log(`compiled in ${(performance.now() - t).toFixed(0)} ms`);
}
