/**
 * The course's command line, shared by `npm run lessons -- …` (lessons/run.ts, here) and `netspec lessons …` (the
 * installed package): run lessons, show a hint, list progress, or watch a workspace and re-run the current lesson on
 * every save. Labs are made with `createLab` and freed after each run; nothing leaves them.
 */
import { copyFileSync, existsSync, mkdirSync, renameSync, rmSync, watch as fsWatch } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createLab } from '../src/index.js';
import { runInteractive } from '../src/exec.js';
import { keptDir } from '../src/lab.js';
import { attemptIn, courseDir, describeFailedLine, LessonFailure, limit, referenceAttempt, runLesson, runScript, type Lesson, type ScriptRun } from './course.js';
import { findLesson, lessons, RENAMED } from './lessons.js';
import { drawFailure, type Picture } from './picture.js';
import { hashFiles, Progress, type ReportRow } from './progress.js';

export interface CourseIo {
  out: (line: string) => void;
  err: (line: string) => void;
  /** How the learner calls the course (`npm run lessons --` or `netspec lessons`), for the lines that say what next. */
  prog: string;
  /** The output is a terminal: the watch mode clears the screen before each run (default: stdout's isTTY). */
  tty?: boolean;
}

const defaultIo: CourseIo = { out: (l) => console.log(l), err: (l) => console.error(l), prog: 'npm run lessons --' };

/** Clears a terminal's screen and scrollback, cursor home (what `clear` prints). */
export const CLEAR = '\x1b[2J\x1b[3J\x1b[H';

export const USAGE = (prog: string) => `usage: ${prog} [NN…] [--dir DIR] [--solution]
       ${prog} hint [NN] [--dir DIR]
       ${prog} list [--dir DIR]
       ${prog} --report [--json] [--dir DIR]
       ${prog} shell NN [NAMESPACE] [--dir DIR]
       ${prog} --watch [DIR]

  NN…          run these lessons (default: all) against your scripts, and say what is missing
  hint [NN]    a hint for the first unfinished lesson (or NN), one step more each time you ask
  list         the lessons, with your progress and the hints you asked for
  --report     your progress, lesson by lesson: passed, hints used, runs, time from the first run to the pass
               (--json: the same as JSON, for a teacher collecting a class's)
  shell NN     lesson NN's lab built with your script as it is now, and a shell in it (in the lab's host, or
               in NAMESPACE); the lab is kept while the shell runs (\`netspec kept\` lists it) and ends with it
  --watch DIR  copy the starters into DIR (when it has none), then re-run the current lesson on every save,
               moving on when it passes
  --dir DIR    your scripts are in DIR (a folder made by --watch DIR)
  --solution   run the reference solutions (also NETSPEC_LESSON=solution)

Without DIR: the folder you last watched, else the course's own (./netspec-lessons where netspec is installed).
Progress is kept in $XDG_STATE_HOME/netspec/lessons.json (default ~/.local/state/netspec/).`;

export interface Outcome {
  lesson: Lesson<any>;
  ok: boolean;
  failure?: unknown;
  /** The learner's lab as it failed: state and topology files, and the Mermaid text. */
  picture?: Picture;
  /** What the learner's script printed, and where it failed, when it ran. */
  script?: ScriptRun;
}

/**
 * Run one lesson against the workspace's files (or the reference ones). With progress, a kata's assertion already
 * shown to expose the fault (the same file) is not shown again: a re-run after a fix of the script is one lab.
 */
export async function attempt(lesson: Lesson<any>, workspace: string, solution = false, progress?: Progress): Promise<Outcome> {
  const files = solution ? referenceAttempt(lesson) : attemptIn(workspace, lesson);
  if (progress && files.assertion && !solution) {
    const hash = hashFiles([files.assertion]);
    files.assertionChecked = progress.exposes(lesson.id, hash);
    files.onAssertionChecked = () => progress.recordExposes(lesson.id, hash);
  }
  let picture: Picture | undefined;
  let script: ScriptRun | undefined;
  if (!solution) files.onFailure = async (lab, failure) => void (picture = await drawFailure(lab, lesson.id, failure));
  files.onScript = (run) => void (script = run);
  try {
    await runLesson(lesson, files, () => createLab());
    return { lesson, ok: true, script };
  } catch (failure) {
    return { lesson, ok: false, failure, picture, script };
  }
}

