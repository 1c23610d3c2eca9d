/**
 * netspec's command-line entry points as plain JavaScript, for the specs that run them as a user does (`netspec
 * doctor`, `npm run lessons -- hint 01`, …): src/, fixtures/ and lessons/ compiled file by file with esbuild (the
 * transform tsx applies on the fly, types stripped, nothing bundled) into `.netspec-build-<hash>/`, laid out as the
 * package's `dist/` is (a folder beside package.json and lessons/, so the CLI finds its version and the course its
 * lessons as the installed package does).
 *
 * Why: under `node --import tsx` a child run cost 0.65–0.85 CPU-s, half of it tsx's module hooks (a CLI run: 0.31
 * CPU-s compiled); the suite starts some 50 such runs, on a 2-core machine where CPU bounds the suite's time.
 *
 * A build is named by a hash of everything that makes it (the sources, esbuild's version, tsconfig.json, this file),
 * so a folder never changes once it is there: a process builds into a folder of its own and renames it into place in
 * one step, and when another process got there first it keeps theirs (the same build). Vitest's global setup builds
 * before any spec file runs and removes older builds and what an interrupted build left (`cleanBuilds`); in watch mode
 * an edit makes a new hash, built by the first spec that asks.
 */
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSync, version as esbuildVersion } from 'esbuild';
import { repoRoot } from './process.js';

const SOURCES = ['src', 'fixtures', 'lessons'];
const PREFIX = '.netspec-build-';

function sources(): string[] {
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, e.name);
      if (e.isDirectory()) walk(path);
      else if ((path.endsWith('.ts') && !path.endsWith('.d.ts')) || path.endsWith('.json')) files.push(path);
    }
  };
  for (const d of SOURCES) walk(join(repoRoot, d));
  return files.sort();
}

// the last build this process found, by the size and time of every input: a look costs a stat a file, not a read
let last: { key: string; dir: string } | undefined;

/** The folder of the build of the sources as they are now (built if it is not there yet). */
function buildDir(): string {
  const files = sources();
  const inputs = [fileURLToPath(import.meta.url), join(repoRoot, 'tsconfig.json'), ...files];
  const key = inputs.map((f) => {
    const st = statSync(f);
    return `${f} ${st.size} ${st.mtimeMs}`;
  }).join('\n');
  if (last?.key === key && existsSync(last.dir)) return last.dir;
  const dir = hashedDir(files, inputs);
  last = { key, dir };
  return dir;
}

function hashedDir(files: string[], inputs: string[]): string {
  const hash = createHash('sha256').update(`esbuild ${esbuildVersion}\0`);
  for (const f of inputs) hash.update(relative(repoRoot, f)).update('\0').update(readFileSync(f)).update('\0');
  const dir = join(repoRoot, `${PREFIX}${hash.digest('hex').slice(0, 16)}`);
  if (existsSync(dir)) return dir;
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  try {
    buildSync({ entryPoints: files.filter((f) => f.endsWith('.ts')), outdir: tmp, outbase: repoRoot, bundle: false, format: 'esm', platform: 'node', target: 'node20', supported: { 'import-attributes': true }, logLevel: 'error' });
    for (const f of files.filter((f) => f.endsWith('.json'))) {
      const to = join(tmp, relative(repoRoot, f));
      mkdirSync(dirname(to), { recursive: true });
      copyFileSync(f, to);
    }
    renameSync(tmp, dir);
  } catch (error) {
    // another process put the same build in place first: theirs is kept
    if (!existsSync(dir)) throw error;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return dir;
}

/** The compiled entry point for `entry` (a path from the repository's root, e.g. `src/cli.ts`). */
export function compiled(entry: string): string {
  const out = join(buildDir(), entry.replace(/\.ts$/, '.js'));
  if (!existsSync(out)) throw new Error(`no compiled ${entry}: ${out} is missing`);
  return out;
}

/** Builds the current sources, then removes every other build and what a build interrupted by a signal left. */
export function cleanBuilds(): void {
  const current = buildDir();
  for (const name of readdirSync(repoRoot)) {
    if (!name.startsWith('.netspec-build')) continue;
    const path = join(repoRoot, name);
    if (path === current) continue;
    // a build in progress in a live process is left to it
    const pid = /\.tmp-(\d+)$/.exec(name)?.[1];
    if (pid && existsSync(`/proc/${pid}`)) continue;
    rmSync(path, { recursive: true, force: true });
  }
}
