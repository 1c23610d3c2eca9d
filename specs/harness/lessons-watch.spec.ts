// The course's watch mode and lesson shell as a learner sees them: on a terminal (a pseudo-terminal made by
// util-linux `script`), each run clears the screen and shows the progress line, what the learner's script printed
// (the last lines when it is long) and the line where it failed; `shell NN` opens a shell in the lesson's lab, kept
// while it runs and ended after it. Each test has its own workspace and state folder.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from '../../src/vitest.js';
import { keptDir } from '../../src/lab.js';
import { CLEAR } from '../../lessons/cli.js';
import { lessons } from '../../lessons/lessons.js';
import { compiled } from '../helpers/compiled.js';

const root = new URL('../..', import.meta.url).pathname;
const TIMEOUT = 120_000;
const scratch = mkdtempSync(join(tmpdir(), 'netspec-lessons-watch-'));
chmodSync(scratch, 0o755); // the lab's root is an ordinary user to the machine: the scripts must be readable by others
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** A word for a POSIX shell, quoted (the paths here are the test's own). */
const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** The course's command line on a pseudo-terminal: `script` gives it one; what it shows is collected. */
function onTerminal(args: string[], state: string) {
  const command = [process.execPath, compiled('lessons/run.ts'), ...args].map(quote).join(' ');
  const child: ChildProcessWithoutNullStreams = spawn('script', ['-qfec', command, '/dev/null'], {
    cwd: root,
    env: { ...process.env, NETSPEC_LESSON: '', XDG_STATE_HOME: state, TERM: 'xterm' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const screen = { text: '' };
  child.stdout.setEncoding('utf8').on('data', (d: string) => (screen.text += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (screen.text += d));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  /** Resolves when what was shown since `from` matches; returns where the match ends. */
  const until = async (pattern: RegExp, from = 0, ms = 60_000): Promise<number> => {
    const end = Date.now() + ms;
    for (;;) {
      const m = pattern.exec(screen.text.slice(from));
      if (m) return from + m.index + m[0].length;
      if (Date.now() > end || child.exitCode !== null) throw new Error(`the terminal never showed ${pattern}; it showed:\n${screen.text.slice(from)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const stop = async () => {
    if (child.exitCode === null) child.stdin.write('\x03'); // Ctrl-C, as the learner stops it
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  };
  return { child, screen, until, stop, exited };
}

function workspace(name: string): { dir: string; state: string } {
  const dir = join(scratch, name);
  mkdirSync(dir, { recursive: true });
  chmodSync(dir, 0o755);
  return { dir, state: join(scratch, `${name}-state`) };
}

function writeScript(dir: string, id: string, lines: string[]): void {
  mkdirSync(join(dir, id), { recursive: true });
  chmodSync(join(dir, id), 0o755);
  writeFileSync(join(dir, id, 'script.sh'), `#!/usr/bin/env bash\n${lines.join('\n')}\n`, { mode: 0o644 });
}

const total = lessons.length;

/** A process that runs (not gone, not a zombie waiting to be reaped). */
function running(pid: number): boolean {
  try {
    return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

describe.concurrent('watch mode on a terminal', () => {
  test('a run clears the screen, shows N/M progress, the script output and the line that failed; a passing run shows no failing line and moves the progress on', async () => {
    const { dir, state } = workspace('watch');
    // line 2 prints, line 3 fails (the script goes on, as bash does), line 4 makes red only
    writeScript(dir, '01-namespaces', ['echo "hello from my script"', 'ip link set nosuchlink up', 'ip netns add red']);
    const t = onTerminal(['--watch', dir], state);
    try {
      const first = await t.until(/✗ 01-namespaces[\s\S]*and save/);
      const screen1 = t.screen.text.slice(0, first);
      expect(screen1).toContain(CLEAR);
      expect(screen1).toContain(`progress: [>`);
      expect(screen1).toContain(`0/${total} lessons passed`);
      expect(screen1).toMatch(/── 01-namespaces: Create two network namespaces/);
      expect(screen1).toMatch(/│ hello from my script/);
      // the command's own complaint is the script's output too (stderr, in order)
      expect(screen1).toMatch(/│ .*nosuchlink/);
      expect(screen1).toMatch(/your script failed at line 3: ip link set nosuchlink up {2}\(exit status 1\)/);
      expect(screen1).toMatch(/there is no network namespace called "blue" yet/);

      // a save that passes: the next screen is cleared, 01 passes with no failing line, and the progress moves on
      writeScript(dir, '01-namespaces', ['ip netns add red', 'ip netns add blue', 'echo "both made"']);
      const passed = await t.until(/✓ 01-namespaces passes/, first);
      const run2 = t.screen.text.slice(first, passed);
      expect(run2).toContain(CLEAR);
      expect(run2).toMatch(/│ both made/);
      expect(run2).not.toMatch(/failed at line/);
      const second = await t.until(/✗ 02-veth-pair[\s\S]*and save/, passed);
      const screen3 = t.screen.text.slice(passed, second);
      expect(screen3).toContain(CLEAR);
      expect(screen3).toContain(`1/${total} lessons passed`);
      expect(screen3).toMatch(/✓ 01-namespaces passes; on to the next one/);
      expect(screen3).not.toContain(`0/${total} lessons passed`);
      // the starter of 02 prints nothing: said so, and no output box, no failing line
      expect(screen3).toMatch(/your script printed nothing/);
      expect(screen3).not.toMatch(/│|failed at line/);
    } finally {
      await t.stop();
    }
  }, TIMEOUT);

  test('long output is collapsed to its last 15 lines, saying how many were hidden; short output is shown whole', async () => {
    const { dir, state } = workspace('long');
    writeScript(dir, '01-namespaces', ['for i in $(seq -w 1 40); do echo "out-$i"; done', 'ip netns add red', 'ip netns add blue']);
    writeScript(dir, '02-veth-pair', ['echo "short-1"', 'echo "short-2"']);
    const t = onTerminal(['--watch', dir], state);
    try {
      const passed = await t.until(/✓ 01-namespaces passes/);
      const run1 = t.screen.text.slice(0, passed);
      expect(run1).toMatch(/── your script's output \(last 15 lines; 25 earlier lines hidden\) ──/);
      for (let i = 26; i <= 40; i++) expect(run1).toContain(`│ out-${i}`);
      expect(run1).not.toContain('out-25');
      expect(run1).not.toContain('out-01');
      const failed = await t.until(/✗ 02-veth-pair[\s\S]*and save/, passed);
      const run2 = t.screen.text.slice(passed, failed);
      expect(run2).toMatch(/── your script's output ──/);
      expect(run2).not.toMatch(/hidden/);
      expect(run2).toMatch(/│ short-1\r?\n\s*│ short-2/);
    } finally {
      await t.stop();
    }
  }, TIMEOUT);

  test('a script that stops with an error (set -e) names the line that stopped it', async () => {
    const { dir, state } = workspace('stops');
    writeScript(dir, '01-namespaces', ['set -e', 'ip netns add red', '', 'ip netns add red', 'ip netns add blue']);
    const t = onTerminal(['--watch', dir], state);
    try {
      const end = await t.until(/✗ 01-namespaces[\s\S]*and save/);
      const screen = t.screen.text.slice(0, end);
      expect(screen).toMatch(/stopped with exit code 1/);
      expect(screen).toMatch(/failed at line 5: ip netns add red/);
      expect(screen).not.toMatch(/failed at line [1-4]:/);
    } finally {
      await t.stop();
    }
  }, TIMEOUT);
});

describe.concurrent('shell NN', () => {
  test("opens a shell in the lesson's lab after the learner's script, in the namespace asked for; the lab is kept while it runs and ends with it", async () => {
    const { dir, state } = workspace('shell');
    writeScript(dir, '01-namespaces', ['ip netns add red', 'ip netns add blue', 'ip -n red link add mark0 type veth peer name mark1']);
    const t = onTerminal(['shell', '01', 'red', '--dir', dir], state);
    try {
      const opened = await t.until(/netspec kept shell (\S+) \[NAMESPACE\][\s\S]*\[lesson 01-namespaces red\]/);
      const id = /netspec kept shell (\S+) \[NAMESPACE\]/.exec(t.screen.text)![1]!;
      const record = join(keptDir(), `${id}.json`);
      const kept = JSON.parse(readFileSync(record, 'utf8')) as { pid: number; keeper: number; reason: string };
      expect(kept.reason).toBe('lesson 01-namespaces shell');
      t.child.stdin.write('ip -br link; echo "links-$((40+2))"\n');
      const listed = await t.until(/links-42/, opened);
      const links = t.screen.text.slice(opened, listed);
      // in red: the learner's veth pair, not the host's wan or anything else
      expect(links).toMatch(/mark0@mark1/);
      expect(links).toMatch(/mark1@mark0/);
      t.child.stdin.write('exit\n');
      expect(await t.exited).toBe(0);
      // the lab is gone with the shell: its keeper and lifeline ended, its record removed
      const end = Date.now() + 10_000;
      while (running(kept.pid) && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
      expect(running(kept.pid)).toBe(false);
      expect(running(kept.keeper)).toBe(false);
      expect(existsSync(record)).toBe(false);
    } finally {
      await t.stop();
    }
  }, TIMEOUT);

  test("without a namespace, the shell is in the lab's host (the learner's veth pair is not there); a namespace the lab lacks is refused", async () => {
    const { dir, state } = workspace('shell-host');
    writeScript(dir, '01-namespaces', ['ip netns add red', 'ip -n red link add mark0 type veth peer name mark1']);
    const t = onTerminal(['shell', '01', '--dir', dir], state);
    try {
      const opened = await t.until(/\[lesson 01-namespaces host\]/);
      t.child.stdin.write('ip -br link; ip netns list; echo "done-$((40+2))"\n');
      const listed = await t.until(/done-42/, opened);
      const out = t.screen.text.slice(opened, listed);
      expect(out).not.toMatch(/mark0/);
      expect(out).toMatch(/\bred\b/);
      t.child.stdin.write('exit\n');
      expect(await t.exited).toBe(0);
    } finally {
      await t.stop();
    }
    const bad = onTerminal(['shell', '01', 'green', '--dir', dir], state);
    expect(await bad.exited).toBe(2);
    expect(bad.screen.text).toMatch(/has no namespace green; its namespaces: host, red/);
    expect(bad.screen.text).not.toMatch(/\[lesson 01-namespaces/);
  }, TIMEOUT);
});
