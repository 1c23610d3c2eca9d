/**
 * `netspec/vitest`: Vitest's `test` with a fresh, private `lab` per test (disposed after it on pass, failure or
 * timeout), and `expect` with netspec's matchers registered.
 *
 * Just over 300 lines on purpose: the fixture, its failure reports and the parent watch share one test's lifecycle.
 */
import { relative } from 'node:path';
import { test as base, expect, type TestContext } from 'vitest';
import { NetspecError } from './errors.js';
import { createLab, liveLabs, type Lab, type LabOptions } from './lab.js';
import { writeFailureReport } from './report.js';
import { deadlineMs, EXPLAIN_MS, matchers, type Evidence, type MatcherResult } from './matchers/index.js';
import type { MatcherContext } from './matchers/format.js';
import { Netns } from './netns.js';
import { PacketCounter } from './counter.js';
import type { Scope } from './scope.js';

export type { Evidence, MatcherResult, ReachabilityExpectation, RouteEntry, RouteEntryNexthop, ToHaveArpEntryOptions, ToHaveLinkOptions, ToHaveRuleOptions, ToReachOptions, ToRouteViaOptions, ToCountOptions, ToLandOnOptions, AllowedPort, ExposureOptions, ToReachOnlyOptions } from './matchers/index.js';
export { netspecConfig, type NetspecConfigOptions } from './config.js';

type RunnerTest = TestContext['task'];

/** A place in the test file: annotations carry one (GitHub Actions shows only annotations that have one). */
interface Place {
  file: string;
  line: number;
  column: number;
}

/** One netspec assertion a test started on its lab. */
interface Assertion {
  call: string;
  place?: Place;
  /** Still running when its test ended without failing: never awaited (it resolves quietly; the test fails instead). */
  orphan?: boolean;
}

/** A failed assertion, as the matcher returned it. */
interface Failure {
  message: string;
  evidence?: Evidence;
  place?: Place;
}

/** The fixture's record of one test's lab: the test-runner state (which used to live on the lab itself). */
interface LabRun {
  test: RunnerTest;
  pending: Set<Assertion>;
  failures: Failure[];
  warned: boolean;
}

const runs = new WeakMap<Scope, LabRun>();

type RawMatcher = (this: MatcherContext, received: unknown, ...args: unknown[]) => Promise<MatcherResult>;

/**
 * The matchers as registered: each one is called as it is (it stays pure: pass, message, evidence), and the fixture
 * records what the test needs — a failure with its evidence for the report, an assertion still running when the test
 * ends (a missing `await`), a deadline the test's timeout would cut off. Values outside a fixture lab pass through.
 */
function watched(all: Record<string, unknown>): Record<string, RawMatcher> {
  return Object.fromEntries(
    Object.entries(all).map(([name, m]) => {
      const matcher = m as RawMatcher;
      return [
        name,
        function (this: MatcherContext, received: unknown, ...args: unknown[]): Promise<MatcherResult> {
          const ns = received instanceof Netns ? received : received instanceof PacketCounter ? received.ns : undefined;
          const run = runs.get((ns ? ns.lab : received) as Scope);
          if (!run) return matcher.call(this, received, ...args);
          const isNot = this.isNot === true; // Vitest leaves it undefined without .not
          // the caller's line: this part runs synchronously under the spec's `expect(…).toReach(…)`
          const assertion: Assertion = { call: `expect(${received instanceof Netns ? received.name : received instanceof PacketCounter ? 'counter' : 'lab'})${isNot ? '.not' : ''}.${name}(…)`, place: placeIn(new Error().stack, run.test.file.filepath) };
          warnIfCutOff(run, assertion, deadlineMs(name, isNot, args));
          run.pending.add(assertion);
          const quiet = (): MatcherResult => ({ pass: !isNot, message: () => `${assertion.call} was never awaited` });
          return matcher.call(this, received, ...args).then(
            (result) => {
              run.pending.delete(assertion);
              if (assertion.orphan) return quiet();
              if (result.pass === isNot) run.failures.push({ message: result.message(), evidence: result.evidence, place: assertion.place });
              return result;
            },
            (error: unknown) => {
              run.pending.delete(assertion);
              if (assertion.orphan) return quiet(); // the test failed for it already, saying why: no unhandled LabGoneError later
              throw error;
            },
          );
        },
      ];
    }),
  );
}

