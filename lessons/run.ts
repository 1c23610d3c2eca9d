/**
 * `npm run lessons [-- NN]`: runs the lessons against your scripts (lessons/NN-name/script.sh) and shows progress.
 * `NETSPEC_LESSON=solution npm run lessons` runs the reference solutions instead.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirSync, setGracefulCleanup } from 'tmp-promise';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
// the lesson folders (importing lessons.ts needs a running Vitest, so the titles come from its report)
const lessons = readdirSync(join(root, 'lessons')).filter((d) => /^\d\d-/.test(d)).sort().map((id) => ({ id }));
const only = process.argv[2];
const picked = lessons.filter((l) => !only || l.id.startsWith(only.padStart(2, '0')));
if (picked.length === 0) {
  console.error(`no lesson ${only}; the lessons are: ${lessons.map((l) => l.id).join(', ')}`);
  process.exit(2);
}
setGracefulCleanup();
const out = join(dirSync({ prefix: 'netspec-lessons-', unsafeCleanup: true }).name, 'results.json');
const vitest = spawnSync(process.execPath, [join(root, 'node_modules/vitest/vitest.mjs'), 'run', '--config', 'lessons/vitest.config.ts', '--reporter=json', `--outputFile=${out}`], {
  cwd: root,
  stdio: ['ignore', 'ignore', 'pipe'],
  encoding: 'utf8',
  // the labs' state and pictures of failed lessons go beside the results, not into the repository
  env: { ...process.env, NETSPEC_LESSON_ONLY: only ? only.padStart(2, '0') : '', NETSPEC_OUTPUT_DIR: join(out, '..', 'failures') },
});
if (!existsSync(out)) {
  console.error(vitest.stderr);
  process.exit(2);
}
const report = JSON.parse(readFileSync(out, 'utf8')) as { testResults: { assertionResults: { title: string; status: string; failureMessages: string[] }[] }[] };
const results = report.testResults.flatMap((f) => f.assertionResults);
let passed = 0;
for (const lesson of picked) {
  const r = results.find((x) => x.title.startsWith(lesson.id));
  const ok = r?.status === 'passed';
  if (ok) passed++;
  console.log(`${ok ? '✓' : '✗'} ${r?.title ?? lesson.id}`);
  if (!ok && r) {
    const msg = (r.failureMessages[0] ?? '').split('\n    at ')[0]!.replace(/^\w*Error: /, '');
    console.log(msg.split('\n').map((l) => `    ${l}`).join('\n'));
  }
}
console.log(`\n${passed} of ${picked.length} lessons passed${process.env.NETSPEC_LESSON === 'solution' ? ' (reference solutions)' : ''}`);
process.exit(passed === picked.length ? 0 : 1);
