// The spawner (src/spawner.ts) starts netspec's short commands from a small process instead of forking the big Node
// process: its results must be exactly what the execa path gives, for hostile arguments, binary output, big stdin, and
// many commands at once; a spawner that dies fails the commands in flight loudly and is replaced for the next one.
import { execFileSync } from 'node:child_process';
import { execa } from 'execa';
import { expect, test, vi } from '../../src/vitest.js';
import { CommandError } from '../../src/index.js';
import { run, spawnLongLived } from '../../src/exec.js';
import { spawnerPid } from '../../src/spawner.js';
import { within } from '../helpers/watchdog.js';
import { pidAlive } from '../helpers/machine.js';
import { compiled } from '../helpers/compiled.js';

vi.setConfig({ testTimeout: 60_000 });

const hostile = ['a b', "it's", '--nproc=4', 'x\ny', '\u0007', 'é', 'tab\there', '\u{1F600}', '\u00a0nb', '$(touch /tmp/netspec-pwned)', '`id`', ';', '*', ''];

test('results are what execa gives: exit code, signal, stdout, stderr, the command line, for hostile arguments', async () => {
  const cases: string[][] = [
    ['printf', '%s|', ...hostile],
    ['sh', '-c', 'printf "a\\n\\n"; echo err >&2; exit 3'],
    ['sh', '-c', 'kill -TERM $$'],
    ['sh', '-c', 'kill -KILL $$'],
    ['sh', '-c', 'printf "\\000\\001\\377 bytes"'],
    ['sh', '-c', 'echo "$LC_ALL $0"', ...hostile],
  ];
  for (const argv of cases) {
    const mine = await run(argv, { intent: 'compare', reject: false });
    const theirs = await execa(argv[0]!, argv.slice(1), { reject: false, env: { LC_ALL: 'C' }, stdin: 'ignore', encoding: 'utf8', stripFinalNewline: false });
    expect({ exitCode: mine.exitCode, signal: mine.signal, stdout: mine.stdout, stderr: mine.stderr, command: mine.command }).toEqual({
      exitCode: theirs.exitCode ?? -1,
      signal: theirs.signal ?? undefined,
      stdout: theirs.stdout,
      stderr: theirs.stderr,
      command: theirs.escapedCommand,
    });
  }
  expect(execFileSync('sh', ['-c', 'ls /tmp/netspec-pwned 2>/dev/null || echo absent']).toString()).toBe('absent\n');
});

test('stdin of 3 MB and stdout of 5 MB go through whole; cwd and env are the call\'s own', async () => {
  const big = 'x'.repeat(3 * 1024 * 1024 - 1) + '\n';
  const echoed = await run(['cat'], { intent: 'echo', input: big });
  expect(echoed.stdout.length).toBe(big.length);
  expect(echoed.stdout === big).toBe(true);
  const made = await run(['sh', '-c', 'head -c 5242880 /dev/zero | tr "\\0" y'], { intent: 'print' });
  expect(made.stdout.length).toBe(5 * 1024 * 1024);
  expect(/^y+$/.test(made.stdout)).toBe(true);
  expect((await run(['pwd'], { intent: 'pwd', cwd: '/usr' })).stdout).toBe('/usr\n');
  expect((await run(['sh', '-c', 'echo "$NETSPEC_SPAWNER_PROBE"'], { intent: 'env', env: { NETSPEC_SPAWNER_PROBE: 'v 1' } })).stdout).toBe('v 1\n');
});

test('200 commands at once: each gets its own output and exit code', async () => {
  const results = await Promise.all(
    Array.from({ length: 200 }, (_, i) => run(['sh', '-c', `printf '%s' "${i}"; printf 'e${i}' >&2; exit $((${i} % 7))`], { intent: `n${i}`, reject: false })),
  );
  results.forEach((r, i) => {
    expect(r.stdout).toBe(String(i));
    expect(r.stderr).toBe(`e${i}`);
    expect(r.exitCode).toBe(i % 7);
  });
});

test('3,000 commands, 64 in flight, with stdin: each gets exactly its own output (descriptor numbers are reused all the time)', async () => {
  let next = 0;
  const wrong: string[] = [];
  const worker = async () => {
    while (next < 3_000) {
      const i = next++;
      const input = i % 3 === 0 ? `in${i}` : undefined;
      const r = await run(input === undefined ? ['sh', '-c', `printf 'o${i}'; printf 'e${i}' >&2`] : ['sh', '-c', `cat; printf 'o${i}'; printf 'e${i}' >&2`], { intent: `n${i}`, input });
      const want = `${input ?? ''}o${i}`;
      if (r.stdout !== want || r.stderr !== `e${i}`) wrong.push(`${i}: ${JSON.stringify(r.stdout)} ${JSON.stringify(r.stderr)}`);
    }
  };
  await Promise.all(Array.from({ length: 64 }, worker));
  expect(wrong).toEqual([]);
});

test('an argument or environment value no process can take (a NUL byte) is a CommandError, and the spawner goes on', async () => {
  await run(['true'], { intent: 'start it' });
  const pid = spawnerPid();
  await expect(run(['echo', 'a\0b'], { intent: 'nul in argv' })).rejects.toThrow(CommandError);
  await expect(run(['true'], { intent: 'nul in env', env: { X: 'a\0b' } })).rejects.toThrow(/nul in env failed in the machine: .*null byte/s);
  expect((await run(['echo', 'still'], { intent: 'after' })).stdout).toBe('still\n');
  expect(spawnerPid()).toBe(pid);
});