function filesOf(lesson: Lesson<any>, workspace: string): string[] {
  const a = attemptIn(workspace, lesson);
  return [a.script, ...(a.assertion ? [a.assertion] : [])];
}

function indent(text: string, by = '    '): string {
  return text
    .split('\n')
    .map((l) => (l ? `${by}${l}` : l))
    .join('\n');
}

/** A failure as the learner reads it: the lesson's words, netspec's explanation; an internal error says so. */
export function formatFailure(failure: unknown): string {
  if (failure instanceof LessonFailure) return failure.message;
  return `netspec could not run this lesson: ${failure instanceof Error ? failure.message : String(failure)}`;
}

/** How many lines of a script's output the screen shows (the last ones); the rest are counted, not shown. */
export const OUTPUT_LINES = 15;

/**
 * What the learner's script printed (its last OUTPUT_LINES lines, saying how many were hidden), and the lines where a
 * command of it failed: the first one is usually the cause.
 */
export function scriptSection(run: ScriptRun | undefined): string {
  if (!run) return '';
  const parts: string[] = [];
  const lines = run.output ? run.output.split('\n') : [];
  if (lines.length === 0) parts.push('your script printed nothing');
  else {
    const hidden = Math.max(0, lines.length - OUTPUT_LINES);
    parts.push(`── your script's output${hidden ? ` (last ${OUTPUT_LINES} lines; ${hidden} earlier line${hidden === 1 ? '' : 's'} hidden)` : ''} ──`);
    parts.push(indent(lines.slice(hidden).join('\n'), '  │ '));
  }
  const shown = run.failed.slice(0, 3);
  if (shown.length) {
    parts.push(`your script failed at ${describeFailedLine(shown[0]!)}`);
    for (const f of shown.slice(1)) parts.push(`  and at ${describeFailedLine(f)}`);
    if (run.failed.length > shown.length) parts.push(`  (and ${run.failed.length - shown.length} more failed commands)`);
  }
  return parts.join('\n');
}

/** `[#####>-----] 5/15`: the lessons that pass with the files as they are now. */
export function progressLine(passed: number, total: number, width = 30): string {
  const done = Math.round((passed / total) * width);
  const bar = '#'.repeat(done) + (done < width ? '>' + '-'.repeat(width - done - 1) : '');
  return `progress: [${bar}] ${passed}/${total} lessons passed`;
}

/** Where the learner's failed lab was drawn. */
function pictureFiles(r: Outcome): string {
  return r.picture ? `\n\nyour lab as it failed: ${r.picture.files.svg} (Mermaid: ${r.picture.files.mermaid}; state: ${r.picture.files.dump})` : '';
}

/** Run the lessons, three at a time, reporting in order. */
async function runAll(picked: Lesson<any>[], workspace: string, solution: boolean, progress: Progress | undefined, io: CourseIo): Promise<number> {
  // three at a time; results are reported in order however they finish
  const slot = limit(3);
  const results = picked.map((lesson) => slot(() => attempt(lesson, workspace, solution, progress)));
  let passed = 0;
  for (let i = 0; i < picked.length; i++) {
    const r = await results[i]!;
    if (r.ok) passed++;
    if (!solution) progress?.record(r.lesson.id, r.ok, hashFiles(filesOf(r.lesson, workspace)));
    io.out(`${r.ok ? '✓' : '✗'} ${r.lesson.id}: ${r.lesson.title}`);
    if (!r.ok && r.script?.failed.length) io.out(indent(scriptSection(r.script)));
    if (!r.ok) io.out(indent(formatFailure(r.failure) + pictureFiles(r)));
  }
  io.out(`\n${passed} of ${picked.length} lessons passed${solution ? ' (reference solutions)' : ''}`);
  if (passed < picked.length && !solution) io.out(`stuck? \`${io.prog} hint\` gives a hint, one step at a time`);
  return passed === picked.length ? 0 : 1;
}

/** The first lesson not passed with the files as they are now. */
function current(workspace: string, progress: Progress): number {
  const i = lessons.findIndex((l) => !progress.passedWith(l.id, hashFiles(filesOf(l, workspace))));
  return i === -1 ? lessons.length : i;
}

