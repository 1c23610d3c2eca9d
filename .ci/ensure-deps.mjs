#!/usr/bin/env node
// Installs what netspec needs on a fresh Debian/Ubuntu machine, and only what is missing:
// the system tools (as root, with apt-get) and the npm packages (npm ci). Plain Node, no dependencies,
// so `npm test` and `npm run specs` can run it before anything else is installed.
import { execFileSync, spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, readFileSync, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
// tool -> Debian package: the one table, shared with src/exec.ts (plain JSON, so no TypeScript is needed here)
const { tools } = JSON.parse(readFileSync(join(root, 'src', 'tool-packages.json'), 'utf8'));

function which(tool) {
  const path = `${process.env.PATH ?? ''}${delimiter}/usr/sbin${delimiter}/sbin`;
  for (const dir of path.split(delimiter)) {
    if (!dir) continue;
    try {
      accessSync(join(dir, tool), constants.X_OK);
      return true;
    } catch {}
  }
  return false;
}

const missing = [...new Set(Object.entries(tools).filter(([t]) => !which(t)).map(([, p]) => p))];
// the CNI plugins (fixtures/cni.ts) live off PATH, in /usr/lib/cni
if (!existsSync('/usr/lib/cni/bridge')) missing.push('containernetworking-plugins');
if (missing.length) {
  if (process.getuid?.() === 0) {
    console.log(`netspec: installing Debian packages: ${missing.join(' ')}`);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
    execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], { stdio: 'inherit', env });
  } else {
    console.error(`netspec: missing system tools. Install them with:\n  sudo apt-get install ${missing.join(' ')}`);
    process.exit(1);
  }
}

const lock = join(root, 'package-lock.json');
const marker = join(root, 'node_modules', '.package-lock.json');
if (!existsSync(marker) || statSync(marker).mtimeMs < statSync(lock).mtimeMs) {
  console.log('netspec: installing npm packages (npm ci)');
  const r = spawnSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
