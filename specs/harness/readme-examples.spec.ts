// Every TypeScript example in the README runs as written: each ```ts block becomes a spec file (blocks without a
// test of their own are wrapped in one that gives them the `lab` fixture), and a child Vitest runs them all.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { expect, test } from 'vitest';
import { repoRoot, runProcess } from '../helpers/process.js';

const HEADER = [
  "import { test, expect } from 'netspec/vitest';",
  "import { tutorialNetwork, bridgeNetwork, vethPair, buildTopology, dockerHost, cniNetwork } from 'netspec/fixtures';",
  "import { createLab, serve } from 'netspec';",
].join('\n');

export function readmeExamples(text: string): string[] {
  // a block that starts with `// vitest.config.ts` is a config file, not a spec (the package check uses one like it)
  return [...text.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((m) => m[1]!).filter((b) => !b.startsWith('// vitest.config.ts'));
}

export function asSpec(block: string, n: number): string {
  const body = block
    .split('\n')
    .filter((l) => !/^import .* from '(netspec|netspec\/vitest|netspec\/fixtures)';/.test(l))
    .join('\n');
  return /^test\(/m.test(body) ? `${HEADER}\n${body}\n` : `${HEADER}\ntest('README example ${n}', async ({ lab }) => {\n${body}\n}, 60_000);\n`;
}

test('every ```ts example of the README runs as written', async () => {
  const blocks = readmeExamples(readFileSync(`${repoRoot}README.md`, 'utf8'));
  expect(blocks.length).toBeGreaterThanOrEqual(4);
  const dir = `${repoRoot}specs/readme-examples.tmp`;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  try {
    const files = blocks.map((b, i) => {
      const file = `specs/readme-examples.tmp/example-${i + 1}.spec.ts`;
      writeFileSync(`${repoRoot}${file}`, asSpec(b, i + 1));
      return file;
    });
    const { code, out } = await runProcess([process.execPath, 'node_modules/vitest/vitest.mjs', 'run', '--typecheck.enabled=false', ...files]);
    expect(out).toMatch(new RegExp(`Test Files\\s+${files.length} passed`));
    expect(code, out).toBe(0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 180_000);
