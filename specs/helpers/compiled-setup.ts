// Vitest's global setup: netspec's entry points compiled once before any spec file runs, older builds removed
// (specs/helpers/compiled.ts), so that no two workers build them at the same time.
import { cleanBuilds } from './compiled.js';

export default function setup(): void {
  cleanBuilds();
}
