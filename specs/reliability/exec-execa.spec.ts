// execa runs netspec's processes: its results map onto netspec's RunResult, CommandError (what we were doing, where,
// the command inside the lab, and execa's escaped command line as run) and PrerequisiteError; output is capped.
import { expect, test, vi } from '../../src/vitest.js';
import { CommandError, PrerequisiteError } from '../../src/index.js';
import { MAX_OUTPUT_BYTES, run, runInteractive } from '../../src/exec.js';
import { pidAlive, processesMatching } from '../helpers/machine.js';
import { within } from '../helpers/watchdog.js';

vi.setConfig({ testTimeout: 60_000 });


test('a failed lab command: intent, where, the command inside the lab, stderr, and the whole command line as run', async ({ lab }) => {
  await lab.netns('red');
  const error = await within(lab.get('red').exec('ip', ['link', 'show', 'dev', 'nope0'], { intent: 'read nope0' }).catch((e: unknown) => e), 10_000, 'exec');
  expect(error).toBeInstanceOf(CommandError);
  const e = error as CommandError;
  expect(e.exitCode).toBe(1);
  expect(e.argv).toEqual(['ip', 'link', 'show', 'dev', 'nope0']);
  // a user-namespace lab's commands run under prlimit (its process bound, issue 23)
  expect(e.commandLine).toMatch(/^(?:prlimit '--nproc=\d+' -- )?nsenter .*'--net=[^']*\/run\/netns\/red' .*-- ip link show dev nope0$/);
  expect(e.message).toMatch(/^read nope0 failed in lab \d+ namespace red: `ip link show dev nope0` exited with code 1\n {2}Device "nope0" does not exist\.\n {2}command line: (?:prlimit '--nproc=\d+' -- )?nsenter .* -- ip link show dev nope0$/);
});

test('results: exit code, signal, stdout as printed (final newline kept), stdin, LC_ALL=C', async ({ lab }) => {
  const host = lab.host;
  expect(await host.exec('sh', ['-c', 'printf "a\\n\\n"; exit 3'], { reject: false })).toMatchObject({ exitCode: 3, stdout: 'a\n\n', timedOut: false });
  expect(await host.exec('sh', ['-c', 'kill -TERM $$'], { reject: false })).toMatchObject({ exitCode: -1, signal: 'SIGTERM' });
  await expect(host.exec('sh', ['-c', 'kill -TERM $$'])).rejects.toThrow(/`sh -c 'kill -TERM \$\$'` was killed by SIGTERM/);
  expect((await host.exec('cat', [], { input: 'from stdin\n' })).stdout).toBe('from stdin\n');
  expect((await host.exec('sh', ['-c', 'echo $LC_ALL'])).stdout).toBe('C\n');
  const r = await host.exec('true');
  expect(r.command).toMatch(/^(?:prlimit '--nproc=\d+' -- )?nsenter .* -- true$/);
  expect(r.durationMs).toBeGreaterThan(0);
});

test('a command that prints more than 16 MiB is stopped, and the error names the cap (even with reject: false)', async ({ lab }) => {
  const marker = `${process.pid}${Math.floor(Math.random() * 1e6)}`;
  const t = performance.now();
  const error = await within(
    lab.host.exec('sh', ['-c', `head -c ${MAX_OUTPUT_BYTES + 1_000_000} /dev/zero | tr '\\0' x; sleep 30.${marker}`], { reject: false }).catch((e: unknown) => e),
    20_000,
    'exec',
  );
  expect(performance.now() - t).toBeLessThan(10_000);
  expect(error).toBeInstanceOf(CommandError);
  expect((error as CommandError).maxBuffer).toBe(16 * 1024 * 1024);
  expect((error as Error).message).toMatch(/printed more than 16 MiB on one stream \(netspec's output cap\) and was stopped/);
  expect(processesMatching(`30.${marker}`).filter((p) => pidAlive(Number(p.split(' ')[0])))).toEqual([]);
});

test('missing tools: PrerequisiteError naming the fix, on the machine and inside the lab', async ({ lab }) => {
  await expect(run(['netspec-no-such-tool'], { intent: 'x' })).rejects.toThrow(PrerequisiteError);
  await expect(run(['netspec-no-such-tool'], { intent: 'x' })).rejects.toThrow(/the `netspec-no-such-tool` command is not available: install `netspec-no-such-tool` and make sure it is on PATH/);
  await expect(lab.host.exec('netspec-no-such-tool')).rejects.toThrow(/the `netspec-no-such-tool` command is not available/);
});

test('a command on the machine: same mapping, no nsenter in front', async () => {
  const r = await run(['sh', '-c', 'echo out; echo err >&2'], { intent: 'say things' });
  expect(r).toMatchObject({ exitCode: 0, stdout: 'out\n', stderr: 'err\n', command: "sh -c 'echo out; echo err >&2'" });
  const e = await run(['sh', '-c', 'echo bad >&2; exit 2'], { intent: 'fail on purpose' }).catch((x: unknown) => x);
  expect((e as Error).message).toBe("fail on purpose failed in the machine: `sh -c 'echo bad >&2; exit 2'` exited with code 2\n  bad");
});

test('runInteractive resolves with the exit code', async () => {
  expect(await runInteractive(['sh', '-c', 'exit 3'])).toBe(3);
  await expect(runInteractive(['netspec-no-such-tool'])).rejects.toThrow(PrerequisiteError);
});
