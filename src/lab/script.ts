/** `lab.script(path, args)`: a shell script file run unchanged in the lab's host. */
import { statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { InvalidInputError } from '../errors.js';
import { LAB_ID_BASE } from './lifeline-argv.js';

/**
 * Where a root lab's root (the machine's uid LAB_ID_BASE, an ordinary user) could not read `path`: the script itself
 * without read permission for others, or a folder on its way without search permission (a folder made by mkdtemp is
 * 0700). undefined when it can.
 */
export function unreadableByLab(path: string): string | undefined {
  const full = resolve(path);
  const allowed = (st: { uid: number; mode: number }, own: number, other: number) => (st.uid === LAB_ID_BASE ? (st.mode & own) !== 0 : (st.mode & other) !== 0);
  for (let dir = dirname(full); ; dir = dirname(dir)) {
    try {
      if (!allowed(statSync(dir), 0o100, 0o001)) return `the folder ${dir} (mode ${(statSync(dir).mode & 0o777).toString(8)}) lets others not enter it`;
    } catch {
      return undefined; // statSync of the script reports a missing path
    }
    if (dir === '/') break;
  }
  try {
    const st = statSync(full);
    if (!allowed(st, 0o400, 0o004)) return `the script (mode ${(st.mode & 0o777).toString(8)}) is not readable by others`;
  } catch {
    /* reported by scriptArgv */
  }
  return undefined;
}

/** The argv that runs the script (`bash -- PATH ARGS…`), after checking that it is a regular file; InvalidInputError else. */
export function scriptArgv(path: string, args: readonly string[], readAsOther = false): string[] {
  if (typeof path !== 'string' || !path || path.includes('\0')) throw new InvalidInputError('script path', path, 'expected the path of a shell script');
  if (!Array.isArray(args) || !args.every((a) => typeof a === 'string' && !a.includes('\0'))) {
    throw new InvalidInputError('script arguments', args, 'expected an array of strings (without NUL characters)');
  }
  let file;
  try {
    file = statSync(path);
  } catch {
    throw new InvalidInputError('script path', path, 'no such file (paths are relative to the current directory)');
  }
  if (!file.isFile()) throw new InvalidInputError('script path', path, 'not a regular file: give the path of a shell script');
  const unreadable = readAsOther ? unreadableByLab(path) : undefined;
  if (unreadable) {
    throw new InvalidInputError(
      'script path',
      path,
      `the lab cannot read it: ${unreadable}. A lab's root is an ordinary user to the machine (uid ${LAB_ID_BASE}), not its root; make the script readable by others and its folders enterable (chmod o+r SCRIPT, chmod o+x FOLDER), or keep it in the project`,
    );
  }
  // `--`: the path is the script, never an option of bash, even when it starts with "-" (a file named `-c`)
  return ['bash', '--', path, ...args];
}
