/**
 * The course's engine: what a lesson and a kata are, where their files live, and how one is run in a lab. It uses
 * netspec's public API only (`createLab`, the handles, `netspec/matchers`, `netspec/fixtures`), as a learner's own
 * specs would, and runs without Vitest: `npm run lessons`, `netspec lessons` from the installed package, and the CI
 * spec (specs/harness/lessons.spec.ts) all call `runLesson`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Lab } from '../src/index.js';
import { matchers, type Evidence, type MatcherContext, type MatcherResult } from '../src/matchers/index.js';

/** One thing a lesson checks: what is wrong when it fails, and hints in steps (command family, then the object). */
export interface Need {
  /** Names the step for progress (which hints were shown), e.g. `bridge`. */
  step: string;
  /** What is missing, said as a fact ("there is no bridge v-net-0 that is UP"); never how to make it. */
  says: string;
  /** Shown one at a time on request: first which command family, then which object is missing; never the answer. */
  hints: readonly string[];
}

export interface Lesson<C = unknown> {
  /** `01-namespaces` */
  id: string;
  title: string;
  kind: 'lesson' | 'kata';
  /** What the lesson starts from (earlier lessons, Docker's own rules), built through the API; its value goes to check. */
  setup?: (lab: Lab) => Promise<C>;
  /** Throws a LessonFailure when the step is not done. */
  check: (lab: Lab, context: C) => Promise<void>;
  /** What an untouched starter must fail with (checked in CI); for a kata, its broken script under the reference assertion. */
  starterFails: RegExp;
  /** Katas only: hints for writing the assertion (which matcher, then which namespace and target). */
  assertionHints?: readonly string[];
  /** Katas only: what the reference assertion's failure on the broken lab must say (its disposition, say). */
  exposes?: RegExp;
}

export class LessonFailure extends Error {
  override name = 'LessonFailure';
  constructor(
    message: string,
    /** The step that failed (`script` when the learner's script itself failed). */
    readonly step: string,
    readonly hints: readonly string[],
    /** The failed matcher's evidence (`netspec/matchers`: the failing probe's path, the state it read), if any. */
    readonly evidence?: Evidence,
    /** The learner's script run, when the failure is about it (it stopped with an error). */
    readonly script?: ScriptRun,
  ) {
    super(message);
  }
}

/** A netspec assertion that failed (through `expect` below): its message is the one a spec's user reads. */
export class AssertionFailure extends Error {
  override name = 'AssertionFailure';
  constructor(
    message: string,
    readonly evidence?: Evidence,
  ) {
    super(message);
  }
}

type MatcherName = keyof typeof matchers;
type Assertions = { [K in MatcherName]: (...args: unknown[]) => Promise<void> };
export type Expect = (received: unknown) => Assertions & { not: Assertions };

/**
 * `expect(red).toReach('192.168.15.2')` without Vitest: netspec's matchers as plain functions (`netspec/matchers`),
 * failing with the matcher's own message. `onCall` counts the assertions (a kata's assertion must make one).
 */
export function makeExpect(onCall: () => void = () => undefined): Expect {
  const assertions = (received: unknown, isNot: boolean): Assertions =>
    Object.fromEntries(
      Object.entries(matchers).map(([name, fn]) => [
        name,
        async (...args: unknown[]) => {
          onCall();
          const r = await (fn as (this: MatcherContext, ...a: unknown[]) => Promise<MatcherResult>).call({ isNot, audience: 'learner' }, received, ...args);
          if (r.pass === isNot) throw new AssertionFailure(r.message(), r.evidence);
        },
      ]),
    ) as Assertions;
  return (received) => Object.assign(assertions(received, false), { not: assertions(received, true) });
}

export const expect: Expect = makeExpect();

/**
 * Run an assertion; when it fails, fail with what is missing first and netspec's own explanation after it. An error
 * that is not a failed assertion (a probe that could not run, a lab that went away) is no verdict on the learner's
 * work: it goes through as it is.
 */
export async function need(assertion: () => Promise<unknown>, n: Need): Promise<void> {
  try {
    await assertion();
  } catch (error) {
    if (!(error instanceof AssertionFailure)) throw error;
    throw new LessonFailure(`${n.says}\n\n── what netspec saw ──\n${error.message}`, n.step, n.hints, error.evidence);
  }
}