test('each command leads a session of its own (as Node\'s detached spawn), so a deadline stops its whole group', async () => {
  const r = await run(['sh', '-c', 'ps -o pid=,pgid=,sid= -p $$'], { intent: 'ids' });
  const [pid, pgid, sid] = r.stdout.trim().split(/\s+/).map(Number);
  expect(pgid).toBe(pid);
  expect(sid).toBe(pid);
  const t = performance.now();
  const timedOut = await run(['sh', '-c', 'sleep 30 & sleep 30'], { intent: 'sleep', timeoutMs: 300, reject: false });
  expect(timedOut.timedOut).toBe(true);
  expect(performance.now() - t).toBeLessThan(5_000);
});

test('a spawner that dies fails the commands in flight with a CommandError naming it, and the next command gets a new one', async () => {
  await run(['true'], { intent: 'start it' });
  const pid = spawnerPid();
  expect(pid).toBeGreaterThan(0);
  const inFlight = run(['sleep', '5'], { intent: 'sleep while the spawner dies' }).catch((e: unknown) => e);
  await new Promise((r) => setTimeout(r, 200));
  process.kill(pid!, 'SIGKILL');
  const error = await within(inFlight, 10_000, 'in flight');
  expect(error).toBeInstanceOf(CommandError);
  expect((error as Error).message).toMatch(/netspec's spawner went away: it exited \(SIGKILL\)/);
  expect((await run(['echo', 'again'], { intent: 'after' })).stdout).toBe('again\n');
  expect(spawnerPid()).not.toBe(pid);
});

test('NETSPEC_SPAWNER=node runs every command through execa, and a process that used the spawner exits by itself', async () => {
  const script = [
    `import { run } from '${compiled('src/exec.ts')}'; import { spawnerPid } from '${compiled('src/spawner.ts')}';`,
    "const r = await run(['echo', 'hi'], { intent: 'x' });",
    "console.log(JSON.stringify({ out: r.stdout, spawner: spawnerPid() !== undefined }));",
  ].join('\n');
  const node = (env: NodeJS.ProcessEnv) => execa('node', ['--input-type=module', '-e', script], { env, timeout: 30_000 });
  const off = await node({ NETSPEC_SPAWNER: 'node' });
  expect(JSON.parse(off.stdout)).toEqual({ out: 'hi\n', spawner: false });
  const on = await node({});
  expect(JSON.parse(on.stdout)).toEqual({ out: 'hi\n', spawner: true });
  // it exited (execa resolved) well before its 30 s timeout: the spawner's pipes do not hold the event loop
  expect(on.timedOut).toBe(false);
});

test('a long-lived process through the spawner: stdin written and ended, stdout streamed, exit then close; kill by pid', async () => {
  const child = spawnLongLived(['sh', '-c', 'while read -r x; do echo "got $x"; done; echo bye; exit 7'], { stdio: ['pipe', 'pipe', 'ignore'] });
  expect(child.constructor.name).toBe('SpawnedChild');
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  const events: string[] = [];
  child.once('exit', (code) => events.push(`exit ${code}`));
  const closed = new Promise<void>((r) => child.once('close', () => (events.push('close'), r())));
  child.stdin!.write('one\n');
  // streamed: the answer to the first line arrives while stdin is still open (however loaded the machine)
  for (const t = Date.now(); out === '' && Date.now() - t < 10_000; ) await new Promise((r) => setTimeout(r, 20));
  expect(out).toBe('got one\n');
  child.stdin!.write('two\n');
  child.stdin!.end();
  await within(closed, 10_000, 'close');
  expect(out).toBe('got one\ngot two\nbye\n');
  expect(events).toEqual(['exit 7', 'close']);
  expect(child.exitCode).toBe(7);
  const sleeper = spawnLongLived(['sleep', '30'], { stdio: ['ignore', 'ignore', 'ignore'] });
  await new Promise((r) => sleeper.once('spawn', r));
  const gone = new Promise<unknown>((r) => sleeper.once('exit', (_c, sig) => r(sig)));
  expect(sleeper.kill('SIGTERM')).toBe(true);
  expect(await within(gone, 10_000, 'exit')).toBe('SIGTERM');
});

test('a long-lived process whose spawner dies is ended and reported killed; one that cannot start is an error event', async () => {
  const child = spawnLongLived(['sleep', '30'], { stdio: ['pipe', 'ignore', 'ignore'] });
  await new Promise((r) => child.once('spawn', r));
  const pid = child.pid!;
  const exited = new Promise<unknown>((r) => child.once('exit', (_c, sig) => r(sig)));
  process.kill(spawnerPid()!, 'SIGKILL');
  expect(await within(exited, 10_000, 'exit')).toBe('SIGKILL');
  await new Promise((r) => setTimeout(r, 200));
  expect(pidAlive(pid)).toBe(false);
  const missing = spawnLongLived(['netspec-no-such-tool'], { stdio: ['pipe', 'pipe', 'pipe'] });
  const error = await within(new Promise<Error>((r) => missing.once('error', r)), 10_000, 'error');
  expect((error as NodeJS.ErrnoException).code).toBe('ENOENT');
});
