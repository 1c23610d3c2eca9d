/**
 * Traffic shaping steps (`tc qdisc …`): a rate limit (tbf) or delay and loss (netem) as the root qdisc of a device,
 * and taking it off again. Every value is checked and written in netspec's own canonical words (bits per second,
 * bytes, microseconds, percent), so `tc` never parses a caller's string. The kernel's refusal of a qdisc it does not
 * have becomes a PrerequisiteError naming the module (src/batch.ts, `missingKernelFeature` in src/errors.ts).
 */
import { InvalidInputError } from '../errors.js';
import { checkIfname } from '../names.js';
import { type StepIn, checkStepOptions } from './step.js';

export interface ShapeOptions {
  /** The rate: bits per second as a number (`1_000_000`), or with tc's unit: `'1mbit'`, `'500kbit'`, `'10mbps'` (bytes). */
  rate: number | string;
  /** How many bytes may pass at full speed before the rate applies: bytes, or `'32kb'`, `'4k'`, `'32kbit'` (default: 10 ms at the rate, at least 4 KiB). */
  burst?: number | string;
  /** How long a packet may wait in the queue before it is dropped: ms, or `'400ms'`, `'1s'`, `'50us'` (default 400 ms). */
  latency?: number | string;
}

export interface NetemOptions {
  /** Added delay: ms, or `'100ms'`, `'1s'`, `'500us'`. */
  delay?: number | string;
  /** Random variation of the delay (needs `delay`): ms or a time string. */
  jitter?: number | string;
  /** Packets dropped at random, in percent: `1` or `'1%'`, from 0 to 100. */
  loss?: number | string;
}

const RATE_UNITS: Record<string, number> = { bit: 1, kbit: 1e3, mbit: 1e6, gbit: 1e9, tbit: 1e12, bps: 8, kbps: 8e3, mbps: 8e6, gbps: 8e9, tbps: 8e12 };
// tc's sizes count in 1024s (iproute2's get_size): kb is 1024 bytes, kbit 1024 bits
const SIZE_UNITS: Record<string, number> = { b: 1, k: 1024, kb: 1024, m: 1024 ** 2, mb: 1024 ** 2, g: 1024 ** 3, gb: 1024 ** 3, bit: 1 / 8, kbit: 128, mbit: 128 * 1024, gbit: 128 * 1024 ** 2 };
const TIME_UNITS: Record<string, number> = { us: 1, usec: 1, ms: 1e3, msec: 1e3, s: 1e6, sec: 1e6 };

/** A number with one of `units` (or a plain number, in `plainUnit`), as a whole count of the base unit. */
function measure(value: unknown, input: string, units: Record<string, number>, plainUnit: number, example: string): number {
  let n: number;
  if (typeof value === 'number') {
    // bits and bytes are whole; milliseconds may have a fraction
    if (plainUnit === 1 && !Number.isInteger(value)) throw new InvalidInputError(input, value, `expected ${example}`);
    n = value * plainUnit;
  }
  else if (typeof value === 'string') {
    const m = /^(\d+(?:\.\d+)?)([a-z]+)$/.exec(value);
    const unit = m ? units[m[2]!] : undefined;
    if (!m || unit === undefined) throw new InvalidInputError(input, value, `expected ${example} (units: ${Object.keys(units).join(', ')})`);
    n = Number(m[1]) * unit;
  } else {
    throw new InvalidInputError(input, value, `expected ${example}`);
  }
  if (!Number.isFinite(n) || n < 0) throw new InvalidInputError(input, value, `expected ${example}`);
  return Math.round(n);
}

const MAX_US = 3_600_000_000; // an hour: tc keeps times in 32 bits of microseconds

function time(value: unknown, input: string, positive: boolean): number {
  const us = measure(value, input, TIME_UNITS, 1000, 'a number of milliseconds or a time such as "100ms", "1s", "500us"');
  if (us > MAX_US || (positive && us === 0)) throw new InvalidInputError(input, value, `expected a time ${positive ? 'above 0 and ' : ''}up to an hour`);
  return us;
}


