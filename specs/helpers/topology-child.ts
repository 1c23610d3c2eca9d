// Runs every bad topology of topology-cases.ts in one lab, under `node --unhandled-rejections=strict` (an unhandled
// rejection ends this process with a non-zero code before it reports), and prints the outcome of each as JSON.
import { createLab } from '../../src/index.js';
import { buildTopology, type TopologySpec } from '../../fixtures/index.js';
import { labState, prepareLab, topologyCases } from './topology-cases.js';

const lab = await createLab();
await prepareLab(lab);
const results: { name: string; error: string; message: string; unchanged: boolean }[] = [];
for (const c of topologyCases) {
  const before = await labState(lab);
  const e = await buildTopology(lab, c.spec as TopologySpec).then(
    () => new Error('built'),
    (error: unknown) => error as Error,
  );
  // give a stray rejection time to surface (it would end this process here)
  await new Promise((r) => setTimeout(r, 20));
  results.push({ name: c.name, error: e?.name, message: e?.message, unchanged: JSON.stringify(before) === JSON.stringify(await labState(lab)) });
}
await new Promise((r) => setTimeout(r, 200));
await lab.dispose();
process.stdout.write(JSON.stringify(results) + '\n');
