#!/usr/bin/env node
/** The `netspec` command: doctor, shell, graph, kept, lessons (util.parseArgs: strict options, `--help` on each). */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { doctor, formatChecks } from './doctor.js';
import { runInteractive } from './exec.js';
import { readTopology, toMermaid, toSvg } from './graph.js';
import { createLab, keptDir, keptEnter, keptLabs, type KeptLab } from './lab.js';
import { buildNamed, TOPOLOGY_NAMES } from '../fixtures/named.js';

const TOPOLOGIES = `topologies: ${TOPOLOGY_NAMES.join(', ')} (a file: containerlab-like, see netspec/fixtures loadTopologyFile)`;

/** Each command: its usage text and its options (util.parseArgs, strict: an unknown option is a usage error). */
const COMMANDS = {
  doctor: {
    usage: 'netspec doctor\n\n  check tools, kernel features, privileges, user namespaces, and list kept labs; exit 1 if something required is missing',
    options: {},
    positionals: 0,
  },
  shell: {
    usage: `netspec shell [topology] [--script S]\n\n  open a shell inside a fresh lab with a topology applied (default: tutorial), after running the script S in it\n  (bash, unchanged); \`netspec shell empty --script S\`: just your script. A file whose name starts with "--" goes\n  after \`--\`.\n\n${TOPOLOGIES}`,
    options: { script: { type: 'string' } },
    positionals: 1,
  },
  graph: {
    usage: `netspec graph [topology] [--script S] [--out F]\n\n  print the topology as Mermaid and write it as SVG to F (default: netspec-graph.svg; its folder is created)\n\n${TOPOLOGIES}`,
    options: { script: { type: 'string' }, out: { type: 'string' } },
    positionals: 1,
  },
  kept: {
    usage:
      'netspec kept [list]              the labs kept by NETSPEC_KEEP=1 (yours), with how to enter and end each\n' +
      '       netspec kept shell ID [NS]       a shell in kept lab ID: in its host, or in its namespace NS\n' +
      '       netspec kept end ID|--all        end kept lab ID (or all of yours)',
    options: { all: { type: 'boolean' } },
    positionals: 3,
  },
} as const satisfies Record<string, { usage: string; options: Record<string, { type: 'string' | 'boolean' }>; positionals: number }>;

const USAGE = `usage: netspec <command> [options]   (netspec <command> --help for each)

  doctor                     check tools, kernel features, privileges, user namespaces, and list kept labs
  shell [topology] [--script S]
                             open a shell inside a fresh lab with a topology applied (default: tutorial)
  graph [topology] [--script S] [--out F]
                             print the topology as Mermaid and write it as SVG (default: netspec-graph.svg)
  kept [list|shell ID [NS]|end ID]
                             the labs kept by NETSPEC_KEEP=1: list them, open a shell in one, end one
  lessons [--watch DIR|hint|list|--report|shell NN|NN…]
                             the course: lessons and debugging katas (\`netspec lessons --help\`)

  --version                  print netspec's version

${TOPOLOGIES}`;

/** A mistake in how the command was called: printed with the command's usage, exit code 2. */
class UsageError extends Error {
  constructor(
    message: string,
    readonly command?: keyof typeof COMMANDS,
  ) {
    super(message);
  }
}

/** The command's options and positionals, strictly: `--help`/`-h` anywhere before `--` asks for its usage. */
function parse<C extends keyof typeof COMMANDS>(command: C, args: string[]): { help: boolean; values: Record<string, string | boolean | undefined>; positionals: string[] } {
  const spec = COMMANDS[command];
  const end = args.indexOf('--');
  const before = end < 0 ? args : args.slice(0, end);
  if (before.includes('--help') || before.includes('-h')) return { help: true, values: {}, positionals: [] };
  let parsed: { values: Record<string, string | boolean | undefined>; positionals: string[] };
  try {
    parsed = parseArgs({ args, options: spec.options as ParseArgsConfig['options'], allowPositionals: true, strict: true }) as typeof parsed;
  } catch (error) {
    throw new UsageError((error as Error).message.replace(/\. To specify a positional argument.*$/s, ''), command);
  }
  if (parsed.positionals.length > spec.positionals) {
    throw new UsageError(command === 'kept' ? `too many arguments: ${parsed.positionals.join(' ')}` : `give one topology (a name or a file), not ${parsed.positionals.length}: ${parsed.positionals.join(' ')}; quote a path with spaces`, command);
  }
  return { help: false, ...parsed };
}

