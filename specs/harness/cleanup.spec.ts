// Issue 2 acceptance: however the test process ends (SIGKILL, SIGINT, a Vitest timeout), the kernel frees the lab and
// the machine's namespaces, links, mounts, rules and processes are exactly as before.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test, vi } from 'vitest';
import { eventually, machineState, pidAlive, processesInPidNs, processesMatching, startChild } from '../helpers/machine.js';
import { tempDir } from '../helpers/temp.js';

// these tests start other processes (child test runs, engines): give them room on a busy 2-core machine
vi.setConfig({ testTimeout: 90_000 });

const root = new URL('../..', import.meta.url).pathname;

function uniqueMarker(): string {
  return `4242.${process.pid}${Math.floor(Math.random() * 1e6)}`;
}

describe.each(['SIGKILL', 'SIGINT', 'SIGTERM'] as const)('a test process killed by %s', (signal) => {
  test('leaves nothing behind: namespaces, links, mounts, iptables, nft, processes', async () => {
    const before = await machineState();
    const marker = uniqueMarker();
    const { child, pid, pidns } = await startChild(marker);
    expect(pidAlive(pid)).toBe(true);
    expect(processesMatching(`sleep ${marker}`)).toHaveLength(1); // the lab's background process runs

    const exited = new Promise((r) => child.once('exit', r));
    child.kill(signal);
    await exited;

    expect(await eventually(() => !pidAlive(pid))).toBe(true);
    expect(await eventually(() => processesMatching(`sleep ${marker}`).length === 0)).toBe(true);
    expect(processesInPidNs(pidns)).toEqual([]);
    expect(await machineState()).toEqual(before);
  });
});

test('a Vitest test timeout disposes the lab through the fixture', async () => {
  const before = await machineState();
  const dir = tempDir('netspec-timeout-');
  const report = join(dir, 'report.json');
  const marker = uniqueMarker();
  const child = spawn(process.execPath, ['node_modules/vitest/vitest.mjs', 'run', '--config', 'specs/children/vitest.config.ts', 'timeout.child.ts'], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NETSPEC_REPORT: report, NETSPEC_MARKER: marker },
  });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const code = await new Promise<number | null>((r) => child.once('exit', r));
  expect(code, output).toBe(1);
  expect(output).toMatch(/Test timed out in 1500ms/);
  const { pid } = JSON.parse(readFileSync(report, 'utf8')) as { pid: number };
  expect(await eventually(() => !pidAlive(pid))).toBe(true);
  expect(processesMatching(`sleep ${marker}`)).toEqual([]);
  expect(await machineState()).toEqual(before);
});