/** A failure that is a plain fact (no matcher to quote). */
export function fail(n: Need): never {
  throw new LessonFailure(n.says, n.step, n.hints);
}

/**
 * The folder with the lesson folders and the reference files: `lessons/` here, beside `dist/` in the installed
 * package (the compiled course is `dist/lessons/`, the scripts stay in `lessons/`).
 */
export const courseDir: string = (() => {
  const here = new URL('.', import.meta.url).pathname;
  return existsSync(join(here, '01-namespaces')) ? resolve(here) : resolve(here, '..', '..', 'lessons');
})();

/** A reference file of a lesson: `solution.sh`, and for katas `broken.sh` and `solution.mjs`. */
export function referenceFile(id: string, name: string): string {
  const path = join(courseDir, id, name);
  if (!existsSync(path)) throw new Error(`no ${name} in ${join(courseDir, id)}`);
  return path;
}

/** What a run uses: the learner's script (and, for a kata, assertion), or the reference ones. */
export interface Attempt {
  script: string;
  /** Katas: the learner's assertion module (`assert.mjs`). */
  assertion?: string;
  /**
   * Katas: this very assertion was already shown to fail on the broken lab and pass on the repaired one (the runner
   * keeps that in the learner's progress), so a re-run after an edit of the script skips those two labs.
   */
  assertionChecked?: boolean;
  /** Called once the assertion has been shown to expose the fault. */
  onAssertionChecked?: () => void;
  /** Called when the learner's lab fails the lesson, while the lab is still alive (the runner draws it then). */
  onFailure?: (lab: Lab, failure: LessonFailure) => Promise<void>;
  /** Called with what the learner's script printed and where it failed (the watch mode shows it). */
  onScript?: (run: ScriptRun) => void;
}

/** The learner's files of a lesson in a workspace (the course folder itself, or a copy made by `--watch DIR`). */
export function attemptIn(workspace: string, lesson: Lesson): Attempt {
  const dir = join(workspace, lesson.id);
  return { script: join(dir, 'script.sh'), assertion: lesson.kind === 'kata' ? join(dir, 'assert.mjs') : undefined };
}

export function referenceAttempt(lesson: Lesson): Attempt {
  return { script: referenceFile(lesson.id, 'solution.sh'), assertion: lesson.kind === 'kata' ? referenceFile(lesson.id, 'solution.mjs') : undefined };
}

/** A command of the script that failed (bash's ERR trap): its line in the script, its exit status, the command. */
export interface FailedLine {
  line: number;
  status: number;
  command: string;
  /** The text of that line in the script, as the learner wrote it. */
  text?: string;
}

/** What the learner's script did: its output (stdout and stderr as one stream, in order), its exit code, its failed commands. */
export interface ScriptRun {
  script: string;
  exitCode: number;
  output: string;
  /** Commands that failed, in order (bash's ERR trap: not those in `if`, `&&`, `||`, nor inside functions). */
  failed: FailedLine[];
}

/** Marks the ERR trap's lines in the output (a unit separator: no script prints it by chance). */
const MARK = '\x1fnetspec-err';

/**
 * How a script is run: `bash -c WRAPPER SCRIPT` sets $0 to the script's path, sets an ERR trap that prints each failed
 * command's status, line and text behind MARK, joins stderr to stdout (one stream, in order), and sources the script
 * unchanged. Its `exit` is the shell's exit; only a top-level `return` (which `bash script.sh` refuses) differs.
 */
export const SCRIPT_WRAPPER = `trap 'printf "\\037netspec-err %s %s %s\\n" "$?" "$LINENO" "\${BASH_COMMAND//$'"'\\n'"'/ }"' ERR; exec 2>&1; . "$0"`;

/** The output without the trap's lines, and the failed commands they name (the wrapper's own `.` line is not one). */
export function parseScriptOutput(raw: string, scriptText = ''): { output: string; failed: FailedLine[] } {
  const lines = scriptText.split('\n');
  const failed: FailedLine[] = [];
  const kept: string[] = [];
  for (const l of raw.split('\n')) {
    const m = l.startsWith(MARK) ? /^\x1fnetspec-err (\d+) (\d+) (.*)$/.exec(l) : null;
    if (!m) {
      if (!l.startsWith(MARK)) kept.push(l);
      continue;
    }
    if (m[3] === '. "$0"') continue;
    const line = Number(m[2]);
    failed.push({ status: Number(m[1]), line, command: m[3]!, text: lines[line - 1]?.trim() });
  }
  // bash's own complaints name the line too (a syntax error stops the script before any trap): `SCRIPT: line N: …`
  if (failed.length === 0) {
    for (const l of kept) {
      const m = /: line (\d+): (.*)$/.exec(l);
      if (m) {
        failed.push({ status: 2, line: Number(m[1]), command: m[2]!, text: lines[Number(m[1]) - 1]?.trim() });
        break;
      }
    }
  }
  return { output: kept.join('\n').replace(/\n+$/, ''), failed };
}