async function hint(key: string | undefined, workspace: string, progress: Progress, io: CourseIo): Promise<number> {
  const lesson = key ? findLesson(key) : lessons[current(workspace, progress)];
  if (!lesson) {
    if (key) return unknownLesson(key, io);
    io.out('every lesson passed: no hint needed.');
    return 0;
  }
  io.out(`${lesson.id}: ${lesson.title}`);
  const r = await attempt(lesson, workspace, false, progress);
  progress.record(lesson.id, r.ok, hashFiles(filesOf(lesson, workspace)));
  if (r.ok) {
    io.out('  it passes already: no hint needed.');
    return 0;
  }
  if (!(r.failure instanceof LessonFailure) || r.failure.hints.length === 0) {
    io.out(indent(formatFailure(r.failure)));
    return 1;
  }
  const f = r.failure;
  const level = progress.nextHint(lesson.id, f.step, f.hints.length);
  io.out(`  what is wrong: ${f.message.split('\n')[0]}`);
  io.out(`  hint ${level + 1} of ${f.hints.length}: ${f.hints[level]}`);
  if (level + 1 < f.hints.length) io.out(`  (ask again for the next one: \`${io.prog} hint\`)`);
  return 1;
}

function unknownLesson(key: string, io: CourseIo): number {
  io.err(`no lesson ${key}; the lessons are: ${lessons.map((l) => l.id).join(', ')}`);
  return 2;
}

/** Copy the starters (never over the learner's files) into a workspace of their own. */
export function copyStarters(dir: string): number {
  let copied = 0;
  for (const l of lessons) {
    const to = join(dir, l.id);
    mkdirSync(to, { recursive: true });
    for (const name of l.kind === 'kata' ? ['script.sh', 'assert.mjs'] : ['script.sh']) {
      if (existsSync(join(to, name))) continue;
      copyFileSync(join(courseDir, l.id, name), join(to, name));
      copied++;
    }
  }
  return copied;
}

/**
 * Resolves when one of the lesson's files has content other than `since` (editors that replace the file included): at
 * once when it was saved while the lesson ran, else on the next save that changes it.
 */
function changed(lesson: Lesson<any>, workspace: string, since: string): Promise<void> {
  if (hashFiles(filesOf(lesson, workspace)) !== since) return Promise.resolve();
  return new Promise((resolveChange) => {
    const dir = join(workspace, lesson.id);
    let timer: NodeJS.Timeout | undefined;
    const watcher = fsWatch(dir, () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        if (hashFiles(filesOf(lesson, workspace)) === since) return;
        watcher.close();
        resolveChange();
      }, 150);
    });
  });
}

async function watchMode(workspace: string, progress: Progress, io: CourseIo): Promise<number> {
  let said = `your scripts are in ${workspace}`;
  if (workspace !== courseDir) {
    const copied = copyStarters(workspace);
    if (copied) said = `copied the starters into ${workspace}`;
  }
  const passing = () => lessons.filter((l) => progress.passedWith(l.id, hashFiles(filesOf(l, workspace)))).length;
  for (let i = current(workspace, progress); i < lessons.length; ) {
    const lesson = lessons[i]!;
    const hash = hashFiles(filesOf(lesson, workspace));
    // a fresh screen per run on a terminal; a log (not a terminal) gets every run, one after the other
    if (io.tty) io.out(CLEAR);
    io.out(`${said}\n${progressLine(passing(), lessons.length)}\n\n── ${lesson.id}: ${lesson.title} ──`);
    said = `your scripts are in ${workspace}`;
    const r = await attempt(lesson, workspace, false, progress);
    progress.record(lesson.id, r.ok, hash);
    if (r.script) io.out(scriptSection(r.script));
    if (r.ok) {
      io.out(`✓ ${lesson.id} passes`);
      // the next run clears the screen: it says first which lesson just passed
      said = `✓ ${lesson.id} passes; on to the next one (your scripts are in ${workspace})`;
      i++;
      continue;
    }
    io.out(`✗ ${lesson.id}`);
    io.out(indent(formatFailure(r.failure) + pictureFiles(r)));
    if (r.picture) io.out(`\n  your lab as it failed (Mermaid):\n${indent(r.picture.mermaid)}`);
    io.out(`\nedit ${filesOf(lesson, workspace).join(' and ')} and save; \`${io.prog} hint\` for a hint; Ctrl-C to stop`);
    await changed(lesson, workspace, hash);
  }
  io.out(`\n${progressLine(passing(), lessons.length)}\nevery lesson passes. Well done.`);
  return 0;
}

