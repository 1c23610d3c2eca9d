/** Network namespace steps (`ip netns …`), run in the lab host. */
import type { StepIn } from './step.js';

/** `ip netns add NAME` */
export function netnsAddStep(name: string): StepIn {
  return { kind: 'ip', words: ['netns', 'add', name], intent: `create namespace ${name}` };
}

/** `ip netns del NAME` as an argv, for undoing a failed build. */
export function netnsDelArgv(name: string): string[] {
  return ['ip', 'netns', 'del', name];
}
