// Issue 27: no test passes only by reaching a PrerequisiteError. A test of a subject the kernel may lack (a link kind,
// a qdisc, VLAN filtering) runs only where the kernel has it (`test.runIf(k.has(X))`, reported skipped with the reason
// elsewhere), and the PrerequisiteError is a test of its own that says so in its name. This guard reads every spec file
// with TypeScript's parser: a test whose body expects a PrerequisiteError must name it (or what is lacking/missing) in
// its title (a kernel one: the body names a module, a link kind, a qdisc or VLAN filtering; a missing tool is another
// matter), and no spec but the doctor's own asks doctor's kernelFeatures() and branches on it.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';
import { expect, test } from '../../src/vitest.js';

const root = new URL('../../', import.meta.url).pathname;

function specFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? specFiles(path) : path.endsWith('.spec.ts') ? [path] : [];
  });
}

/** The title (its literal text) and body of every test(…)/it(…) call, with `.runIf(…)`, `.concurrent` and the like. */
function tests(path: string, text: string): { title: string; body: string }[] {
  const source = ts.createSourceFile(path, text, ts.ScriptTarget.Latest, true);
  const out: { title: string; body: string }[] = [];
  const isTestCallee = (e: ts.Expression): boolean => {
    if (ts.isIdentifier(e)) return e.text === 'test' || e.text === 'it';
    if (ts.isPropertyAccessExpression(e)) return isTestCallee(e.expression);
    if (ts.isCallExpression(e)) return isTestCallee(e.expression); // test.runIf(x)(…), test.each(…)(…)
    return false;
  };
  const visit = (node: ts.Node) => {
    if (ts.isCallExpression(node) && isTestCallee(node.expression) && node.arguments.length >= 2) {
      const [title, fn] = node.arguments as unknown as [ts.Expression, ts.Expression];
      if ((ts.isArrowFunction(fn) || ts.isFunctionExpression(fn)) && (ts.isStringLiteralLike(title) || ts.isTemplateExpression(title))) {
        out.push({ title: title.getText(source), body: fn.body.getText(source) });
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return out;
}

/** What is wrong with a test that expects a kernel PrerequisiteError, if anything. */
function judge(t: { title: string; body: string }): string[] {
  const out: string[] = [];
  if (!/PrerequisiteError|lacks|missing|not installed|not available|privileged|turned off|is named/i.test(t.title)) out.push('expects a PrerequisiteError without saying so in its title');
  // "built and working, or the typed error": a branch on what the kernel has, inside one test, counts the error as a
  // pass of the subject; the two are separate tests (runIf on the feature, and runIf on its absence)
  if (/\bif \(|\?[^?:]*:/.test(t.body.replace(/\?\.|\?\?/g, ''))) out.push('branches inside the test on what the kernel has: split it into test.runIf(k.has(X)) and a test of the PrerequisiteError');
  return out;
}

test('every test that expects a PrerequisiteError says so in its title; no spec branches on kernelFeatures() but the doctor\'s', () => {
  const files = specFiles(join(root, 'specs'));
  expect(files.length).toBeGreaterThan(50);
  const offenders: string[] = [];
  let prerequisiteTests = 0;
  for (const path of files) {
    const text = readFileSync(path, 'utf8');
    const where = relative(root, path);
    if (where.endsWith('harness/prerequisite-passes.spec.ts')) continue;
    if (/\bkernelFeatures\(\)/.test(text) && !where.endsWith('reliability/prerequisites.spec.ts')) offenders.push(`${where}: asks kernelFeatures() itself; use specs/helpers/kernel.ts and test.runIf(k.has(X))`);
    for (const t of tests(path, text)) {
      if (!/toBeInstanceOf\(PrerequisiteError\)|toThrow\(PrerequisiteError\)/.test(t.body)) continue;
      // a kernel prerequisite (a module, a link kind, a qdisc, VLAN filtering): a missing tool is another matter
      if (!/kernel|modprobe|CONFIG_|vlanFiltering|netem|lab\.link\(/.test(t.body)) continue;
      prerequisiteTests++;
      offenders.push(...judge(t).map((why) => `${where}: ${t.title.slice(0, 120)} ${why}`));
    }
  }
  expect(prerequisiteTests).toBeGreaterThan(4);
  expect(offenders).toEqual([]);
});

test('the guard catches the old pattern: a subject test that passes on the PrerequisiteError alone', () => {
  const old = `test('dummy: made and up where the kernel has it', async ({ lab }) => {
    const made = lab.link({ kind: 'dummy' });
    if (has('dummy')) { await made; return; }
    expect(await made.catch((e) => e)).toBeInstanceOf(PrerequisiteError);
  });`;
  const found = tests('old.spec.ts', old);
  expect(found).toHaveLength(1);
  expect(judge(found[0]!)).toEqual([expect.stringMatching(/without saying so in its title/), expect.stringMatching(/branches inside the test/)]);
  // the old netem test named the error in its title, and still passed on it alone: the branch gives it away
  const named = tests('old.spec.ts', old.replace('made and up where the kernel has it', 'made where the kernel has it, else a PrerequisiteError'));
  expect(judge(named[0]!)).toEqual([expect.stringMatching(/branches inside the test/)]);
});
