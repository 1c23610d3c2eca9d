import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

const src = (path: string) => new URL(path, import.meta.url).pathname;

// How the suite runs (issue 28). Vitest's default on a 2-core machine is ONE worker (cores - 1), so every file ran after
// the one before and the suite's time was the sum of its files' times, although most of it is spent waiting in probe
// windows. Vitest reads `sequence.concurrent` from the ROOT config only (a project's own is ignored: until this was
// found, the tests of every file ran one after another whatever the projects said); so it is on for all, and a
// project's `maxConcurrency` is what sets how many tests of one file run at once (1: one after another). Three groups
// run one after the other (Vitest gives a group one worker count: projects that share a group share its workers; and
// it runs a project of group 0 with one worker after everything else, so the groups start at 1):
//  - "in-order" (group 1): files whose tests share state (vi mocks, beforeAll labs, tallies; SEQUENTIAL), four at a
//    time: their tests wait in probe windows one after another and leave the CPU mostly idle (two at a time, in the
//    same group as "labs", they held its two workers for the first 55 s of a run; four at a time, in a group of their
//    own, 32 s);
//  - "labs" (group 2): every other file, two at a time, and the tests of a file concurrently;
//  - "serial" (group 3): work that loads the whole machine on purpose or measures time, alone, so it neither starves
//    the rest nor is disturbed by it: the soundness harness's saturated half saturates every core; shaping and exec deadlines compare
//    wall times with bounds.
// NETSPEC_WORKERS / NETSPEC_CONCURRENCY (and NETSPEC_SEQ_WORKERS for "in-order") override the figures. On 2 cores, 2
// workers × 3 tests took 570 s and 3 × 3 took 522 s (2026-12-07, quiet machine, both passing); the default stays at 2:
// more load means slower veth delivery and ARP/ND under ksoftirqd, and so more no-verdict errors, for 8% (README, Speed).
const SERIAL = ['specs/verdicts/soundness.spec.ts', 'specs/harness/shaping.spec.ts', 'specs/reliability/exec-timeout.spec.ts'];
// files whose tests share state and so run one after another (beside the other files of the group): environment variables set
// for one test (NETSPEC_TRACE), module mocks that record every spawn, vi spies on shared modules
const SEQUENTIAL = [
  'specs/verdicts/nftables.spec.ts',
  'specs/reliability/no-injection.spec.ts',
  'specs/reliability/settle-keep.spec.ts',
  'specs/reliability/prerequisites.spec.ts',
  'specs/reliability/exec-script.spec.ts',
  'specs/reliability/isolation-sh.spec.ts', // sets NETSPEC_LIFELINE_SHELL for its whole worker
  'specs/verdicts/soundness-slow.spec.ts', // its figures are the tally of the test before
  'specs/reliability/spawner.spec.ts', // kills its worker's spawner (src/spawner.ts), which every file of that worker uses
  'specs/reliability/exec-timeout-input.spec.ts', // counts this process's live labs before and after
  'specs/reliability/lab-runner.spec.ts', // sets NETSPEC_LAB_RUNNER=off while a lab makes its first command
];
// The longest files first (longest processing time first: the short ones fill the gaps at the end). Vitest's own order
// is its cache's durations where it has them and file size where it does not, as in CI's fresh clone: the real-engine
// Docker files are small (a suite shared by three engines) and ran last, 80 s in which only they ran. File times of
// a whole run (2026-12-08, stop 38, 2 workers, a busy machine), longest first; a file not listed keeps Vitest's order
// after these.
const LONGEST = [
  'specs/docker/emulation.spec.ts', // 70 s
  'specs/docker/real-docker.spec.ts', // 53 s
  'specs/harness/lessons.spec.ts', // 45 s
  'specs/docker/real-docker-28.spec.ts', // 44 s
  'specs/docker/real-docker-26.spec.ts', // 42 s
  'specs/diagnosis/faults.spec.ts', // 33 s
  'specs/exposure/firewall.spec.ts', // 31 s
  'specs/verdicts/redirects.spec.ts', // 21 s
  'specs/verdicts/false-pass.spec.ts', // 19 s
  'specs/reliability/bad-input-table.spec.ts', // 19 s
  'specs/reliability/no-injection.spec.ts', // 18 s (in-order)
  'specs/reporting/config.spec.ts', // 15 s
  'specs/verdicts/nftables.spec.ts', // 15 s (in-order)
  'specs/types/matchers-alone.spec.ts', // 15 s
  'specs/verdicts/observed-landing.spec.ts', // 15 s
  'specs/verdicts/proxy-adversarial.spec.ts', // 14 s
  'specs/reliability/prerequisites.spec.ts', // 14 s (in-order)
  'specs/verdicts/soundness-slow.spec.ts', // 14 s (in-order)
];
class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const vitest = await super.sort(files);
    const rank = (f: TestSpecification) => {
      const i = LONGEST.findIndex((name) => f.moduleId.endsWith(`/${name}`));
      return i === -1 ? LONGEST.length : i;
    };
    // groups and projects keep Vitest's order (a group runs after the one before; a group's projects in name order)
    const key = (f: TestSpecification) => [f.project.config.sequence.groupOrder, f.project.name] as const;
    return vitest
      .map((f, i) => ({ f, i }))
      .sort((a, b) => {
        const [ga, pa] = key(a.f);
        const [gb, pb] = key(b.f);
        return ga - gb || (pa < pb ? -1 : pa > pb ? 1 : 0) || rank(a.f) - rank(b.f) || a.i - b.i;
      })
      .map(({ f }) => f);
  }
}
const workers = Number(process.env.NETSPEC_WORKERS ?? 2);
const concurrency = Number(process.env.NETSPEC_CONCURRENCY ?? 3);

