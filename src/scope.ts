/**
 * The two ways a scope (src/world.ts) runs a command in every namespace but its host: a lab in one process, with
 * `ip -all netns exec` in its host (its private /run/netns lists exactly its namespaces); an attachment one namespace
 * at a time (there is no /run/netns of its own to list).
 */
import type { RunOptions } from './exec.js';
import type { EveryResult, World } from './world.js';

/** A lab: one `ip -all netns exec` in the host; ip prints each namespace's output after a `netns: NAME` line. */
export async function everyLabNamespace(lab: World, argv: readonly string[], options: RunOptions): Promise<EveryResult> {
  if (lab.namespaces().length === 0) return { outputs: new Map(), failures: [] };
  const r = await lab.run('host', ['ip', '-all', 'netns', 'exec', ...argv], { reject: false, ...options, intent: `${options.intent} in every namespace` });
  const outputs = new Map<string, string>();
  for (const block of r.stdout.split(/^netns: /m).slice(1)) {
    const nl = block.indexOf('\n');
    outputs.set(block.slice(0, nl).trim(), block.slice(nl + 1));
  }
  const failures = r.exitCode === 0 ? [] : [`${argv[0]} exited ${r.exitCode} in some namespace: ${r.stderr.trim().split('\n')[0] ?? ''}`];
  return { outputs, failures };
}

/** An attachment: the command in each namespace in turn, through the scope's own (read-only) run. */
export async function eachNamespace(world: World, argv: readonly string[], options: RunOptions): Promise<EveryResult> {
  const outputs = new Map<string, string>();
  const failures: string[] = [];
  await Promise.all(
    world.namespaces().map(async (name) => {
      const r = await world.run(name, argv, { reject: false, ...options });
      outputs.set(name, r.stdout);
      if (r.exitCode !== 0) failures.push(`${name}: ${argv[0]} exited ${r.exitCode}: ${r.stderr.trim().split('\n')[0] ?? ''}`);
    }),
  );
  return { outputs, failures };
}
