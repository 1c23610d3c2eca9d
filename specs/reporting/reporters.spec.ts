// Issues 11 and 16: every failed test that used a lab is reported — a failing `.not.toReach`, a failing
// `toHaveRouteEntry`, an error thrown by the test's own code, an assertion never awaited — with the lab's state in the
// default reporter, JUnit's <properties> and GitHub Actions' annotations; a test that caught a failing matcher and
// passed is not. Checked from outside, on a child Vitest run of specs/children/reports.child.ts.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test, vi } from 'vitest';
import { childVitest, repoRoot } from '../helpers/process.js';
import { tempDir } from '../helpers/temp.js';

// a child test run on a busy 2-core machine
vi.setConfig({ testTimeout: 90_000 });

const child = join(repoRoot, 'specs/children/reports.child.ts');
const source = readFileSync(child, 'utf8').split('\n');
/** The 1-based line of the child spec that has `text`. */
const lineOf = (text: string) => source.findIndex((l) => l.includes(text)) + 1;

const failed = [
  { name: 'not reach fails', line: lineOf('.not.toReach('), why: /expect\(red\)\.not\.toReach\(namespace blue of lab \d+, \{"window":1000\}\)\n\nred reached 192\.168\.15\.2 \(icmp\)/ },
  { name: 'route entry fails', line: lineOf('.toHaveRouteEntry('), why: /red's main table has no such route; it has:\n {2}default via 192\.168\.15\.3 dev veth-red/ },
  { name: 'thrown error fails', line: lineOf("throw new Error('the test broke on purpose')"), why: /^Error: the test broke on purpose/m },
  { name: 'never awaited', line: lineOf('void expect('), why: /expect\(red\)\.toReach\(…\) at specs\/children\/reports\.child\.ts:\d+:\d+ was never awaited: .*write `await expect\(red\)\.toReach\(…\)`/ },
];

/** Each test case of a JUnit file, by name: its XML. */
function junitCases(xml: string): Map<string, string> {
  const cases = new Map<string, string>();
  for (const m of xml.matchAll(/<testcase [^>]*name="([^"]+)"[^]*?<\/testcase>/g)) cases.set(m[1]!, m[0]);
  return cases;
}

describe('every failed test that used a lab is reported, in every reporter', () => {
  test('a failing .not.toReach, a failing toHaveRouteEntry, a thrown error and a missing await: state in the default reporter, JUnit properties and GitHub annotations', async () => {
    const out = tempDir('netspec-reporters-');
    const junit = join(out, 'junit.xml');
    const run = await childVitest(['reports.child.ts'], { NETSPEC_OUTPUT_DIR: out, NETSPEC_CHILD_TIMEOUT: '20000' }, [
      '--reporter=default',
      '--reporter=junit',
      `--outputFile.junit=${junit}`,
      '--reporter=github-actions',
    ]);
    expect(run.code).toBe(1);
    expect(run.out).toMatch(/Tests {2}4 failed \| 1 passed \(5\)/);
    // the missing await is said where it happened, once, and no unhandled LabGoneError follows
    expect(run.out).not.toMatch(/Unhandled|LabGoneError/);
    expect(run.out.match(/FAIL {2}reports\.child\.ts > never awaited/g)).toHaveLength(1);

    const cases = junitCases(readFileSync(junit, 'utf8'));
    const files = readdirSync(out);
    for (const t of failed) {
      // the default reporter: the failure, then the lab's state as an annotation under it
      const section = run.out.split(/ FAIL {2}reports\.child\.ts > /).find((s) => s.startsWith(`${t.name}\n`));
      expect(section, t.name).toMatch(t.why);
      expect(section, t.name).toMatch(new RegExp(`❯ reports\\.child\\.ts:${t.line}:\\d+ netspec:state\\n {3}↳ netspec: the lab's state\\n── lab host ── forwarding ipv4=0[^]*── namespace red ──[^]*link {2}veth-red +veth +UP +192\\.168\\.15\\.1/24`));
      // the topology is a file on the console (issue 25: concise); NETSPEC_REPORT=full puts the Mermaid text inline
      expect(section, t.name).toMatch(/netspec:topology\n {3}↳ netspec: the topology \(Mermaid\)/);
      expect(section, t.name).not.toMatch(/```mermaid/);

      // JUnit: the annotations are the test case's properties
      const xml = cases.get(t.name);
      expect(xml, t.name).toMatch(/<failure /);
      expect(xml, t.name).toMatch(/<property name="netspec:state" value="netspec: the lab&apos;s state\n── lab host ──[^"]*── namespace red ──[^"]*192\.168\.15\.1\/24/);
      expect(xml, t.name).toMatch(/<property name="netspec:topology" value="netspec: the topology/);
      expect(xml, t.name).toMatch(/<property name="netspec:picture" value="netspec: picture"/);

      // GitHub Actions: a notice at the failing line of the spec, the state in its message; and the error
      expect(run.out, t.name).toMatch(new RegExp(`^::notice file=${child.replace(/[.]/g, '\\.')},line=${t.line},column=\\d+,title=netspec%3Astate::netspec: the lab's state%0A── lab host ──.*── namespace red ──`, 'm'));
      expect(run.out, t.name).toMatch(new RegExp(`^::error file=${child.replace(/[.]/g, '\\.')},title=reports\\.child\\.ts > ${t.name},line=${t.line},`, 'm'));

      // the files: the state with the diagnosis on top, the picture
      const base = files.find((f) => f.startsWith(`${t.name.replace(/ /g, '-')}-`) && f.endsWith('-state.txt'));
      expect(base, t.name).toBeDefined();
      const dump = readFileSync(join(out, base!), 'utf8');
      expect(dump, t.name).toMatch(t.why);
      expect(dump, t.name).toMatch(/── namespace blue ── forwarding ipv4=0/);
    }

    // a failure the test caught is no failure of the test: no report, no annotation
    expect(cases.get('a caught failure passes')).not.toMatch(/<property|<failure/);
    expect(files.filter((f) => f.startsWith('a-caught-failure'))).toEqual([]);
    expect(run.out.match(/^::notice /gm)).toHaveLength(failed.length * 3);
  });
});
