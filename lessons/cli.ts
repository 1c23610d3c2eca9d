/**
 * The course's command line, shared by `npm run lessons -- …` (lessons/run.ts, here) and `netspec lessons …` (the
 * installed package): run lessons, show a hint, list progress, or watch a workspace and re-run the current lesson on
 * every save. Labs are made with `createLab` and freed after each run; nothing leaves them.
 */
import { copyFileSync, existsSync, mkdirSync, watch as fsWatch } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createLab } from '../src/index.js';
import { attemptIn, courseDir, LessonFailure, limit, referenceAttempt, runLesson, type Lesson } from './course.js';
import { findLesson, lessons } from './lessons.js';
import { drawFailure, type Picture } from './picture.js';
import { hashFiles, Progress } from './progress.js';

export interface CourseIo {
  out: (line: string) => void;
  err: (line: string) => void;
  /** How the learner calls the course (`npm run lessons --` or `netspec lessons`), for the lines that say what next. */
  prog: string;
}

const defaultIo: CourseIo = { out: (l) => console.log(l), err: (l) => console.error(l), prog: 'npm run lessons --' };

export const USAGE = (prog: string) => `usage: ${prog} [NN…] [--dir DIR] [--solution]
       ${prog} hint [NN] [--dir DIR]
       ${prog} list [--dir DIR]
       ${prog} --watch [DIR]

  NN…          run these lessons (default: all) against your scripts, and say what is missing
  hint [NN]    a hint for the first unfinished lesson (or NN), one step more each time you ask
  list         the lessons, with your progress
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
  if (!solution) files.onFailure = async (lab, failure) => void (picture = await drawFailure(lab, lesson.id, failure));
  try {
    await runLesson(lesson, files, () => createLab());
    return { lesson, ok: true };
  } catch (failure) {
    return { lesson, ok: false, failure, picture };
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
  if (workspace !== courseDir) {
    const copied = copyStarters(workspace);
    io.out(copied ? `copied the starters into ${workspace}` : `your scripts are in ${workspace}`);
  }
  for (let i = current(workspace, progress); i < lessons.length; ) {
    const lesson = lessons[i]!;
    const hash = hashFiles(filesOf(lesson, workspace));
    io.out(`\n── ${lesson.id}: ${lesson.title} ──`);
    const r = await attempt(lesson, workspace, false, progress);
    progress.record(lesson.id, r.ok, hash);
    if (r.ok) {
      io.out(`✓ ${lesson.id} passes`);
      i++;
      continue;
    }
    io.out(`✗ ${lesson.id}`);
    io.out(indent(formatFailure(r.failure) + pictureFiles(r)));
    if (r.picture) io.out(`\n  your lab as it failed (Mermaid):\n${indent(r.picture.mermaid)}`);
    io.out(`\nedit ${filesOf(lesson, workspace).join(' and ')} and save; \`${io.prog} hint\` for a hint; Ctrl-C to stop`);
    await changed(lesson, workspace, hash);
  }
  io.out('\nevery lesson passes. Well done.');
  return 0;
}

export async function lessonsMain(argv: readonly string[], io: CourseIo = defaultIo): Promise<number> {
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
  if (args[0] === 'watch') args.shift();
  let dir = valueOf('--dir');
  if (watching && !dir && args[0] && !/^\d/.test(args[0])) dir = args.shift();
  const progress = new Progress({ warn: io.err });
  // default: the folder last watched; else the course's own folder, unless that is in node_modules (the installed
  // package), where the learner's copy is ./netspec-lessons
  const workspace = dir ? resolve(dir) : (progress.last ?? (courseDir.includes('/node_modules/') ? resolve('netspec-lessons') : courseDir));
  progress.use(workspace, watching);
  if (watching) return watchMode(workspace, progress, io);
  if (workspace !== courseDir && !existsSync(workspace)) throw new Error(`${workspace} does not exist (make it with \`${io.prog} --watch ${dir ?? workspace}\`)`);
  if (args[0] === 'hint') return hint(args[1], workspace, progress, io);
  if (args[0] === 'list') {
    const done = new Set(progress.passedIds());
    for (const l of lessons) io.out(`${done.has(l.id) ? '✓' : ' '} ${l.id} (${l.kind}): ${l.title}`);
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

