/** Address steps (`ip addr …`). */
import type { Cidr } from '../address.js';
import type { StepIn } from './step.js';

/**
 * `ip addr add CIDR dev DEV` (`nodad` for IPv6 unless `nodad: false`). An IPv6 address netspec adds skips duplicate
 * address detection by default, so it is usable at once (a lab's addresses are unique by construction; a tentative
 * address would make a probe right after the build fail for a second or so). `nodad: false` lets DAD run.
 */
export function addressStep(c: Cidr, dev: string, intent = `add address ${c.text} to ${dev}`, options: { nodad?: boolean } = {}): StepIn {
  const words = ['addr', 'add', c.text, 'dev', dev];
  if (c.family === 6 && options.nodad !== false) words.push('nodad');
  return { kind: 'ip', words, intent };
}
