/** Shared pieces of every matcher: checking the received value and options, and formatting messages. */
import pRetry from 'p-retry';
import { InvalidInputError } from '../errors.js';
import { Netns } from '../netns.js';
import type { FailedPath } from '../graph.js';
import type { NamespaceState } from '../state.js';
import type { Scope } from '../scope.js';

/** What Vitest passes as `this` to a matcher (the part netspec uses). */
export interface MatcherContext {
  isNot: boolean;
  /**
   * Who reads the message: a spec's author (the default: netspec's API in the advice, the fix as a command) or a
   * learner of the course (`learner`: the facts only; no API names, no command that is the answer).
   */
  audience?: 'spec' | 'learner';
  utils?: { printReceived?(v: unknown): string; printExpected?(v: unknown): string };
}

export interface MatcherResult {
  pass: boolean;
  message: () => string;
  actual?: unknown;
  expected?: unknown;
  /**
   * What the matcher found out, for a failure report: matchers write no files and annotate nothing; the Vitest fixture
   * (src/vitest.ts) picks this up when the assertion fails and the test with it, and reports the lab once.
   */
  evidence?: Evidence;
}

/** A matcher's findings beyond its message: the world it looked at, the failing probe's path, the state it read. */
export interface Evidence {
  world: Scope;
  /** The path a failing probe took and where it stopped: drawn in red in the picture. */
  failed?: FailedPath;
  /** The lab's state as the diagnosis read it (the report reuses it rather than reading it again). */
  states?: NamespaceState[];
}

/** The received value must be a live namespace handle of a lab; anything else throws (so `.not` cannot pass it). */
export function receivedNetns(received: unknown, matcher: string): Netns {
  if (!(received instanceof Netns)) {
    throw new InvalidInputError(`value given to expect() for ${matcher}`, describe(received), 'expected a lab namespace handle: expect(red).' + matcher + '(…), with red from lab.netns(), lab.get() or lab.host');
  }
  received.lab.assertAlive();
  return received;
}

/** The longest timeout or window a matcher takes (an hour); more is an InvalidInputError. */
export const MAX_MS = 3_600_000;

/** Throws on an option the matcher does not know or a value of the wrong type. */
export function checkOptions<T extends object>(options: unknown, matcher: string, allowed: Record<string, 'string' | 'number' | 'boolean' | 'string|boolean' | 'string|string[]' | 'string|number' | 'array' | 'object'>): T {
  if (options === undefined) return {} as T;
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new InvalidInputError(`${matcher} options`, options, `expected an object with some of: ${Object.keys(allowed).join(', ')}`);
  }
  for (const [key, value] of Object.entries(options)) {
    const type = Object.hasOwn(allowed, key) ? allowed[key] : undefined; // not `constructor`, `toString`… of every object
    if (!type) throw new InvalidInputError(`${matcher} option`, key, `unknown option; ${matcher} takes ${Object.keys(allowed).join(', ')}`);
    if (value === undefined) continue;
    const ok =
      type === 'string|boolean'
        ? typeof value === 'string' || typeof value === 'boolean'
        : type === 'string|number'
          ? typeof value === 'string' || typeof value === 'number'
        : type === 'array'
          ? Array.isArray(value)
        : type === 'object'
          ? value !== null && typeof value === 'object' && !Array.isArray(value)
        : type === 'string|string[]'
          ? typeof value === 'string' || (Array.isArray(value) && value.every((v) => typeof v === 'string'))
          : typeof value === type;
    if (!ok) throw new InvalidInputError(`${matcher} option ${key}`, value, `expected a ${type}`);
    if (type === 'number' && (!Number.isFinite(value) || (value as number) < 0)) throw new InvalidInputError(`${matcher} option ${key}`, value, 'expected a number ≥ 0');
    if ((key === 'timeout' || key === 'window') && (value as number) > MAX_MS) throw new InvalidInputError(`${matcher} option ${key}`, value, 'expected a number of milliseconds of at most an hour (3600000)');
  }
  return options as T;
}

