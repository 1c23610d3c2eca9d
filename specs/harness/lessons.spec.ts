// CI for the lessons: every reference solution passes, every untouched starter fails for the intended reason.
import { describe, expect, test } from '../../src/vitest.js';
import { LessonFailure, runLesson, scriptOf } from '../../lessons/lesson.js';
import { lessons } from '../../lessons/lessons.js';

describe.each(lessons.map((l) => [l.id, l] as const))('lesson %s', (id, lesson) => {
  test('the reference solution passes', async ({ lab }) => {
    await runLesson(lab, lesson, scriptOf(id, 'solution'));
  });

  test('the untouched starter fails, teaching what is missing', async ({ lab }) => {
    const error = await runLesson(lab, lesson, scriptOf(id, 'script')).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(LessonFailure);
    expect((error as Error).message).toMatch(lesson.starterFails);
    expect((error as Error).message).toMatch(/Hint:/);
  });
});