/** `tc qdisc replace dev DEV root tbf rate R burst B latency L`: a rate limit on what DEV sends (replaces any shaping). */
export function tbfStep(dev: string, options: ShapeOptions): StepIn {
  checkIfname(dev, 'device');
  const o = checkStepOptions(options, 'shape', ['rate', 'burst', 'latency'], 'shape');
  if (o.rate === undefined) throw new InvalidInputError('shape option rate', o.rate, 'a rate limit needs a rate, e.g. { rate: "1mbit" }');
  const rate = measure(o.rate, 'shape option rate', RATE_UNITS, 1, 'bits per second (a whole number) or a rate such as "1mbit", "500kbit", "10mbps"');
  if (rate < 8 || rate > 1e13) throw new InvalidInputError('shape option rate', o.rate, 'expected a rate from 8 bit/s (1 byte a second) to 10 tbit');
  // the default (10 ms at the rate) is capped at tbf's largest burst, so a fast rate needs no burst of its own
  const burst = o.burst === undefined ? Math.min(2 ** 32 - 1, Math.max(4096, Math.ceil(rate / 8 / 100))) : measure(o.burst, 'shape option burst', SIZE_UNITS, 1, 'a number of bytes or a size such as "32kb", "4k", "32kbit"');
  if (burst < 1 || burst > 2 ** 32 - 1) throw new InvalidInputError('shape option burst', o.burst, 'expected from 1 byte to 4 GiB (at least one packet, ~1514 bytes, or nothing that size passes)');
  const latency = o.latency === undefined ? 400_000 : time(o.latency, 'shape option latency', true);
  return {
    kind: 'tc',
    words: ['qdisc', 'replace', 'dev', dev, 'root', 'tbf', 'rate', `${rate}bit`, 'burst', String(burst), 'latency', `${latency}us`],
    intent: `limit ${dev} to ${rate} bit/s (tbf)`,
  };
}

/** `tc qdisc replace dev DEV root netem [delay D [J]] [loss P%]`: delay and loss on what DEV sends (replaces any shaping). */
export function netemStep(dev: string, options: NetemOptions): StepIn {
  checkIfname(dev, 'device');
  const o = checkStepOptions(options, 'netem', ['delay', 'jitter', 'loss'], 'netem');
  if (o.jitter !== undefined && o.delay === undefined) throw new InvalidInputError('netem option jitter', o.jitter, 'a jitter varies the delay: give a delay too');
  if (o.delay === undefined && o.loss === undefined) throw new InvalidInputError('netem options', options, 'give a delay, a loss, or both, e.g. { delay: "100ms", loss: 1 }');
  const words = ['qdisc', 'replace', 'dev', dev, 'root', 'netem'];
  const said: string[] = [];
  if (o.delay !== undefined) {
    const delay = time(o.delay, 'netem option delay', false);
    words.push('delay', `${delay}us`);
    said.push(`delay ${delay / 1000} ms`);
    if (o.jitter !== undefined) {
      const jitter = time(o.jitter, 'netem option jitter', false);
      words.push(`${jitter}us`);
      said.push(`± ${jitter / 1000} ms`);
    }
  }
  if (o.loss !== undefined) {
    const text = typeof o.loss === 'string' ? /^(\d+(?:\.\d+)?)%$/.exec(o.loss)?.[1] : undefined;
    const loss = typeof o.loss === 'number' ? o.loss : text === undefined ? NaN : Number(text);
    if (!Number.isFinite(loss) || loss < 0 || loss > 100) throw new InvalidInputError('netem option loss', o.loss, 'expected a percentage from 0 to 100: 1 or "1%"');
    words.push('loss', `${loss}%`);
    said.push(`loss ${loss}%`);
  }
  return { kind: 'tc', words, intent: `${said.join(', ')} on ${dev} (netem)` };
}

/**
 * Take any shaping off DEV, back to the device's default qdisc. `replace` first, so there is always a root qdisc to
 * delete: clearing a device that was never shaped is not an error (the kernel refuses to delete the default one).
 */
export function clearShapingSteps(dev: string): StepIn[] {
  checkIfname(dev, 'device');
  return [
    { kind: 'tc', words: ['qdisc', 'replace', 'dev', dev, 'root', 'pfifo_fast'], intent: `clear the shaping of ${dev}` },
    { kind: 'tc', words: ['qdisc', 'del', 'dev', dev, 'root'], intent: `clear the shaping of ${dev}` },
  ];
}