export function describe(value: unknown): string {
  if (value instanceof Netns) return String(value);
  if (typeof value === 'string') return JSON.stringify(value);
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** What each matcher checks, in words, for a learner's first line (learnerHeadline). */
const CHECKS: Record<string, [does: string, doesNot: string]> = {
  toReach: ['reaches', 'does not reach'],
  toReachOnly: ['reaches only', 'does not reach only'],
  toForward: ['forwards IP packets', 'does not forward IP packets'],
  toHaveAddress: ['has the address', 'does not have the address'],
  toHaveLink: ['has the link', 'does not have the link'],
  toRouteVia: ['routes', 'does not route'],
  toHaveRouteEntry: ['has the route', 'does not have the route'],
  toHaveRule: ['has the rule', 'does not have the rule'],
  toHaveArpEntry: ['has the neighbor entry', 'does not have the neighbor entry'],
  toLandOn: ['lands on', 'does not land on'],
  toCount: ['counts', 'does not count'],
  toHaveReachability: ['has the reachability', 'does not have the reachability'],
};

/**
 * A message's first line as a learner reads it (MatcherContext.audience 'learner'): what was checked, in words
 * (`expected: red reaches "192.168.15.2"`), not netspec's API (`expect(red).toReach("192.168.15.2")`). Other lines,
 * and a message that does not start with that header, are left as they are.
 */
export function learnerHeadline(message: string): string {
  const end = message.indexOf('\n');
  const first = end === -1 ? message : message.slice(0, end);
  const m = /^expect\(([^)]*)\)(\.not)?\.(\w+)\((.*)\)$/.exec(first);
  const words = m && CHECKS[m[3]!];
  if (!m || !words) return message;
  const line = `expected: ${m[1]} ${words[m[2] ? 1 : 0]}${m[4] ? ` ${m[4]}` : ''}`;
  return end === -1 ? line : line + message.slice(end);
}

/** `expect(red).toReach(192.168.15.2)` — the first line of every message. */
export function hint(ns: Netns, matcher: string, isNot: boolean, args: string): string {
  return `expect(${ns.name})${isNot ? '.not' : ''}.${matcher}(${args})`;
}

export function bullet(lines: readonly string[], prefix = '  '): string {
  return lines.map((l) => `${prefix}${l}`).join('\n');
}

/**
 * Runs of the same line as one line with its count (`red$ socat … → exit 1 … (× 30)`): a probe retries, its log repeats.
 * With `numbers: 'vary'`, lines that differ only in their numbers (a retry's shrinking timeout, a source port) are one
 * run too, shown by its first line.
 */
export function collapse(lines: readonly string[], numbers: 'same' | 'vary' = 'same'): string[] {
  const key = (line: string) => (numbers === 'vary' ? line.replace(/\d+/g, '#') : line);
  const out: string[] = [];
  let first: string | undefined;
  let count = 0;
  let varied = false;
  const flush = () => {
    if (first !== undefined) out.push(count > 1 ? `${first} (× ${count}${varied ? ', the numbers varying' : ''})` : first);
  };
  for (const line of lines) {
    if (first !== undefined && key(line) === key(first)) {
      count++;
      varied ||= line !== first;
    } else {
      flush();
      first = line;
      count = 1;
      varied = false;
    }
  }
  flush();
  return out;
}

/** The commands a matcher ran, one bullet each, a retried command once with its count. */
export function commands(log: readonly string[]): string {
  return bullet(collapse(log, 'vary'));
}

class NotYet extends Error {}

/**
 * Poll `check` until `ok` holds or `timeoutMs` passes, and return the last value. Errors (unknown namespace, lab gone)
 * stop it at once: they will not fix themselves.
 */
export async function poll<T>(check: () => Promise<T>, ok: (v: T) => boolean, timeoutMs: number, intervalMs = 50): Promise<T> {
  let last: T | undefined;
  let seen = false;
  try {
    return await pRetry(
      async () => {
        last = await check();
        seen = true;
        if (!ok(last)) throw new NotYet();
        return last;
      },
      {
        retries: Number.POSITIVE_INFINITY,
        factor: 1,
        minTimeout: intervalMs,
        maxTimeout: intervalMs,
        randomize: false,
        maxRetryTime: timeoutMs,
        shouldRetry: ({ error }) => error instanceof NotYet,
      },
    );
  } catch (error) {
    if (error instanceof NotYet && seen) return last as T;
    throw error;
  }
}
