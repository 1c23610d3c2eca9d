import type { Lesson } from './course.js';
export const katas: Lesson<any>[] = [];