/** A learner's folders of lessons the course renamed get the new names (never over a folder of the new name). */
function renameFolders(workspace: string, io: CourseIo): void {
  for (const [from, to] of Object.entries(RENAMED)) {
    const [a, b] = [join(workspace, from), join(workspace, to)];
    if (!existsSync(a) || existsSync(b)) continue;
    renameSync(a, b);
    io.err(`netspec lessons: the course renamed lesson ${from} to ${to}: your folder ${a} is now ${b}`);
  }
}

function duration(seconds: number | undefined): string {
  if (seconds === undefined) return '-';
  if (seconds < 60) return `${seconds}s`;
  const m = Math.floor(seconds / 60);
  return m < 60 ? `${m}m${String(seconds % 60).padStart(2, '0')}s` : `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

/** The teacher's view: a learner's progress lesson by lesson, as a table or as JSON. */
function printReport(rows: ReportRow[], json: boolean, workspace: string, io: CourseIo): number {
  const passed = rows.filter((r) => r.passed).length;
  if (json) {
    io.out(JSON.stringify({ workspace, passed, total: rows.length, lessons: rows }, null, 2));
    return 0;
  }
  io.out(`progress of ${workspace}: ${passed} of ${rows.length} lessons passed\n`);
  io.out(`   ${'lesson'.padEnd(22)} ${'hints'.padStart(5)} ${'runs'.padStart(5)} ${'time'.padStart(8)}`);
  for (const r of rows) io.out(`${r.passed ? '✓' : r.runs ? '✗' : ' '}  ${r.id.padEnd(22)} ${String(r.hints).padStart(5)} ${String(r.runs).padStart(5)} ${duration(r.seconds).padStart(8)}`);
  io.out('\ntime: from the first run of a lesson to its first pass (still running: to its last run)');
  return 0;
}

/** A namespace name as `ip netns` takes it. */
const NS_NAME = /^[A-Za-z0-9_.-]{1,64}$/;

/**
 * `shell NN [NS]`: lesson NN's lab, set up and with the learner's script run (a failing script is shown, and the shell
 * opens anyway: that is when one is needed), kept while the shell runs (`netspec kept shell ID` opens more), ended
 * when it exits.
 */
async function lessonShell(key: string | undefined, ns: string | undefined, workspace: string, io: CourseIo): Promise<number> {
  if (!key) {
    io.err(`shell needs a lesson: \`${io.prog} shell NN [NAMESPACE]\`; the lessons are: ${lessons.map((l) => l.id).join(', ')}`);
    return 2;
  }
  const lesson = findLesson(key);
  if (!lesson) return unknownLesson(key, io);
  if (ns !== undefined && !NS_NAME.test(ns)) {
    io.err(`namespace ${JSON.stringify(ns)}: a namespace name is letters, digits, _ . - (the lab's are listed when the shell opens)`);
    return 2;
  }
  const { script } = attemptIn(workspace, lesson);
  const lab = await createLab();
  let kept: { id: string; keeper: number } | undefined;
  try {
    await lesson.setup?.(lab);
    let run: ScriptRun | undefined;
    try {
      run = await runScript(lab, script);
    } catch (error) {
      if (!(error instanceof LessonFailure)) throw error;
      run = error.script;
      if (!run) io.out(formatFailure(error));
    }
    if (run) io.out(scriptSection(run));
    const names = lab.namespaces();
    if (ns !== undefined && ns !== 'host' && !names.includes(ns)) {
      io.err(`lesson ${lesson.id}'s lab has no namespace ${ns}; its namespaces: host, ${names.join(', ') || '(none but the host)'}`);
      return 2;
    }
    const where = ns ?? 'host';
    kept = lab.keep(`lesson ${lesson.id} shell`);
    io.out(
      `a shell in lesson ${lesson.id}'s lab, in ${where === 'host' ? "the lab's host" : `namespace ${where}`} (namespaces: host, ${names.join(', ')}), after your script ${script}.\n` +
        `Another shell in it: \`netspec kept shell ${kept.id} [NAMESPACE]\`. \`exit\` ends the lab.`,
    );
    return await runInteractive([...lab.enter(where), 'bash', '--norc', '-i'], { PS1: `[lesson ${lesson.id} ${where}] \\w# ` });
  } finally {
    if (kept) {
      try {
        process.kill(kept.keeper, 'SIGTERM');
      } catch {
        /* gone already */
      }
      rmSync(join(keptDir(), `${kept.id}.json`), { force: true });
    }
    await lab.dispose();
  }
}

