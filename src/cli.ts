#!/usr/bin/env node
/** The `netspec` command: doctor, shell, graph, lessons. */
import { readFileSync, writeFileSync } from 'node:fs';
import { doctor, formatChecks } from './doctor.js';
import { InvalidInputError } from './errors.js';
import { runInteractive } from './exec.js';
import { readTopology, toMermaid, toSvg } from './graph.js';
import { createLab, keptDir, keptLabs } from './lab.js';
import { buildNamed, TOPOLOGY_NAMES } from '../fixtures/named.js';

const USAGE = `usage: netspec <command>

  doctor                     check tools, kernel features, privileges, user namespaces, and list kept labs
  shell [topology] [--script S]
                             open a shell inside a fresh lab with a topology applied (default: tutorial), after
                             running the script S in it (bash, unchanged); \`shell empty --script S\`: just your script
  graph [topology] [--script S] [--out F]
                             print the topology as Mermaid and write it as SVG (default: netspec-graph.svg)
  lessons [--watch DIR|hint|list|NN…]
                             the course: lessons and debugging katas (\`netspec lessons --help\`)

  --version                  print netspec's version

topologies: ${TOPOLOGY_NAMES.join(', ')} (a file: containerlab-like, see netspec/fixtures loadTopologyFile)`;

/** The value of `--flag VALUE` in `args` (before a `--`), and the arguments that are neither the flag nor its value. */
function option(args: string[], flag: string): { value?: string; rest: string[] } {
  const end = args.indexOf('--');
  const i = args.indexOf(flag);
  if (i < 0 || (end >= 0 && i > end)) return { rest: args };
  const value = args[i + 1];
  if (value === undefined || value.startsWith('--')) throw new Error(`${flag} needs a value`);
  return { value, rest: [...args.slice(0, i), ...args.slice(i + 2)] };
}

/** Build the named topology (or file), then the user's script, in `lab`; returns what was built, for the user. */
async function setUp(lab: Awaited<ReturnType<typeof createLab>>, args: string[]): Promise<string> {
  const { value: script, rest } = option(args, '--script');
  // anything else is a mistake the user would not see: a misspelt option, or a second topology that would be ignored
  // (after `--`, a file whose name starts with "--")
  const end = rest.indexOf('--');
  const options = end < 0 ? rest : rest.slice(0, end);
  const unknown = options.find((a) => a.startsWith('--'));
  if (unknown !== undefined) throw new InvalidInputError('option', unknown, 'unknown; shell takes --script S, graph --script S and --out F (`netspec --help`); a file whose name starts with "--" goes after `--`');
  const names = end < 0 ? rest : [...options, ...rest.slice(end + 1)];
  if (names.length > 1) throw new InvalidInputError('topology', names.join(' '), 'give one topology (a name or a file); quote a path with spaces');
  const name = names[0];
  let what = await buildNamed(lab, name ?? (script ? 'empty' : 'tutorial'));
  if (script) {
    await lab.script(script);
    what += `, then your script ${script}`;
  }
  return what;
}

/** The version in package.json: two folders up from both src/cli.ts (tsx) and dist/src/cli.js (the package). */
function version(): string {
  for (const up of ['../package.json', '../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(up, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'netspec' && pkg.version) return pkg.version;
    } catch {
      // not this one
    }
  }
  return 'unknown';
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'doctor': {
      const checks = await doctor();
      console.log(formatChecks(checks));
      const kept = keptLabs();
      // each user's kept labs are their own: this lists the ones of the user running it
      console.log(kept.length ? `\nkept labs (NETSPEC_KEEP=1; records in ${keptDir()}):` : `\nkept labs: none (records in ${keptDir()})`);
      for (const k of kept) console.log(`  ${k.id}  ${k.reason}\n    enter: ${k.enter}\n    end:   ${k.end}`);
      return checks.some((c) => !c.ok && c.required) ? 1 : 0;
    }
    case 'shell': {
      const lab = await createLab();
      try {
        const what = await setUp(lab, rest);
        console.log(`netspec: a private lab with ${what}.\nEverything you do here stays in the lab; \`exit\` ends it.`);
        return await runInteractive([...lab.enter('host'), 'bash', '--norc', '-i'], { PS1: '[netspec lab] \\w# ', NETSPEC_LAB: String(lab.pid) });
      } finally {
        await lab.dispose();
      }
    }
    case 'graph': {
      const { value: out = 'netspec-graph.svg', rest: args } = option(rest, '--out');
      const lab = await createLab();
      try {
        await setUp(lab, args);
        const model = await readTopology(lab);
        writeFileSync(out, toSvg(model));
        console.log(toMermaid(model));
        console.error(`netspec: wrote ${out}`);
        return 0;
      } finally {
        await lab.dispose();
      }
    }
    case 'lessons': {
      // loaded on demand: the course (dist/lessons, with the scripts in lessons/) is not needed by the other commands
      const { lessonsMain } = await import('../lessons/cli.js');
      return lessonsMain(rest, { out: (l) => console.log(l), err: (l) => console.error(l), prog: 'netspec lessons' });
    }
    case '--version':
    case '-V':
    case 'version':
      console.log(version());
      return 0;
    case undefined:
    case 'help':
    case '--help':
      console.log(USAGE);
      return command === undefined ? 2 : 0;
    default:
      console.error(`netspec: unknown command ${JSON.stringify(command)}\n\n${USAGE}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`netspec: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