/** Where a script failed, as the learner reads it: `line 4: ip link set veth-red up  (exit 1)`. */
export function describeFailedLine(f: FailedLine): string {
  return `line ${f.line}: ${f.text || f.command}  (exit status ${f.status})`;
}

/**
 * Run a script in the lab's host as the learner would (`bash script.sh`, as root in the lab), with an ERR trap that
 * names the line of each command that failed (SCRIPT_WRAPPER); the script itself runs unchanged.
 */
export async function runScript(lab: Lab, script: string, whose = 'your script'): Promise<ScriptRun> {
  if (!existsSync(script)) throw new LessonFailure(`${script} does not exist`, 'script', [`Create ${script} (a bash script).`]);
  const r = await lab.run('host', ['bash', '-c', SCRIPT_WRAPPER, script], { intent: `run ${script}`, reject: false });
  const { output, failed } = parseScriptOutput(`${r.stdout}${r.stderr ? `\n${r.stderr}` : ''}`, readFileSync(script, 'utf8'));
  const run: ScriptRun = { script, exitCode: r.exitCode, output, failed };
  if (r.exitCode !== 0) {
    const tail = output.trim().split('\n').slice(-5).join('\n');
    const where = failed.length ? `\nit failed at ${describeFailedLine(failed[failed.length - 1]!)}` : '';
    throw new LessonFailure(`${whose} stopped with exit code ${r.exitCode}; fix the command it complains about first:${where}\n${tail}`, 'script', [
      'Run the command it names by hand in the lesson\'s lab (`shell NN` of the course) and read its error.',
      'A command that fails stops nothing in bash by itself; look at the last lines above: the first error is usually the cause.',
    ], undefined, run);
  }
  return run;
}

/** A kata's assertion: `export default async function ({ lab, expect }) { await expect(lab.get('red')).toReach(…) }`. */
export type KataAssertion = (context: { lab: Lab; expect: Expect }) => Promise<void>;

/** A fresh copy on every call (the learner edits the file between runs): a query makes it a new module. */
const importFresh = (url: string): Promise<{ default?: unknown }> => import(/* @vite-ignore */ url);
let loads = 0;

export async function loadAssertion(path: string): Promise<KataAssertion> {
  if (!existsSync(path)) throw new LessonFailure(`${path} does not exist`, 'assertion', ['Create it: `export default async function ({ lab, expect }) { … }`.']);
  const mod = await importFresh(`${pathToFileURL(path).href}?v=${Date.now()}-${++loads}`).catch((error: unknown) => {
    throw new LessonFailure(`your assertion (${path}) does not load: ${error instanceof Error ? error.message : String(error)}`, 'assertion', [
      'It is a JavaScript module: `export default async function ({ lab, expect }) { await expect(…)… }`.',
    ]);
  });
  if (typeof mod.default !== 'function') {
    throw new LessonFailure(`your assertion (${path}) has no default export function`, 'assertion', ['`export default async function ({ lab, expect }) { … }`']);
  }
  return mod.default as KataAssertion;
}

/** Run a kata's assertion on a lab; `calls` says how many netspec assertions it made. */
export async function runAssertion(lab: Lab, assertion: KataAssertion): Promise<{ calls: number; error?: unknown }> {
  let calls = 0;
  const expectCounting = makeExpect(() => calls++);
  try {
    await assertion({ lab, expect: expectCounting });
    return { calls };
  } catch (error) {
    return { calls, error };
  }
}

/** At most `n` of the calls run at once; the others wait their turn (labs are cheap, a machine's cores are not). */
export function limit(n: number): <T>(run: () => Promise<T>) => Promise<T> {
  let free = n;
  const waiting: (() => void)[] = [];
  return async (run) => {
    if (free === 0) await new Promise<void>((r) => waiting.push(r));
    else free--;
    try {
      return await run();
    } finally {
      const next = waiting.shift();
      if (next) next();
      else free++;
    }
  };
}

