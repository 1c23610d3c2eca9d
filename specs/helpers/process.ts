/** Run a process for a spec (the repository as working directory, no colours), collecting stdout and stderr together. */
import { execa } from 'execa';
import { settleOnExit } from '../../src/exec.js';

export const repoRoot = new URL('../..', import.meta.url).pathname;

/**
 * With execa, like netspec's own processes. It settles when the process exits (settleOnExit), as it always did here:
 * a child run may leave something behind holding its output (a kept lab's keeper), and the specs check for that
 * themselves.
 */
export async function runProcess(argv: string[], options: { env?: NodeJS.ProcessEnv; input?: string; replaceEnv?: boolean; cwd?: string } = {}): Promise<{ code: number | null; out: string; stdout: string; stderr: string }> {
  const env = options.replaceEnv ? options.env : { NO_COLOR: '1', FORCE_COLOR: '0', ...options.env };
  const p = execa(argv[0]!, argv.slice(1), {
    cwd: options.cwd ?? repoRoot,
    env,
    extendEnv: !options.replaceEnv,
    ...(options.input === undefined ? { stdin: 'ignore' as const } : { input: options.input }),
    all: true,
    reject: false,
    stripFinalNewline: false,
    maxBuffer: 64 * 1024 * 1024,
  });
  settleOnExit(p);
  const r = await p;
  if (r.exitCode === undefined && r.signal === undefined) throw (r.cause as Error | undefined) ?? new Error(r.shortMessage);
  const text = (v: unknown) => (typeof v === 'string' ? v : '');
  return { code: r.exitCode ?? null, out: text(r.all), stdout: text(r.stdout), stderr: text(r.stderr) };
}

/** A child Vitest run with the config of specs/children (tests that fail or time out on purpose). */
export function childVitest(files: string[], env: NodeJS.ProcessEnv = {}, args: string[] = []): Promise<{ code: number | null; out: string }> {
  return runProcess([process.execPath, 'node_modules/vitest/vitest.mjs', 'run', '--config', 'specs/children/vitest.config.ts', ...args, ...files], { env });
}
