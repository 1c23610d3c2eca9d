/** Run a process for a spec (the repository as working directory, no colours), collecting stdout and stderr together. */
import { spawn } from 'node:child_process';

export const repoRoot = new URL('../..', import.meta.url).pathname;

export function runProcess(argv: string[], options: { env?: NodeJS.ProcessEnv; input?: string; replaceEnv?: boolean } = {}): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const env = options.replaceEnv ? options.env : { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0', ...options.env };
    const p = spawn(argv[0]!, argv.slice(1), { cwd: repoRoot, env, stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let out = '';
    p.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    if (options.input !== undefined) p.stdin!.end(options.input);
    p.on('exit', (code) => resolve({ code, out }));
  });
}

/** A child Vitest run with the config of specs/children (tests that fail or time out on purpose). */
export function childVitest(files: string[], env: NodeJS.ProcessEnv = {}, args: string[] = []): Promise<{ code: number | null; out: string }> {
  return runProcess([process.execPath, 'node_modules/vitest/vitest.mjs', 'run', '--config', 'specs/children/vitest.config.ts', ...args, ...files], { env });
}
