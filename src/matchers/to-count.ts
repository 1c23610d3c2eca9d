/**
 * `expect(counter).toCount({ atLeast?, exactly?, atMost?, timeout? })`: the packets a counter made with
 * `ns.counter(filter)` has seen. A lower bound not met yet is polled for until `timeout` (packets may still be on their
 * way); an upper bound exceeded fails at once (a counter only grows). No `.not`: "not exactly 3" would pass on any other
 * count, a typo included; say the bounds that must hold.
 */
import { InvalidInputError } from '../errors.js';
import { PacketCounter, type CounterValue } from '../counter.js';
import { checkOptions, describe, poll, type MatcherContext, type MatcherResult } from './format.js';

export interface ToCountOptions {
  /** At least this many packets. */
  atLeast?: number;
  /** Exactly this many packets (0: none). */
  exactly?: number;
  /** At most this many packets. */
  atMost?: number;
  /** With `exactly`: the bytes those packets must add up to (as nft counts them: whole IP packets). */
  bytes?: number;
  /** How long a lower bound not met yet is waited for, in ms (default 1000). */
  timeout?: number;
}

export const DEFAULT_COUNT_TIMEOUT_MS = 1000;

export async function toCount(this: MatcherContext, received: unknown, bounds: unknown): Promise<MatcherResult> {
  if (!(received instanceof PacketCounter)) {
    throw new InvalidInputError('value given to expect() for toCount', describe(received), 'expected a counter: const c = await red.counter({ protocol: "tcp", dport: 80 }); await expect(c).toCount({ exactly: 1 })');
  }
  if (bounds === undefined) throw new InvalidInputError('toCount bounds', bounds, 'expected { atLeast }, { exactly } or { atMost } (or atLeast with atMost)');
  const b = checkOptions<ToCountOptions>(bounds, 'toCount', { atLeast: 'number', exactly: 'number', atMost: 'number', bytes: 'number', timeout: 'number' });
  if (b.bytes !== undefined && b.exactly === undefined) throw new InvalidInputError('toCount bytes', b.bytes, 'bytes goes with exactly: { exactly: 1, bytes: 576 }');
  for (const key of ['atLeast', 'exactly', 'atMost', 'bytes'] as const) {
    const v = b[key];
    if (v !== undefined && !Number.isSafeInteger(v)) throw new InvalidInputError(`toCount ${key}`, v, 'expected a whole number of packets ≥ 0');
  }
  if (b.atLeast === undefined && b.exactly === undefined && b.atMost === undefined) throw new InvalidInputError('toCount bounds', bounds, 'give at least one of atLeast, exactly, atMost');
  if (b.exactly !== undefined && (b.atLeast !== undefined || b.atMost !== undefined)) throw new InvalidInputError('toCount bounds', bounds, '`exactly` says it all: give it alone, or atLeast/atMost');
  if (b.atLeast !== undefined && b.atMost !== undefined && b.atLeast > b.atMost) throw new InvalidInputError('toCount bounds', bounds, `atLeast ${b.atLeast} is more than atMost ${b.atMost}: no count passes`);
  if (b.timeout !== undefined && b.timeout === 0) throw new InvalidInputError('toCount timeout', b.timeout, 'expected a number of milliseconds > 0');
  if (this.isNot) throw new InvalidInputError('toCount', '.not', '`.not.toCount` would pass on any other count, a typo included: say the bounds that must hold ({ exactly: 0 }, { atMost: 2 }, { atLeast: 1 })');
  received.ns.lab.assertAlive();
  const low = b.exactly ?? b.atLeast ?? 0;
  const high = b.exactly ?? b.atMost ?? Number.POSITIVE_INFINITY;
  const timeout = b.timeout ?? DEFAULT_COUNT_TIMEOUT_MS;
  const started = performance.now();
  // a counter only grows: over the upper bound is final, under the lower bound may change while packets arrive
  const value: CounterValue = await poll(() => received.read(), (v) => v.packets >= low, timeout);
  const waited = Math.round(performance.now() - started);
  const pass = value.packets >= low && value.packets <= high && (b.bytes === undefined || value.bytes === b.bytes);
  const want = b.exactly !== undefined ? `exactly ${b.exactly}${b.bytes !== undefined ? ` (${b.bytes} bytes)` : ''}` : [b.atLeast !== undefined ? `at least ${b.atLeast}` : '', b.atMost !== undefined ? `at most ${b.atMost}` : ''].filter(Boolean).join(' and ');
  const seen = `${value.packets} packet${value.packets === 1 ? '' : 's'} (${value.bytes} bytes)`;
  const head = `expect(${received}).toCount(${describe(bounds)})`;
  return {
    pass,
    actual: value.packets,
    expected: want,
    message: () =>
      pass
        ? `${head}\n\n${received} counted ${seen}: ${want}`
        : `${head}\n\n${received} counted ${seen}, expected ${want}${value.packets < low ? ` (waited ${waited} ms for more)` : ''}\n\ncommands:\n  ${received.ns.name}$ ${received.readArgv.join(' ')} → packets ${value.packets}, bytes ${value.bytes}`,
  };
}
