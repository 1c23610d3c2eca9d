// Creates a lab and keeps it (as NETSPEC_KEEP=1 does for a failed test), then exits, reporting as JSON: the kept lab,
// the folder of its record and the kept labs this user can list. Run as root and as an unprivileged user by
// specs/reliability/settle-keep.spec.ts.
import { createLab } from '../../src/index.js';
import { keptDir, keptLabs } from '../../src/lab.js';

const lab = await createLab();
try {
  const kept = lab.keep('settle-keep spec');
  process.stdout.write(JSON.stringify({ ok: true, kept, dir: keptDir(), listed: keptLabs().map((k) => k.id) }) + '\n');
} catch (error) {
  process.stdout.write(JSON.stringify({ ok: false, error: (error as Error).message, pid: lab.pid }) + '\n');
  await lab.dispose();
}
