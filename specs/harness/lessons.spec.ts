// CI for the course (lessons/): every reference solution passes, every untouched starter fails for its intended
// reason with hints to give, every kata's reference assertion fails on the broken lab and passes on the repaired one.
import { readFileSync } from 'node:fs';
import { describe, expect, test } from '../../src/vitest.js';
import { createLab } from '../../src/index.js';
import { attemptIn, courseDir, LessonFailure, referenceAttempt, runLesson } from '../../lessons/course.js';
import { lessons } from '../../lessons/lessons.js';

const newLab = () => createLab();
const failureOf = (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => e);

describe.concurrent.each(lessons.map((l) => [l.id, l] as const))('lesson %s', (_id, lesson) => {
  test('the reference solution passes', async () => {
    await runLesson(lesson, referenceAttempt(lesson), newLab);
  });

  test('the untouched starter fails, saying what is missing, with hints to give', async () => {
    const error = await failureOf(runLesson(lesson, lesson.kind === 'kata' ? { ...attemptIn(courseDir, lesson), assertion: referenceAttempt(lesson).assertion } : attemptIn(courseDir, lesson), newLab));
    expect(error).toBeInstanceOf(LessonFailure);
    expect((error as LessonFailure).message).toMatch(lesson.starterFails);
    expect((error as LessonFailure).hints.length).toBeGreaterThanOrEqual(2);
  });
});