/** Makes a lab (`createLab`, or a spec's own options); runLesson disposes every lab it made. */
export type LabMaker = () => Promise<Lab>;

function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Phase 1 of a kata: the learner's assertion must fail on the lab as built (broken.sh) and pass on the repaired one
 * (the reference solution.sh), with a netspec assertion doing the failing: that proves it exposes this fault.
 */
export async function checkAssertion(lesson: Lesson, assertionPath: string, labs: { broken: Lab; repaired: Lab }): Promise<AssertionFailure> {
  const hints = lesson.assertionHints ?? [];
  const assertion = await loadAssertion(assertionPath);
  const build = async (lab: Lab, script: string) => {
    const context = await lesson.setup?.(lab);
    await runScript(lab, script, `the kata's ${script.endsWith('broken.sh') ? 'broken' : 'repaired'} script`);
    return context;
  };
  await Promise.all([build(labs.broken, referenceFile(lesson.id, 'broken.sh')), build(labs.repaired, referenceFile(lesson.id, 'solution.sh'))]);
  const [broken, repaired] = await Promise.all([runAssertion(labs.broken, assertion), runAssertion(labs.repaired, assertion)]);
  if (broken.calls === 0 && !broken.error) {
    throw new LessonFailure(`your assertion (${assertionPath}) asserts nothing yet: write the netspec assertion that fails on this broken lab.`, 'assertion', hints);
  }
  if (broken.error && !(broken.error instanceof AssertionFailure)) {
    throw new LessonFailure(`your assertion stopped with an error, not a failed assertion (an error proves nothing about the lab):\n${describeError(broken.error)}`, 'assertion', hints);
  }
  if (!broken.error) {
    throw new LessonFailure(`your assertion passes on the broken lab: it does not expose the fault yet. Assert what should work and does not.`, 'assertion', hints);
  }
  if (repaired.error) {
    throw new LessonFailure(
      `your assertion fails on the broken lab, good, but also on the repaired one: it asserts something the fix does not give.\n\n── on the repaired lab, netspec saw ──\n${describeError(repaired.error)}`,
      'assertion',
      hints,
    );
  }
  return broken.error as AssertionFailure;
}

/**
 * Build the lesson's starting point, run the script in it, and check (a kata: its assertion on the broken and the
 * repaired lab first, then its checks and the assertion on the learner's lab). Every lab made here is disposed here.
 */
export async function runLesson(lesson: Lesson, attempt: Attempt, newLab: LabMaker): Promise<void> {
  const labs: Lab[] = [];
  const make = async () => {
    const lab = await newLab();
    labs.push(lab);
    return lab;
  };
  try {
    if (lesson.kind === 'kata' && !attempt.assertionChecked) {
      if (!attempt.assertion) throw new Error(`kata ${lesson.id} needs an assertion`);
      const [broken, repaired] = await Promise.all([make(), make()]);
      await checkAssertion(lesson, attempt.assertion, { broken, repaired });
      attempt.onAssertionChecked?.();
    }
    const lab = await make();
    const context = await lesson.setup?.(lab);
    try {
      // not `onScript?.(await runScript(…))`: an optional call without a function skips its arguments, the script too
      const run = await runScript(lab, attempt.script);
      attempt.onScript?.(run);
      await lesson.check(lab, context);
    } catch (error) {
      if (!(error instanceof LessonFailure)) throw error;
      if (error.script) attempt.onScript?.(error.script);
      // a kata's second step: say that the first one is done
      const failure = lesson.kind === 'kata' ? new LessonFailure(`step 1 done: your assertion exposes the fault. Step 2: fix script.sh.\n\n${error.message}`, error.step, error.hints, error.evidence, error.script) : error;
      await attempt.onFailure?.(lab, failure);
      throw failure;
    }
    if (attempt.assertion) {
      const r = await runAssertion(lab, await loadAssertion(attempt.assertion));
      if (r.error) {
        throw new LessonFailure(`the kata's checks pass, but your own assertion fails on your repaired lab:\n${describeError(r.error)}`, 'fix', [
          'Your assertion passed on the reference repair: compare what your script builds with what it asserts.',
        ]);
      }
    }
  } finally {
    await Promise.allSettled(labs.map((l) => l.dispose()));
  }
}
