// CI for the course (lessons/): every reference solution passes; every untouched starter fails for its intended
// reason, with hints to give; every kata's reference assertion fails on the broken lab (saying what its `exposes`
// says) and passes on the repaired one; `hint`, progress and `--watch` work from the command line, as a learner
// runs them. Lessons are independent: they run concurrently, each in labs of its own.
import { spawn } from 'node:child_process';
import { runProcess } from '../helpers/process.js';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from '../../src/vitest.js';
import { createLab } from '../../src/index.js';
import { AssertionFailure, attemptIn, checkAssertion, courseDir, LessonFailure, limit, referenceAttempt, referenceFile, runLesson } from '../../lessons/course.js';
import { lessons } from '../../lessons/lessons.js';
import { matchers } from '../../src/matchers/index.js';
import { compiled } from '../helpers/compiled.js';

const root = new URL('../..', import.meta.url).pathname;
// labs are cheap, but a failing probe's diagnosis is real work: at most four lessons at once, with time to spare on
// a loaded machine (a kata is three labs and up to three diagnoses)
const TIMEOUT = 120_000;
const gated = limit(4);
const newLab = () => createLab();
const failureOf = (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => e);
const katas = lessons.filter((l) => l.kind === 'kata');

/**
 * What a learner's message must not contain: netspec's API (a spec author's words: `serve(lab.host, …)`,
 * `ns.routes()`) and the answer (a command of the lesson's reference solution, or a `sysctl -w`). Returns what it found.
 */