/** Warn when the test's timeout would end it before the matcher decides and explains (Vitest's 5 s default does). */
function warnIfCutOff(run: LabRun, assertion: Assertion, deadline: number | undefined): void {
  const { test } = run;
  if (deadline === undefined || run.warned || !(test.timeout > 0) || test.result?.startTime === undefined) return;
  const left = test.timeout - (Date.now() - test.result.startTime);
  if (deadline + EXPLAIN_MS <= left) return;
  run.warned = true;
  console.warn(
    `netspec: ${callAt(assertion)} may take ${deadline} ms to decide, and up to ${EXPLAIN_MS} ms more to explain a failure, ` +
      `but the test has ${Math.max(0, Math.round(left))} ms left of its ${test.timeout} ms timeout: a timeout would replace netspec's diagnosis with "Test timed out". ` +
      'Give the test more time: netspecConfig() in vitest.config.ts (from netspec/vitest), or test(name, fn, ms).',
  );
}

/** `expect(red).toReach(…) at specs/x.spec.ts:12:9` */
function callAt(a: Assertion): string {
  return `${a.call}${a.place ? ` at ${where(a.place)}` : ''}`;
}

function where(place: Place): string {
  return `${relative(process.cwd(), place.file)}:${place.line}:${place.column}`;
}

/** The first frame of a V8 stack that is in `file`. */
function placeIn(stack: string | undefined, file: string): Place | undefined {
  for (const line of (stack ?? '').split('\n').slice(1)) {
    const m = /\(?(?:file:\/\/)?([^\s()]+):(\d+):(\d+)\)?\s*$/.exec(line);
    if (m && m[1] === file) return { file, line: Number(m[2]), column: Number(m[3]) };
  }
  return undefined;
}


/**
 * Inside a Vitest worker (where tests run). A config file may import this module for `netspecConfig()`: there, outside
 * any test run, Vitest's `test.extend` throws ("failed to find the current suite"), so nothing is registered.
 */
const inWorker = typeof (globalThis as { __vitest_worker__?: unknown }).__vitest_worker__ === 'object';

if (inWorker) expect.extend(watched(matchers) as unknown as Parameters<typeof expect.extend>[0]);

/**
 * A Vitest worker whose main process died (SIGKILL, say) would run on, its labs with it, until it noticed on its own.
 * Watch the parent: when this process is re-parented (the parent is gone), end the live labs and exit. The IPC channel
 * of a forks-pool worker closing is the early sign; the check runs every 500 ms anyway (any pool, unref'd).
 */
function watchParent(): void {
  const key = Symbol.for('netspec.watchParent');
  const g = globalThis as { [key]?: boolean };
  if (g[key] || !process.env.VITEST || !inWorker) return;
  g[key] = true;
  const parent = process.ppid;
  let ending = false;
  const check = () => {
    if (ending || process.ppid === parent) return;
    ending = true;
    clearInterval(timer);
    const labs = liveLabs();
    try {
      process.stderr.write(`netspec: Vitest's main process (pid ${parent}) is gone; ending ${labs.length} live lab(s) and this worker (pid ${process.pid})\n`);
    } catch {
      /* nobody reads stderr any more */
    }
    const force = setTimeout(() => process.exit(1), 2_000);
    force.unref();
    void Promise.allSettled(labs.map((lab) => lab.dispose())).finally(() => process.exit(1));
  };
  const timer = setInterval(check, 500);
  timer.unref();
  // the channel closes as the parent dies; re-parenting follows a moment later
  process.once('disconnect', () => {
    for (const ms of [20, 100, 250]) setTimeout(check, ms).unref();
  });
}
watchParent();

