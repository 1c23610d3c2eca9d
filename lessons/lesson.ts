/**
 * A lesson: a step of the container-network tutorial that the learner writes as a shell script. `setup` builds what
 * earlier lessons built (through the API), the learner's script runs in the lab unchanged, and `check` asserts the
 * result; when it fails, the message says what is missing and which command family fixes it, not the answer.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Lab } from '../src/index.js';

export interface Lesson {
  /** `01-namespaces` */
  id: string;
  title: string;
  /** What earlier lessons built, through the API. */
  setup?: (lab: Lab) => Promise<void>;
  /** Throws a LessonFailure when the step is not done. */
  check: (lab: Lab) => Promise<void>;
  /** What an untouched starter must fail with (checked in CI). */
  starterFails: RegExp;
}

export class LessonFailure extends Error {
  override name = 'LessonFailure';
}

/** Run an assertion; if it fails, fail with the lesson's hint first and the assertion's own explanation after it. */
export async function hint(assertion: Promise<unknown> | (() => Promise<unknown>), lesson: string): Promise<void> {
  try {
    await (typeof assertion === 'function' ? assertion() : assertion);
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    throw new LessonFailure(`${lesson}\n\n── what netspec saw ──\n${detail}`);
  }
}

export const lessonsDir = new URL('.', import.meta.url).pathname;

/** The script a lesson runs: the learner's `script.sh` by default, `solution.sh` with NETSPEC_LESSON=solution. */
export function scriptOf(id: string, which: 'script' | 'solution' = process.env.NETSPEC_LESSON === 'solution' ? 'solution' : 'script'): string {
  const path = join(lessonsDir, id, `${which}.sh`);
  if (!existsSync(path)) throw new Error(`no ${which}.sh in lessons/${id}`);
  return path;
}

/** Build the lesson's starting point, run a script in it, and check. */
export async function runLesson(lab: Lab, lesson: Lesson, script: string): Promise<void> {
  await lesson.setup?.(lab);
  const r = await lab.run('host', ['bash', script], { intent: `run ${script}`, reject: false });
  if (r.exitCode !== 0) {
    throw new LessonFailure(`your script stopped with exit code ${r.exitCode}; fix the command it complains about first:\n${r.stderr.trim().split('\n').slice(-5).join('\n')}`);
  }
  await lesson.check(lab);
}
