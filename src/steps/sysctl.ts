/** Sysctl steps (`sysctl -w`): network sysctls only, the ones private to a namespace. */
import { InvalidInputError } from '../errors.js';
import type { StepIn } from './step.js';

export function checkSysctlKey(key: unknown): asserts key is string {
  if (typeof key !== 'string' || !/^net(\.[A-Za-z0-9_-]+)+$/.test(key)) {
    throw new InvalidInputError('sysctl key', key, 'expected a network sysctl such as "net.ipv4.ip_forward" (only net.* is private to a namespace)');
  }
}

/** `sysctl -w KEY=VALUE` */
export function sysctlStep(key: string, value: string | number, intent?: string): StepIn {
  checkSysctlKey(key);
  const v = String(value);
  if (!/^[A-Za-z0-9_.:][A-Za-z0-9_.:-]*$/.test(v)) throw new InvalidInputError('sysctl value', value, 'expected a number or a single word');
  return { kind: 'sysctl', words: [`${key}=${v}`], intent: intent ?? `set ${key}=${v}` };
}

/** IP forwarding on or off: `net.ipv4.ip_forward`, and `net.ipv6.conf.all.forwarding` with `ipv6`. */
export function forwardingSteps(on: boolean, ipv6 = false): StepIn[] {
  const steps = [sysctlStep('net.ipv4.ip_forward', on ? 1 : 0)];
  if (ipv6) steps.push(sysctlStep('net.ipv6.conf.all.forwarding', on ? 1 : 0));
  return steps;
}