export default defineConfig({
  // specs in this repository import netspec by its package name, as a user's would, without a build
  resolve: {
    alias: [
      { find: /^netspec\/vitest$/, replacement: src('./src/vitest.ts') },
      { find: /^netspec\/matchers$/, replacement: src('./src/matchers/index.ts') },
      { find: /^netspec\/fixtures$/, replacement: src('./fixtures/index.ts') },
      { find: /^netspec$/, replacement: src('./src/index.ts') },
    ],
  },
  // an unprivileged user (CI's) may not write into node_modules: let it put Vite's cache elsewhere
  cacheDir: process.env.NETSPEC_CACHE_DIR ?? 'node_modules/.vite',
  test: {
    pool: 'forks',
    // transformed modules on disk, shared by the workers and the child runs the specs start (a child run took 4.0 s of
    // CPU without it, 1.8 s with it); beside Vite's cache where an unprivileged run puts that (NETSPEC_CACHE_DIR)
    experimental: { fsModuleCache: true, ...(process.env.NETSPEC_CACHE_DIR ? { fsModuleCachePath: `${process.env.NETSPEC_CACHE_DIR}/modules` } : {}) },
    sequence: { concurrent: true, sequencer: LongestFirst },
    // the temporary folders a spec file made are removed when its last test ends (specs/helpers/temp.ts)
    setupFiles: ['specs/helpers/temp-cleanup.ts'],
    // netspec's entry points as JavaScript for the specs that run the CLI as a user does (specs/helpers/compiled.ts)
    globalSetup: ['specs/helpers/compiled-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // the type tests (specs/**/*.test-d.ts), in the "labs" project; NETSPEC_TYPECHECK=0 leaves them out (`npm run specs`:
    // Vitest's --typecheck.enabled=false does not reach a project's own setting)
    typecheck: { enabled: process.env.NETSPEC_TYPECHECK !== '0', include: ['specs/**/*.test-d.ts'], tsconfig: './tsconfig.json' },
    projects: [
      {
        extends: true,
        test: {
          name: 'labs',
          include: ['specs/**/*.spec.ts'],
          exclude: [...SERIAL, ...SEQUENTIAL],
          // a worker keeps the modules it loaded for its next file (netspec's own src/ is most of each file's start-up)
          isolate: false,
          maxWorkers: workers,
          maxConcurrency: concurrency,
          sequence: { groupOrder: 2 },
        },
      },
      {
        extends: true,
        test: {
          name: 'in-order',
          include: SEQUENTIAL,
          maxWorkers: Number(process.env.NETSPEC_SEQ_WORKERS ?? 4),
          maxConcurrency: 1,
          sequence: { groupOrder: 1 },
          typecheck: { enabled: false },
        },
      },
      {
        extends: true,
        test: {
          name: 'serial',
          include: SERIAL,
          maxWorkers: 1,
          maxConcurrency: 1,
          sequence: { groupOrder: 3 },
          typecheck: { enabled: false },
        },
      },
    ],
  },
});