export async function lessonsMain(argv: readonly string[], given: CourseIo = defaultIo): Promise<number> {
  const io: CourseIo = { ...given, tty: given.tty ?? Boolean(process.stdout.isTTY) };
  const args = [...argv];
  const flag = (name: string) => {
    const i = args.indexOf(name);
    if (i === -1) return false;
    args.splice(i, 1);
    return true;
  };
  const valueOf = (name: string) => {
    const i = args.indexOf(name);
    if (i === -1) return undefined;
    const v = args[i + 1];
    if (v === undefined || v.startsWith('--')) throw new Error(`${name} needs a folder`);
    args.splice(i, 2);
    return v;
  };
  if (flag('--help') || flag('-h') || args[0] === 'help') {
    io.out(USAGE(io.prog));
    return 0;
  }
  // the state and pictures of failed lessons go to a folder of this user's, not into the learner's folder
  process.env.NETSPEC_OUTPUT_DIR ??= join(tmpdir(), `netspec-lessons-${process.getuid?.() ?? 'user'}`, 'failures');
  const solution = flag('--solution') || process.env.NETSPEC_LESSON === 'solution';
  const watching = flag('--watch') || args[0] === 'watch';
  const report = flag('--report') || args[0] === 'report';
  if (args[0] === 'report') args.shift();
  const json = flag('--json');
  if (args[0] === 'watch') args.shift();
  let dir = valueOf('--dir');
  if (watching && !dir && args[0] && !/^\d/.test(args[0])) dir = args.shift();
  const progress = new Progress({ warn: io.err, renamed: RENAMED });
  // default: the folder last watched; else the course's own folder, unless that is in node_modules (the installed
  // package), where the learner's copy is ./netspec-lessons
  const workspace = dir ? resolve(dir) : (progress.last ?? (courseDir.includes('/node_modules/') ? resolve('netspec-lessons') : courseDir));
  progress.use(workspace, watching);
  if (workspace !== courseDir) renameFolders(workspace, io);
  if (watching) return watchMode(workspace, progress, io);
  if (workspace !== courseDir && !existsSync(workspace)) throw new Error(`${workspace} does not exist (make it with \`${io.prog} --watch ${dir ?? workspace}\`)`);
  if (args[0] === 'hint') return hint(args[1], workspace, progress, io);
  if (report) return printReport(progress.report(lessons), json, workspace, io);
  if (args[0] === 'shell') return lessonShell(args[1], args[2], workspace, io);
  if (args[0] === 'list') {
    const done = new Set(progress.passedIds());
    for (const l of lessons) {
      const hints = progress.hintsUsed(l.id);
      io.out(`${done.has(l.id) ? '✓' : ' '} ${l.id} (${l.kind}): ${l.title}${hints ? `  [${hints} hint${hints === 1 ? '' : 's'}]` : ''}`);
    }
    io.out(`\n${done.size} of ${lessons.length} passed (workspace ${workspace}); the task of each is at the top of its script.sh`);
    return 0;
  }
  const picked: Lesson<any>[] = [];
  for (const key of args) {
    const l = findLesson(key);
    if (!l) return unknownLesson(key, io);
    picked.push(l);
  }
  if (workspace !== courseDir && !solution) io.out(`your scripts: ${workspace}\n`);
  return runAll(picked.length ? picked : lessons, workspace, solution, solution ? undefined : progress, io);
}

