/**
 * `npm run lessons -- [NN…] | hint [NN] | list | --watch [DIR]`: the course, run against your scripts
 * (lessons/NN-name/script.sh). `NETSPEC_LESSON=solution npm run lessons` runs the reference solutions instead.
 */
import { lessonsMain } from './cli.js';

lessonsMain(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`netspec lessons: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(2);
  },
);
