// A project checked out under /tmp (CI machines often do: /tmp/build/…): a lab's /tmp is an overlay of its own (issue
// 23: what a lab writes in /tmp stays in the lab, bounded by tmpSizeMb), but the working directory is bound back, so a
// lab script's output file and a server's log in the project are what the test reads. Found by .ci/run in a /tmp clone.
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test, vi } from '../../src/vitest.js';
import { repoRoot, runProcess } from '../helpers/process.js';
import { tempDir } from '../helpers/temp.js';

// a child process (node + tsx) makes its lab: give it room on a busy 2-core machine
vi.setConfig({ testTimeout: 90_000 });

test('with the working directory under /tmp, what the lab writes there reaches the machine; elsewhere in /tmp it stays in the lab', async () => {
  const project = tempDir('netspec-tmp-checkout-'); // /tmp/netspec-tmp-checkout-XXXX, the "checkout"
  chmodSync(project, 0o777); // the lab's root is an ordinary user: the folder must be open to it, as a checkout is
  const elsewhere = tempDir('netspec-tmp-elsewhere-');
  chmodSync(elsewhere, 0o777);
  const child = join(project, 'child.mjs');
  writeFileSync(
    child,
    [
      `import { createLab } from ${JSON.stringify(`${repoRoot}src/index.ts`)};`,
      'const lab = await createLab();',
      // absolute paths, as a test names its files (a command's inherited working directory is the machine's folder itself)
      "await lab.host.exec('sh', ['-c', 'echo in-project > \"$1\"/written && echo in-tmp > \"$2\"/written', 'sh', process.cwd(), process.argv[2]]);",
      'await lab.dispose();',
    ].join('\n'),
  );
  const r = await runProcess([process.execPath, '--import', `${repoRoot}node_modules/tsx/dist/loader.mjs`, child, elsewhere], { cwd: project });
  expect(r.code, r.out).toBe(0);
  expect(readFileSync(join(project, 'written'), 'utf8')).toBe('in-project\n');
  expect(existsSync(join(elsewhere, 'written'))).toBe(false); // the rest of /tmp: the lab's own overlay
});
