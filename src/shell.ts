/**
 * The type of `lab.sh`: zx's `$` running inside the lab, described here in netspec's own words. zx's declarations
 * reference `@types/fs-extra`, which a consumer does not have: were `lab.sh` typed as zx's `Shell`, every project that
 * type-checks its libraries (`skipLibCheck: false`) would fail on zx's types. The object is zx's; only its declared type
 * is narrowed to what netspec supports: a tagged template, its output, and the common modifiers.
 */

/** What a finished command gave (zx's `ProcessOutput`). */
export interface ShellOutput {
  readonly stdout: string;
  readonly stderr: string;
  /** The exit code, or null when a signal ended the command. */
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  /** Exit code 0. */
  readonly ok: boolean;
  text(): string;
  lines(): string[];
  json<T = unknown>(): T;
  toString(): string;
}

/** A running command (zx's `ProcessPromise`): await it for its output; a non-zero exit rejects unless `nothrow()`. */
export interface ShellCommand extends Promise<ShellOutput> {
  /** Resolve with the output whatever the exit code. */
  nothrow(v?: boolean): ShellCommand;
  quiet(v?: boolean): ShellCommand;
  verbose(v?: boolean): ShellCommand;
  /** Kill the command after `d` (ms, or zx's `'5s'` form). */
  timeout(d?: number | `${number}${'ms' | 's' | 'm'}`, signal?: NodeJS.Signals): ShellCommand;
  kill(signal?: NodeJS.Signals | null): Promise<void>;
  readonly exitCode: Promise<number | null>;
}

/** ``lab.sh`ip link add …` ``: bash in the lab's host; interpolated values are quoted by zx, never spliced as code. */
export type LabShell = (pieces: TemplateStringsArray, ...args: unknown[]) => ShellCommand;
