/** Address steps (`ip addr …`). */
import type { Cidr } from '../address.js';
import type { StepIn } from './step.js';

/** `ip addr add CIDR dev DEV` (`nodad` for IPv6). */
export function addressStep(c: Cidr, dev: string, intent = `add address ${c.text} to ${dev}`): StepIn {
  // `nodad` so an IPv6 address is usable at once instead of after duplicate address detection
  const words = ['addr', 'add', c.text, 'dev', dev];
  if (c.family === 6) words.push('nodad');
  return { kind: 'ip', words, intent };
}
