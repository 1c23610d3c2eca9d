/**
 * netspec's command-line entry points as plain JavaScript, for the specs that run them as a user does (`netspec
 * doctor`, `npm run lessons -- hint 01`, …): src/, fixtures/ and lessons/ compiled file by file with esbuild (the
 * transform tsx applies on the fly, types stripped, nothing bundled) into `.netspec-build/`, laid out as the package's
 * `dist/` is (a folder beside package.json and lessons/, so the CLI finds its version and the course its lessons as
 * the installed package does).
 *
 * Why: under `node --import tsx` a child run cost 0.65–0.85 CPU-s, half of it tsx's module hooks (a CLI run: 0.31
 * CPU-s compiled); the suite starts some 55 such runs, on a 2-core machine where CPU bounds the suite's time.
 *
 * Built once per version of the sources (a hash of every file, in `.netspec-build/.stamp`): the first process that
 * asks builds into a folder of its own and renames it into place; the others find the stamp, and a spec re-run in
 * watch mode after an edit gets a fresh build.
 */
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { buildSync } from 'esbuild';
import { repoRoot } from './process.js';

const SOURCES = ['src', 'fixtures', 'lessons'];
const OUT = join(repoRoot, '.netspec-build');

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

let built: string | undefined;

/** The compiled entry point for `entry` (a path from the repository's root, e.g. `src/cli.ts`), built if stale. */
export function compiled(entry: string): string {
  const files = sources();
  const hash = createHash('sha1');
  for (const f of files) hash.update(relative(repoRoot, f)).update('\0').update(readFileSync(f)).update('\0');
  const stamp = hash.digest('hex');
  const stampFile = join(OUT, '.stamp');
  if (built !== stamp && !(existsSync(stampFile) && readFileSync(stampFile, 'utf8') === stamp)) {
    const tmp = `${OUT}.${process.pid}`;
    rmSync(tmp, { recursive: true, force: true });
    const ts = files.filter((f) => f.endsWith('.ts'));
    buildSync({ entryPoints: ts, outdir: tmp, outbase: repoRoot, bundle: false, format: 'esm', platform: 'node', target: 'node20', supported: { 'import-attributes': true }, logLevel: 'error' });
    for (const f of files.filter((f) => f.endsWith('.json'))) {
      const to = join(tmp, relative(repoRoot, f));
      mkdirSync(dirname(to), { recursive: true });
      copyFileSync(f, to);
    }
    writeFileSync(join(tmp, '.stamp'), stamp);
    // another process may have put the same build in place meanwhile: theirs stays, this one goes
    if (!(existsSync(stampFile) && readFileSync(stampFile, 'utf8') === stamp)) {
      rmSync(OUT, { recursive: true, force: true });
      try {
        renameSync(tmp, OUT);
      } catch (error) {
        if (!(existsSync(stampFile) && readFileSync(stampFile, 'utf8') === stamp)) throw error;
      }
    }
    rmSync(tmp, { recursive: true, force: true });
  }
  built = stamp;
  const out = join(OUT, entry.replace(/\.ts$/, '.js'));
  if (!existsSync(out)) throw new Error(`no compiled ${entry} in ${OUT}`);
  return out;
}
