import type { Lesson } from './course.js';
export const dockerLessons: Lesson<any>[] = [];
