/**
 * The picture of a learner's lab when a lesson fails: its state, and its topology as Mermaid and SVG (with the failing
 * probe's path in red when a matcher gave one), as the `lab` fixture draws a failed spec's lab. The public API has no
 * way to draw a lab yet (writeFailureReport is what the fixture uses): this file is the one place the course reaches
 * past it, and only the runner (cli.ts) imports it; the lessons' checks use the public API alone.
 */
import type { Lab } from '../src/index.js';
import { writeFailureReport } from '../src/report.js';
import type { LessonFailure } from './course.js';

export interface Picture {
  mermaid: string;
  files: { dump: string; mermaid: string; svg: string };
}

export async function drawFailure(lab: Lab, lessonId: string, failure: LessonFailure): Promise<Picture | undefined> {
  const report = await writeFailureReport(lab, { test: lessonId, failed: failure.evidence?.failed, states: failure.evidence?.states, diagnosis: [failure.message] }).catch(() => undefined);
  return report && { mermaid: report.mermaid, files: report.files };
}
