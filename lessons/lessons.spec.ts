// The learner's lessons: each runs lessons/NN-name/script.sh (or solution.sh with NETSPEC_LESSON=solution) in a lab.
// Run them with `npm run lessons` (all) or `npm run lessons -- 03` (one).
import { test } from '../src/vitest.js';
import { runLesson, scriptOf } from './lesson.js';
import { lessons } from './lessons.js';

const only = process.env.NETSPEC_LESSON_ONLY;
for (const lesson of lessons) {
  if (only && !lesson.id.startsWith(only)) continue;
  test(`${lesson.id}: ${lesson.title}`, async ({ lab }) => {
    await runLesson(lab, lesson, scriptOf(lesson.id));
  });
}
