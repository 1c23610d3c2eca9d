/** `lab.script(path, args)`: a shell script file run unchanged in the lab's host. */
import { statSync } from 'node:fs';
import { InvalidInputError } from '../errors.js';

/** The argv that runs the script (`bash -- PATH ARGS…`), after checking that it is a regular file; InvalidInputError else. */
export function scriptArgv(path: string, args: readonly string[]): string[] {
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
  // `--`: the path is the script, never an option of bash, even when it starts with "-" (a file named `-c`)
  return ['bash', '--', path, ...args];
}
