// A Vitest worker whose main process died ends its labs and itself within a few seconds (it used to run on, its labs
// alive, for about a minute).
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test, vi } from '../../src/vitest.js';
import { eventually, pidAlive, processesInPidNs } from '../helpers/machine.js';
import { repoRoot } from '../helpers/process.js';
import { tempDir } from '../helpers/temp.js';

vi.setConfig({ testTimeout: 90_000 });

test('SIGKILL to the main Vitest process only: the worker and its lab are gone within 5 s', async ({ annotate }) => {
  const report = join(tempDir('netspec-parent-'), 'report.json');
  const main = spawn(process.execPath, ['node_modules/vitest/vitest.mjs', 'run', '--config', 'specs/children/vitest.config.ts', 'parent-killed.child.ts'], {
    cwd: repoRoot,
    env: { ...process.env, NETSPEC_REPORT: report, NETSPEC_CHILD_TIMEOUT: '90000', NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  main.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  main.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise((r) => main.once('exit', r));
  let info: { worker: number; parent: number; lab: number; pidns: string } | undefined;
  try {
    expect(await eventually(() => existsSync(report) && readFileSync(report, 'utf8').length > 0, 45_000), out).toBe(true);
    info = JSON.parse(readFileSync(report, 'utf8')) as typeof info & object;
    expect(info.parent).toBe(main.pid); // the worker is a child of the process we kill
    expect(processesInPidNs(info.pidns).length).toBeGreaterThan(1); // the lab's PID 1 and its `sleep 600`

    main.kill('SIGKILL'); // the main process only, by its pid
    await exited;
    const t0 = performance.now();
    const gone = await eventually(() => !pidAlive(info!.worker) && !pidAlive(info!.lab) && processesInPidNs(info!.pidns).length === 0, 5_000);
    expect(gone, `worker ${info.worker} alive: ${pidAlive(info.worker)}, lab ${info.lab} alive: ${pidAlive(info.lab)}`).toBe(true);
    const ms = Math.round(performance.now() - t0);
    expect(ms).toBeLessThan(5_000);
    await annotate(`worker and lab gone ${ms} ms after the SIGKILL`);
  } finally {
    // whatever happened above, leave nothing: the main process and the worker, by pid
    if (main.exitCode === null && main.signalCode === null) main.kill('SIGKILL');
    if (info && pidAlive(info.worker)) process.kill(info.worker, 'SIGKILL');
  }
});
