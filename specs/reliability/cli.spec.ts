// The netspec CLI on util.parseArgs: `--help` on every command prints its usage and exits 0 (it never runs the
// command); an unknown option or a missing value is a usage error (exit 2, the command's usage); `graph --out` creates
// its folder and fails before building anything when the path cannot be written; `netspec kept` lists, enters and ends
// kept labs (specs/reporting/failure-report.spec.ts keeps one and drives it).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test, vi } from '../../src/vitest.js';
import { runProcess } from '../helpers/process.js';
import { tempDir } from '../helpers/temp.js';
import { compiled } from '../helpers/compiled.js';

vi.setConfig({ testTimeout: 60_000 });

const cli = (...args: string[]) => runProcess([process.execPath, compiled('src/cli.ts'), ...args]);

test('--help and -h on every command: its usage, exit 0, nothing run', async () => {
  const runs = await Promise.all([
    cli('--help'),
    cli('doctor', '--help'),
    cli('shell', '--help'),
    cli('graph', '-h'),
    cli('kept', '--help'),
    cli('lessons', '--help'),
  ]);
  const [top, doctor, shell, graph, kept, lessons] = runs;
  for (const r of runs) expect(r.code, r.out).toBe(0);
  expect(top!.out).toMatch(/^usage: netspec <command>/);
  for (const c of ['doctor', 'shell', 'graph', 'kept', 'lessons']) expect(top!.out).toMatch(new RegExp(`^  ${c}\\b`, 'm'));
  expect(doctor!.out).toMatch(/^usage: netspec doctor\n/);
  expect(doctor!.out).not.toMatch(/user namespaces +(ok|yes|✓)/i); // the doctor did not run
  expect(shell!.out).toMatch(/^usage: netspec shell \[topology\] \[--script S\]/);
  expect(graph!.out).toMatch(/^usage: netspec graph \[topology\] \[--script S\] \[--out F\]/);
  expect(kept!.out).toMatch(/^usage: netspec kept \[list\]/);
  expect(lessons!.out).toMatch(/^usage: netspec lessons/);
});

test('an unknown option, a missing value or an extra argument is a usage error: exit 2 and the command\'s usage', async () => {
  const out = tempDir('netspec-cli-');
  const cases: [string[], RegExp][] = [
    [['doctor', '--fast'], /netspec doctor: Unknown option '--fast'\n\nusage: netspec doctor/],
    [['shell', '--scirpt', 'x.sh'], /netspec shell: Unknown option '--scirpt'\n\nusage: netspec shell/],
    [['graph', '--out'], /netspec graph: Option '--out <value>' argument missing/],
    [['graph', 'tutorial', 'bridge:3', '--out', join(out, 'g.svg')], /give one topology \(a name or a file\), not 2/],
    [['kept', 'frob'], /netspec kept: unknown action "frob": list, shell or end/],
    [['kept', 'end'], /netspec kept: give the id of a kept lab; kept labs: /],
    [['kept', 'shell', 'no-such-lab'], /netspec kept: no kept lab "no-such-lab"/],
    [['frobnicate'], /netspec: unknown command "frobnicate"/],
  ];
  const runs = await Promise.all(cases.map(([args]) => cli(...args)));
  runs.forEach((r, i) => {
    expect(r.code, `${cases[i]![0].join(' ')}: ${r.out}`).toBe(2);
    expect(r.out).toMatch(cases[i]![1]);
  });
  expect(existsSync(join(out, 'g.svg'))).toBe(false);
});

test('graph --out creates the folder; a path that cannot be written fails at once, before any lab is built', async () => {
  const dir = tempDir('netspec-cli-');
  const svg = join(dir, 'out', 'deeper', 'edge.svg');
  const ok = await cli('graph', 'bridge:2', '--out', svg);
  expect(ok.code, ok.out).toBe(0);
  expect(readFileSync(svg, 'utf8')).toMatch(/^<svg/);
  const t = performance.now();
  const bad = await cli('graph', 'bridge:2', '--out', '/proc/netspec-no-such/edge.svg');
  expect(bad.code, bad.out).toBe(1);
  expect(bad.out).toMatch(/netspec: .*(ENOENT|EACCES|EROFS|no such file|permission denied|read-only)/i);
  expect(bad.out).not.toMatch(/graph LR/); // nothing was built or drawn
  expect(performance.now() - t).toBeLessThan(20_000);
});