const API = [/\bserve\(/, /\blab\.\w/, /\bns\.\w+\(/, /\.routes\(/, /\.rules\(/, /\.links\(\)/, /\bexpect\(\w+\)/, /sysctl -w/];
function leaks(message: string, lesson: { id: string }): string[] {
  const lines = (file: string) =>
    readFileSync(file, 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
  // the answer: the solution's commands the starter lacks (a kata's starter already has most of them)
  const starter = new Set(lines(join(courseDir, lesson.id, 'script.sh')));
  const answer = lines(referenceFile(lesson.id, 'solution.sh')).filter((l) => !starter.has(l) && /\S\s+\S/.test(l));
  return [...API.filter((re) => re.test(message)).map(String), ...answer.filter((command) => message.includes(command))];
}
const scratch = mkdtempSync(join(tmpdir(), 'netspec-lessons-spec-'));
// the lab's root is an ordinary user to the machine: the learner's scripts must be readable by others, as in a checkout
chmodSync(scratch, 0o755);
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

test('the course has the tutorial, at least four Docker/firewall lessons and at least three katas, numbered in order', () => {
  expect(lessons.filter((l) => l.kind === 'lesson').length).toBeGreaterThanOrEqual(9);
  expect(katas.length).toBeGreaterThanOrEqual(3);
  expect(lessons.map((l) => l.id)).toEqual([...lessons.map((l) => l.id)].sort());
  expect(new Set(lessons.map((l) => l.id.slice(0, 2))).size).toBe(lessons.length);
});

describe.concurrent.each(lessons.map((l) => [l.id, l] as const))('lesson %s', (_id, lesson) => {
  // a kata's first step (its assertion against the broken and the repaired lab) has a test of its own below
  test('the reference solution passes', () => gated(() => runLesson(lesson, { ...referenceAttempt(lesson), assertionChecked: true }, newLab)), TIMEOUT);

  test('the untouched starter fails, saying what is missing, with hints to give', () => gated(async () => {
    // a kata's starter script is the broken one; with the reference assertion, its own checks must fail on it
    const attempt = lesson.kind === 'kata' ? { ...attemptIn(courseDir, lesson), assertion: referenceAttempt(lesson).assertion, assertionChecked: true } : attemptIn(courseDir, lesson);
    const error = await failureOf(runLesson(lesson, attempt, newLab));
    expect(error).toBeInstanceOf(LessonFailure);
    expect((error as LessonFailure).message).toMatch(lesson.starterFails);
    expect((error as LessonFailure).hints.length).toBeGreaterThanOrEqual(2);
    // the learner's screen: no API name, no answer
    expect(leaks((error as LessonFailure).message, lesson)).toEqual([]);
  }), TIMEOUT);
});

test('the scan for API names and answers finds them (a message with each is caught)', () => {
  const lesson = lessons.find((l) => l.id === '05-internet')!;
  expect(leaks('run a server there with serve(lab.host, …); ns.routes() lists it', lesson)).toEqual(['/\\bserve\\(/', '/\\blab\\.\\w/', '/\\bns\\.\\w+\\(/', '/\\.routes\\(/']);
  expect(leaks('turn it on with `sysctl -w net.ipv4.ip_forward=1`', lesson)).toEqual(['/sysctl -w/', 'sysctl -w net.ipv4.ip_forward=1']);
  expect(leaks('red has no way out of its network.', lesson)).toEqual([]);
});

test("a matcher read by a learner (audience 'learner') states the fact without the command; a spec's author still gets the command", () => gated(async () => {
  const lab = await createLab();
  try {
    // a lab's host starts with forwarding off
    const spec = await matchers.toForward.call({ isNot: false }, lab.host);
    const learner = await matchers.toForward.call({ isNot: false, audience: 'learner' }, lab.host);
    expect(spec.pass).toBe(false);
    expect(learner.pass).toBe(false);
    expect(spec.message()).toMatch(/sysctl -w net\.ipv4\.ip_forward=1/);
    expect(learner.message()).toMatch(/host does not forward: net\.ipv4\.ip_forward=0/);
    expect(learner.message()).not.toMatch(/sysctl -w/);
    // its first line says what was checked, in words; a spec's author reads the assertion as written
    expect(learner.message()).toMatch(/^expected: host forwards IP packets\n/);
    expect(spec.message()).toMatch(/^expect\(host\)\.toForward\(\)\n/);
  } finally {
    await lab.dispose();
  }
}), TIMEOUT);

/** A lesson's reference solution with the lines matching `drop` left out: a learner's usual mistake. */
function mistake(id: string, drop: RegExp): string {
  const dir = join(scratch, `mistake-${id}-${drop.source.replace(/\W+/g, '_')}`);
  mkdirSync(dir, { recursive: true });
  const text = readFileSync(referenceFile(id, 'solution.sh'), 'utf8').split('\n').filter((l) => !drop.test(l)).join('\n');
  writeFileSync(join(dir, 'script.sh'), text, { mode: 0o644 });
  chmodSync(dir, 0o755);
  return join(dir, 'script.sh');
}

describe.concurrent('mistakes get the message that names the wrong fact, with no API name and no answer', () => {
  test('05: routes and MASQUERADE, but the host does not forward: the learner must turn it on', () => gated(async () => {
    const lesson = lessons.find((l) => l.id === '05-internet')!;
    const error = await failureOf(runLesson(lesson, { script: mistake('05-internet', /ip_forward/) }, newLab));
    expect(error).toBeInstanceOf(LessonFailure);
    expect((error as LessonFailure).step).toBe('forward');
    expect((error as LessonFailure).message).toMatch(/the host is not a router yet/);
    expect(leaks((error as LessonFailure).message, lesson)).toEqual([]);
  }), TIMEOUT);

  test('05: forwarding and routes, no MASQUERADE: the NAT step, not the forwarding one', () => gated(async () => {
    const lesson = lessons.find((l) => l.id === '05-internet')!;
    const error = await failureOf(runLesson(lesson, { script: mistake('05-internet', /MASQUERADE/) }, newLab));
    expect((error as LessonFailure).step).toBe('nat');
    expect(leaks((error as LessonFailure).message, lesson)).toEqual([]);
  }), TIMEOUT);
});

test('the course order: the stateful firewall (conntrack) comes before every lesson whose checks involve Docker\'s conntrack rules', () => {
  const ids = lessons.map((l) => l.id);
  expect(ids.indexOf('06-stateful')).toBeGreaterThan(ids.indexOf('05-internet'));
  for (const docker of ['07-docker-user', '08-published-port', '09-icc', '10-internal']) expect(ids.indexOf('06-stateful')).toBeLessThan(ids.indexOf(docker));
});

describe.concurrent.each(katas.map((l) => [l.id, l] as const))('kata %s', (id, kata) => {
  test('the reference assertion fails on the broken lab (exposing the fault) and passes on the repaired one', () => gated(async () => {
    const [broken, repaired] = await Promise.all([createLab(), createLab()]);
    try {
      // checkAssertion throws unless it fails on broken and passes on repaired; then look at the failure itself
      const failure = await checkAssertion(kata, referenceFile(id, 'solution.mjs'), { broken, repaired });
      expect(failure).toBeInstanceOf(AssertionFailure);
      expect(failure.message).toMatch(kata.exposes!);
    } finally {
      await Promise.all([broken.dispose(), repaired.dispose()]);
    }
  }), TIMEOUT);

  test('the starter assertion asserts nothing, and says so; the starter script is the broken one', () => gated(async () => {
    expect(readFileSync(join(courseDir, id, 'script.sh'), 'utf8')).toBe(readFileSync(referenceFile(id, 'broken.sh'), 'utf8'));
    const error = await failureOf(runLesson(kata, attemptIn(courseDir, kata), newLab));
    expect((error as Error).message).toMatch(/asserts nothing yet/);
    expect((error as LessonFailure).hints.length).toBeGreaterThanOrEqual(2);
    expect(leaks((error as Error).message, kata)).toEqual([]);
  }), TIMEOUT);
});

test('a kata refuses an assertion that does not expose its fault, and one that also fails on the repaired lab', () => gated(async () => {
  const dir = join(scratch, 'weak');
  const [passes, failsAlways, throws] = [join(dir, 'passes.mjs'), join(dir, 'fails.mjs'), join(dir, 'throws.mjs')];
  mkdirSync(dir, { recursive: true });
  // the lab host always has its loopback, and no route to 192.0.2.99; no lab has a namespace "nowhere"
  writeFileSync(passes, "export default async ({ lab, expect }) => { await expect(lab.host).toHaveLink('lo'); };\n");
  writeFileSync(failsAlways, "export default async ({ lab, expect }) => { await expect(lab.host).toReach('192.0.2.99', { timeout: 300 }); };\n");
  writeFileSync(throws, "export default async ({ lab }) => { lab.get('nowhere'); };\n");
  for (const [path, says] of [
    [passes, /passes on the broken lab/],
    [failsAlways, /also on the repaired one/],
    [throws, /stopped with an error, not a failed assertion/],
  ] as const) {
    const [broken, repaired] = await Promise.all([createLab(), createLab()]);
    try {
      const error = await failureOf(checkAssertion(katas[0]!, path, { broken, repaired }));
      expect((error as Error).message).toMatch(says);
    } finally {
      await Promise.all([broken.dispose(), repaired.dispose()]);
    }
  }
}), TIMEOUT);

/**
 * The course's command line, as `npm run lessons --` runs it, with a state folder of the test's own. Asynchronous: a
 * spawnSync here blocked the worker's event loop for the whole child run, and the tests running beside it (this file's
 * are concurrent) saw their commands' deadlines fire seconds late ("did not finish in time").
 */
async function course(args: string[], env: Record<string, string> = {}, entry = 'lessons/run.ts') {
  const r = await runProcess([process.execPath, compiled(entry), ...args], { env: { NETSPEC_LESSON: '', XDG_STATE_HOME: join(scratch, 'state'), ...env } });
  return { stdout: r.stdout, stderr: r.stderr, status: r.code };
}

// one after another: they share the learner's state folder (hint counts)
describe.sequential('hints and progress', () => {
  test('hint gives the next step each time it is asked (family, then object), never more, and progress is saved per learner', async () => {
    const first = await course(['hint', '01']);
    expect(first.stdout).toMatch(/hint 1 of 2: Network namespaces are managed with `ip netns`/);
    expect(first.stdout).not.toMatch(/ip netns add red/);
    expect((await course(['hint', '01'])).stdout).toMatch(/hint 2 of 2: .*red and blue/);
    expect((await course(['hint', '01'])).stdout).toMatch(/hint 2 of 2/); // the last one again, nothing beyond it
    const saved = JSON.parse(readFileSync(join(scratch, 'state', 'netspec', 'lessons.json'), 'utf8')) as { workspaces: Record<string, { hints: Record<string, number> }> };
    expect(saved.workspaces[courseDir]!.hints['01-namespaces/netns-red']).toBe(2);
    // a kata's first step is the assertion: its hints are about what to assert
    expect((await course(['hint', '11'])).stdout).toMatch(/asserts nothing yet[\s\S]*hint 1 of 2: Start from what the report says should work/);
  }, TIMEOUT);

  test('an unwritable state folder is said once, and the course runs on', async () => {
    const file = join(scratch, 'not-a-folder');
    writeFileSync(file, '');
    chmodSync(file, 0o400);
    const r = await course(['hint', '01'], { XDG_STATE_HOME: file, HOME: file });
    expect(r.stderr.match(/progress is not saved/g)?.length).toBe(1);
    expect(r.stdout).toMatch(/hint 1 of 2/);
  }, TIMEOUT);

  test('list shows the hints used per lesson; --report prints passed, hints, runs and time per lesson, as text and as JSON', async () => {
    const state = { XDG_STATE_HOME: join(scratch, 'report-state') };
    const dir = join(scratch, 'report-ws');
    mkdirSync(join(dir, '01-namespaces'), { recursive: true });
    chmodSync(dir, 0o755);
    chmodSync(join(dir, '01-namespaces'), 0o755);
    writeFileSync(join(dir, '01-namespaces', 'script.sh'), 'ip netns add red\n', { mode: 0o644 });
    expect((await course(['hint', '01', '--dir', dir], state)).stdout).toMatch(/hint 1 of 2/);
    expect((await course(['hint', '01', '--dir', dir], state)).stdout).toMatch(/hint 2 of 2/);
    const list = (await course(['list', '--dir', dir], state)).stdout;
    expect(list).toMatch(/ {2}01-namespaces \(lesson\): .* \[2 hints\]/);
    expect(list).not.toMatch(/02-veth-pair.*hint/);
    const text = await course(['--report', '--dir', dir], state);
    expect(text.status).toBe(0);
    expect(text.stdout).toMatch(/0 of \d+ lessons passed/);
    expect(text.stdout).toMatch(/✗ {2}01-namespaces +2 +2 +\d+s/);
    expect(text.stdout).toMatch(/ {3}02-veth-pair +0 +0 +-/);
    const json = JSON.parse((await course(['--report', '--json', '--dir', dir], state)).stdout) as { passed: number; lessons: { id: string; passed: boolean; hints: number; runs: number; seconds?: number }[] };
    expect(json.passed).toBe(0);
    expect(json.lessons[0]).toMatchObject({ id: '01-namespaces', passed: false, hints: 2, runs: 2 });
    expect(json.lessons[0]!.seconds).toBeGreaterThanOrEqual(0);
    expect(json.lessons[1]).toMatchObject({ id: '02-veth-pair', passed: false, hints: 0, runs: 0 });
    expect(json.lessons[1]).not.toHaveProperty('seconds');
    expect(json.lessons.map((l) => l.id)).toEqual(lessons.map((l) => l.id));
  }, TIMEOUT);

  test('progress saved under the old lesson numbers is read under the new ones, and a folder of an old name is renamed', async () => {
    const home = join(scratch, 'old-state');
    const dir = join(scratch, 'old-ws');
    mkdirSync(join(home, 'netspec'), { recursive: true });
    for (const d of ['10-stateful', '06-docker-user', '07-docker-user']) mkdirSync(join(dir, d), { recursive: true });
    writeFileSync(join(dir, '10-stateful', 'script.sh'), '# mine\n');
    writeFileSync(join(dir, '06-docker-user', 'script.sh'), '# mine too\n');
    writeFileSync(
      join(home, 'netspec', 'lessons.json'),
      JSON.stringify({ version: 1, workspaces: { [dir]: { passed: { '10-stateful': 'abc' }, hints: { '06-docker-user/bridged': 2, '09-internal/out': 1 } } } }),
    );
    const r = await course(['list', '--dir', dir], { XDG_STATE_HOME: home });
    expect(r.stdout).toMatch(/✓ 06-stateful/);
    expect(r.stdout).not.toMatch(/✓ 10-internal/);
    expect(r.stdout).toMatch(/07-docker-user .*\[2 hints\]/);
    expect(r.stdout).toMatch(/10-internal .*\[1 hint\]/);
    // 10-stateful's folder is the learner's 06-stateful now; 06-docker-user stays, as 07-docker-user was there already
    expect(readFileSync(join(dir, '06-stateful', 'script.sh'), 'utf8')).toBe('# mine\n');
    expect(existsSync(join(dir, '10-stateful'))).toBe(false);
    expect(existsSync(join(dir, '06-docker-user', 'script.sh'))).toBe(true);
    expect(r.stderr).toMatch(/renamed lesson 10-stateful to 06-stateful/);
    expect(r.stderr).not.toMatch(/renamed lesson 06-docker-user/);
  }, TIMEOUT);

  test('`netspec lessons` is the same course', async () => {
    const r = await course(['lessons', 'list'], {}, 'src/cli.ts');
    expect(r.status).toBe(0);
    for (const l of lessons) expect(r.stdout).toContain(l.id);
  }, TIMEOUT);
});

test('watch mode copies the starters, stops at the first unfinished lesson, and moves on when a save makes it pass', async () => {
  const dir = join(scratch, 'learner');
  const child = spawn(process.execPath, [compiled('lessons/run.ts'), '--watch', dir], {
    cwd: root,
    env: { ...process.env, NETSPEC_LESSON: '', XDG_STATE_HOME: join(scratch, 'watch-state') },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
  const until = async (pattern: RegExp, ms = 45_000) => {
    const end = Date.now() + ms;
    while (!pattern.test(out)) {
      if (Date.now() > end || child.exitCode !== null) throw new Error(`watch mode never printed ${pattern}; it printed:\n${out}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  try {
    await until(/✗ 01-namespaces[\s\S]*and save/);
    expect(out).toMatch(/copied the starters into/);
    // not a terminal (a pipe): the runs follow each other, no screen is cleared; the progress line is there
    expect(out).toMatch(/progress: \[>-+\] 0\/\d+ lessons passed/);
    expect(out).not.toContain('\x1b[2J');
    expect(readFileSync(join(dir, '11-kata-mask', 'assert.mjs'), 'utf8')).toMatch(/export default/);
    writeFileSync(join(dir, '01-namespaces', 'script.sh'), readFileSync(referenceFile('01-namespaces', 'solution.sh')));
    await until(/✓ 01-namespaces passes[\s\S]*✗ 02-veth-pair[\s\S]*red has no address 192\.168\.15\.1\/24[\s\S]*and save/);
    // the picture of the learner's lab as it failed: red and blue, no cable yet
    expect(out).toMatch(/your lab as it failed \(Mermaid\):\n\s+graph LR[\s\S]*red\["red"\][\s\S]*and save/);
  } finally {
    child.kill('SIGINT');
  }
  // the progress is the learner's: 01 passed with these very files, so a second watch would start at 02; and the
  // folder last watched is where `list` and `hint` look by default
  const again = await course(['list'], { XDG_STATE_HOME: join(scratch, 'watch-state') });
  expect(again.stdout).toMatch(/✓ 01-namespaces/);
  expect(again.stdout).toMatch(/ {2}02-veth-pair/);
  expect(again.stdout).toContain(`workspace ${dir}`);
}, TIMEOUT);
