#!/usr/bin/env node
/** The `netspec` command: `netspec doctor` (and more, see `netspec help`). */
import { doctor, formatChecks } from './doctor.js';

const USAGE = `usage: netspec <command>

  doctor     check tools, kernel features, privileges and user namespaces
  help       this text`;

async function main(argv: string[]): Promise<number> {
  const [command] = argv;
  switch (command) {
    case 'doctor': {
      const checks = await doctor();
      console.log(formatChecks(checks));
      return checks.some((c) => !c.ok && c.required) ? 1 : 0;
    }
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