export interface NetspecFixtures {
  /** A fresh, private network lab for this test; the kernel frees everything in it when the test ends. */
  lab: Lab;
  /** Options for the `lab` fixture; override with `test.scoped({ labOptions: {...} })` or `test.extend`. */
  labOptions: LabOptions;
}

const withLab = () =>
  base.extend<NetspecFixtures>({
    labOptions: [{}, { injected: true }],
    lab: async ({ labOptions, task, annotate }, use) => {
      const lab = await createLab(labOptions);
      const run: LabRun = { test: task, pending: new Set(), failures: [], warned: false };
      runs.set(lab, run);
      let kept = false;
      let unawaited: NetspecError | undefined;
      try {
        await use(lab);
      } finally {
        runs.delete(lab);
        const open = [...run.pending];
        if (open.length > 0 && task.result?.state !== 'fail') {
          for (const a of open) a.orphan = true;
          unawaited = notAwaited(open);
        }
        if ((task.result?.state === 'fail' || unawaited) && lab.alive) {
          try {
            await reportLab(lab, run, task, annotate, open, unawaited);
            if (process.env.NETSPEC_KEEP === '1') {
              const k = lab.keep(task.name);
              kept = true;
              process.stderr.write(
                `\nnetspec: kept the lab of "${task.name}" (NETSPEC_KEEP=1) as ${k.id}\n  a shell in it:          npx netspec kept shell ${k.id} [NAMESPACE]\n  end it:                 npx netspec kept end ${k.id}\n  (without the CLI) open a shell inside it: ${k.enter}\n  end it:                 ${k.end}\n`,
              );
            }
          } catch (error) {
            process.stderr.write(`netspec: could not report on the failed lab: ${error instanceof Error ? error.message : String(error)}\n`);
          }
        }
        if (!kept) await lab.dispose();
        if (unawaited) failWith(task, unawaited, open[0]!.place);
      }
    },
  });

export const test = inWorker ? withLab() : (base as unknown as ReturnType<typeof withLab>);

function notAwaited(open: readonly Assertion[]): NetspecError {
  const calls = open.map(callAt);
  return new NetspecError(
    `${calls.join(', ')} ${open.length === 1 ? 'was' : 'were'} never awaited: the test ended while ${open.length === 1 ? 'it was' : 'they were'} still running, so ${open.length === 1 ? 'it' : 'they'} checked nothing. ` +
      `netspec's matchers are async: write \`await ${open[0]!.call}\`.`,
  );
}

/**
 * The report of a failed test's lab: its state, the picture (with the failing probe's path when a matcher gave one) and
 * the diagnosis, as files and as annotations on the test (which the default, JUnit, GitHub Actions and HTML reporters
 * show). Every failed test that used the fixture's lab gets one, whatever failed it.
 */
