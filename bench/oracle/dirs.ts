/**
 * Folders the oracle shares with its labs' processes (listener logs, service logs, the stop file). A lab's root is an
 * ordinary user on the machine and its /tmp is an overlay of its own (ARCHITECTURE.md, "A lab"): a folder under the
 * machine's /tmp made by mkdtemp (0700, root's) is neither readable to the lab nor does the lab's writing there reach
 * the oracle. These live in the working directory, open to the lab (0777), and are removed by the caller.
 */
import { chmodSync, mkdirSync, mkdtempSync } from 'node:fs';
import { join } from 'node:path';

export function sharedDir(prefix: string): string {
  const base = join(process.cwd(), '.netspec-oracle');
  mkdirSync(base, { recursive: true, mode: 0o755 });
  const dir = mkdtempSync(join(base, prefix));
  chmodSync(dir, 0o777);
  return dir;
}