/** Build the named topology (or file), then the user's script, in `lab`; returns what was built, for the user. */
async function setUp(lab: Awaited<ReturnType<typeof createLab>>, name: string | undefined, script: string | undefined): Promise<string> {
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

/**
 * `mkdir -p` one folder at a time (Node's recursive mkdirSync loops for ever where mkdir says ENOENT for a folder whose
 * parent exists, as in /proc): the first refusal throws, naming the folder.
 */
function makeFolders(dir: string): void {
  const missing: string[] = [];
  for (let d = dir; !existsSync(d); d = dirname(d)) {
    missing.unshift(d);
    if (dirname(d) === d) break;
  }
  for (const d of missing) mkdirSync(d);
}

/** A kept lab of this user by its id (as `netspec kept` lists it), or a usage error naming the ones there are. */
function keptLab(id: string | undefined): KeptLab {
  const kept = keptLabs();
  const hit = kept.find((k) => k.id === id);
  if (!hit) throw new UsageError(`${id === undefined ? 'give the id of a kept lab' : `no kept lab ${JSON.stringify(id)}`}; kept labs: ${kept.map((k) => k.id).join(', ') || 'none'}`, 'kept');
  return hit;
}

async function kept(args: string[]): Promise<number> {
  const { values, positionals } = parse('kept', args);
  const [action = 'list', id, ns] = positionals;
  switch (action) {
    case 'list': {
      const labs = keptLabs();
      console.log(labs.length ? `kept labs (records in ${keptDir()}):` : `kept labs: none (records in ${keptDir()})`);
      for (const k of labs) console.log(`  ${k.id}  ${k.reason} (since ${k.created})\n    shell: netspec kept shell ${k.id} [NAMESPACE]\n    end:   netspec kept end ${k.id}`);
      return 0;
    }
    case 'shell': {
      const k = keptLab(id);
      if (ns !== undefined && !/^[A-Za-z0-9_.-]{1,64}$/.test(ns)) throw new UsageError(`namespace ${JSON.stringify(ns)}: a namespace name is letters, digits, _ . - (see \`ip netns\` in the lab's host)`, 'kept');
      const host = keptEnter(k);
      const into = ns === undefined ? host : [...host, 'nsenter', `--net=/run/netns/${ns}`, '--'];
      console.log(`netspec: a shell in kept lab ${k.id}${ns ? `, namespace ${ns}` : ''}; \`exit\` leaves it (the lab stays until \`netspec kept end ${k.id}\`)`);
      return await runInteractive([...into, 'bash', '--norc', '-i'], { PS1: `[netspec kept ${k.id}${ns ? ` ${ns}` : ''}] \\w# ` });
    }
    case 'end': {
      const labs = values.all ? keptLabs() : [keptLab(id)];
      for (const k of labs) {
        try {
          process.kill(k.keeper, 'SIGTERM');
        } catch {
          /* gone already */
        }
        console.log(`netspec: ended kept lab ${k.id}`);
      }
      if (labs.length === 0) console.log('netspec: no kept labs');
      return 0;
    }
    default:
      throw new UsageError(`unknown action ${JSON.stringify(action)}: list, shell or end`, 'kept');
  }
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const help = (c: keyof typeof COMMANDS) => (console.log(`usage: ${COMMANDS[c].usage}`), 0);
  switch (command) {
    case 'doctor': {
      if (parse('doctor', rest).help) return help('doctor');
      const checks = await doctor();
      console.log(formatChecks(checks));
      const kept = keptLabs();
      // each user's kept labs are their own: this lists the ones of the user running it
      console.log(kept.length ? `\nkept labs (NETSPEC_KEEP=1; records in ${keptDir()}):` : `\nkept labs: none (records in ${keptDir()})`);
      for (const k of kept) console.log(`  ${k.id}  ${k.reason}\n    enter: ${k.enter}\n    end:   ${k.end}`);
      return checks.some((c) => !c.ok && c.required) ? 1 : 0;
    }
    case 'shell': {
      const { help: h, values, positionals } = parse('shell', rest);
      if (h) return help('shell');
      const lab = await createLab();
      try {
        const what = await setUp(lab, positionals[0], values.script as string | undefined);
        console.log(`netspec: a private lab with ${what}.\nEverything you do here stays in the lab; \`exit\` ends it.`);
        return await runInteractive([...lab.enter('host'), 'bash', '--norc', '-i'], { PS1: '[netspec lab] \\w# ', NETSPEC_LAB: String(lab.pid) });
      } finally {
        await lab.dispose();
      }
    }
    case 'graph': {
      const { help: h, values, positionals } = parse('graph', rest);
      if (h) return help('graph');
      const out = (values.out as string | undefined) ?? 'netspec-graph.svg';
      // the folder and the file first: a path that cannot be written fails before any lab is built
      makeFolders(dirname(resolve(out)));
      writeFileSync(out, '');
      const lab = await createLab();
      try {
        await setUp(lab, positionals[0], values.script as string | undefined);
        const model = await readTopology(lab);
        writeFileSync(out, toSvg(model));
        console.log(toMermaid(model));
        console.error(`netspec: wrote ${out}`);
        return 0;
      } finally {
        await lab.dispose();
      }
    }
    case 'kept':
      if (parse('kept', rest).help) return help('kept');
      return kept(rest);
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
    case '-h':
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
    if (error instanceof UsageError) {
      console.error(`netspec${error.command ? ` ${error.command}` : ''}: ${error.message}\n\nusage: ${error.command ? COMMANDS[error.command].usage : USAGE}`);
      process.exit(2);
    }
    console.error(`netspec: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
