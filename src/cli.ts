#!/usr/bin/env node
/** The `netspec` command: doctor, shell, graph. */
import { readFileSync, writeFileSync } from 'node:fs';
import { doctor, formatChecks } from './doctor.js';
import { runInteractive } from './exec.js';
import { readTopology, toMermaid, toSvg } from './graph.js';
import { createLab, keptDir, keptLabs } from './lab.js';
import { buildNamed, TOPOLOGY_NAMES } from '../fixtures/named.js';

const USAGE = `usage: netspec <command>

  doctor                     check tools, kernel features, privileges, user namespaces, and list kept labs
  shell [topology]           open a shell inside a fresh lab with a topology applied (default: tutorial)
  graph [topology] [--out F] print the topology as Mermaid and write it as SVG (default: netspec-graph.svg)

  --version                  print netspec's version

topologies: ${TOPOLOGY_NAMES.join(', ')}`;

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
        const what = await buildNamed(lab, rest[0]);
        console.log(`netspec: a private lab with ${what}.\nEverything you do here stays in the lab; \`exit\` ends it.`);
        return await runInteractive([...lab.enter('host'), 'bash', '--norc', '-i'], { PS1: '[netspec lab] \\w# ', NETSPEC_LAB: String(lab.pid) });
      } finally {
        await lab.dispose();
      }
    }
    case 'graph': {
      const out = rest.includes('--out') ? rest[rest.indexOf('--out') + 1] : 'netspec-graph.svg';
      const name = rest.find((a, i) => !a.startsWith('--') && rest[i - 1] !== '--out');
      if (!out) throw new Error('--out needs a file name');
      const lab = await createLab();
      try {
        await buildNamed(lab, name);
        const model = await readTopology(lab);
        writeFileSync(out, toSvg(model));
        console.log(toMermaid(model));
        console.error(`netspec: wrote ${out}`);
        return 0;
      } finally {
        await lab.dispose();
      }
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