async function reportLab(lab: Lab, run: LabRun, task: RunnerTest, annotate: TestContext['annotate'], open: readonly Assertion[], unawaited?: NetspecError): Promise<void> {
  const errors = task.result?.errors ?? [];
  // the matcher failures that failed the test (a caught one did not); their evidence draws the path
  const failed = run.failures.filter((f) => errors.some((e) => typeof e?.message === 'string' && e.message.endsWith(f.message)));
  const drawn = [...failed].reverse().find((f) => f.evidence?.failed && f.evidence.world === lab)?.evidence;
  const diagnosis = unawaited ? [unawaited.message] : errors.map((e) => `${e?.name && !e.message?.startsWith('expect(') ? `${e.name}: ` : ''}${e?.message ?? String(e)}`);
  // a test that timed out: what it was waiting for
  if (!unawaited && open.length > 0) diagnosis.push(`still running when the test ended: ${open.map(callAt).join(', ')}`);
  const report = await writeFailureReport(lab, { test: task.name, failed: drawn?.failed, states: drawn?.states, diagnosis });
  if (!report) return;
  const place = failed.at(-1)?.place ?? open.find((a) => a.place)?.place ?? errorPlace(task) ?? { file: task.file.filepath, line: task.location?.line ?? 1, column: task.location?.column ?? 1 };
  let annotated = true;
  try {
    // Vitest names a copied attachment after the message, so the long texts go without attachments
    // the console: the namespaces on the failing probe's path, and the topology as a file (NETSPEC_REPORT=full: all inline)
    const off = report.offPath.length ? ` (the path's namespaces; ${report.offPath.join(', ')} in the report file, or here with NETSPEC_REPORT=full)` : '';
    await annotateLate(task, annotate, place, `netspec: the lab's state${off}\n${report.console}`, 'netspec:state');
    if (process.env.NETSPEC_REPORT === 'full') await annotateLate(task, annotate, place, `netspec: the topology\n\`\`\`mermaid\n${report.mermaid}\n\`\`\``, 'netspec:topology');
    else await annotateLate(task, annotate, place, 'netspec: the topology (Mermaid)', 'netspec:topology', { path: report.files.mermaid, contentType: 'text/plain' });
    await annotateLate(task, annotate, place, 'netspec: picture', 'netspec:picture', { path: report.files.svg, contentType: 'image/svg+xml' });
  } catch (error) {
    annotated = false;
    process.stderr.write(`netspec: could not annotate the failed test: ${error instanceof Error ? error.message : String(error)}\n`);
  }
  process.stderr.write(`\nnetspec: the lab of the failed test "${task.name}":\n  state: ${report.files.dump}\n  picture: ${report.files.svg}\n${annotated ? '' : `${report.dump}\n`}`);
}

/**
 * Fail a test that passed, from the fixture's teardown, with the error once. (Thrown from a fixture's teardown, an error
 * is recorded twice by Vitest 4.1, which runs a cleanup that threw again.) Its stack is the spec's line, so every
 * reporter points there.
 */
function failWith(task: RunnerTest, error: NetspecError, place?: Place): void {
  const result = task.result;
  if (!result) throw error;
  if (place) error.stack = `${error.name}: ${error.message}\n    at ${place.file}:${place.line}:${place.column}`;
  result.state = 'fail';
  (result.errors ??= []).push({ name: error.name, message: error.message, stack: error.stack });
}

/** Where the test's own code failed: the first frame in the test file of its errors. */
function errorPlace(task: RunnerTest): Place | undefined {
  for (const e of task.result?.errors ?? []) {
    const frame = e?.stacks?.find((f) => f.file === task.file.filepath);
    if (frame) return { file: frame.file, line: frame.line, column: frame.column };
    const place = placeIn(e?.stack, task.file.filepath);
    if (place) return place;
  }
  return undefined;
}

/**
 * Annotate a test that has ended (failed, or about to fail). Vitest takes an annotation only while its test runs (it
 * checks `task.result.state === 'run'` when `annotate` is called) and locates it from the caller's stack (GitHub
 * Actions drops one without a place); a fixture's teardown is neither. So for the synchronous part of the call only, the
 * state reads 'run' and a new stack is the failing line's; both are restored before anything else runs. Vitest 4's
 * runner (`context.annotate`, `recordArtifact`); specs/reporting/reporters.spec.ts checks every reporter shows them.
 */
function annotateLate(task: RunnerTest, annotate: TestContext['annotate'], place: Place, message: string, type: string, attachment?: { path?: string; contentType?: string }): Promise<unknown> {
  const result = task.result;
  const state = result?.state;
  const own = Object.getOwnPropertyDescriptor(Error, 'prepareStackTrace');
  let pending: Promise<unknown>;
  try {
    if (result) result.state = 'run';
    Error.prepareStackTrace = () => `Error: STACK_TRACE\n    at ${place.file}:${place.line}:${place.column}`;
    pending = attachment ? annotate(message, type, attachment) : annotate(message, type);
  } finally {
    if (own) Object.defineProperty(Error, 'prepareStackTrace', own);
    else delete (Error as { prepareStackTrace?: unknown }).prepareStackTrace;
    if (result && state) result.state = state;
  }
  return pending;
}

export const it = test;
export { expect };
export { describe, beforeAll, afterAll, beforeEach, afterEach, vi } from 'vitest';
export type { Lab } from './lab.js';
