#!/usr/bin/env bash
# netspec is a real package: `npm pack` gives a tarball that a separate, empty project installs and uses from its own
# Vitest spec, with compiled JavaScript and type declarations (checked with tsc).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/netspec-consumer.XXXXXX)
# open to the labs (mktemp makes it 0700): a lab's root is an ordinary user on the machine, and the example's specs
# hand files of the project (examples/firewall/gateway.rules) to iptables-restore in a lab, as a user's project would
chmod 755 "$work"
trap 'rm -rf "$work"' EXIT
cd "$here"
tarball=$(npm pack --silent --pack-destination "$work" | tail -n1)
tar -tzf "$work/$tarball" > "$work/contents.txt"
echo "packed $tarball: $(wc -l < "$work/contents.txt") files"
for f in dist/src/index.js dist/src/index.d.ts dist/src/vitest.js dist/src/vitest.d.ts dist/src/matchers/index.d.ts dist/fixtures/index.d.ts fixtures/scripts/container-network.sh LICENSE CHANGELOG.md; do
  grep -qx "package/$f" "$work/contents.txt" || { echo "missing from the package: $f"; exit 1; }
done
cd "$work"
cat > package.json <<'JSON'
{ "name": "netspec-consumer", "private": true, "type": "module", "scripts": { "test": "vitest run" } }
JSON
vitest_version=$(node -p "require('$here/node_modules/vitest/package.json').version")
ts_version=$(node -p "require('$here/node_modules/typescript/package.json').version")
npm install --no-audit --no-fund --silent "./$tarball" "vitest@$vitest_version" "typescript@$ts_version" "@types/node@^20"
mkdir -p test
# the README's first example, exactly as a newcomer copies it, with no Vitest config of any kind
awk '/^```ts$/ { inside = 1; next } /^```$/ && inside { exit } inside' "$here/README.md" > test/readme-first.spec.ts
grep -q "toReach" test/readme-first.spec.ts || { echo "could not extract the README's first example"; exit 1; }
cat > test/consumer.spec.ts <<'TS'
import { test, expect } from 'netspec/vitest';
import { createLab, InvalidInputError, type Lab } from 'netspec';

test('a consumer project builds the tutorial bridge and asserts on it', async ({ lab }) => {
  const l: Lab = lab;
  const [red, blue] = await Promise.all([l.netns('red'), l.netns('blue')]);
  const bridge = await l.bridge('v-net-0', { address: '192.168.15.3/24' });
  await Promise.all([bridge.attach(red, { address: '192.168.15.1/24' }), bridge.attach(blue, { address: '192.168.15.2/24' })]);
  await expect(red).toReach('192.168.15.2');
  await expect(red).toHaveArpEntry('192.168.15.2');
  await expect(red).not.toReach('192.168.15.99', { window: 200 });
  expect(typeof createLab).toBe('function');
  await expect(l.netns('a/b')).rejects.toBeInstanceOf(InvalidInputError);
  // the matcher types come with the package: a wrong option is a type error (tsc below fails if it is not one), and at
  // run time it throws instead of being ignored
  // @ts-expect-error: `bogus` is not an option of toReach
  await expect(expect(red).toReach('192.168.15.2', { bogus: true })).rejects.toThrow(/unknown option; toReach takes/);
});
TS
cat > tsconfig.json <<'JSON'
{ "compilerOptions": { "target": "ES2022", "module": "NodeNext", "moduleResolution": "NodeNext", "strict": true, "noEmit": true, "skipLibCheck": false, "lib": ["ES2023", "ESNext.Disposable"], "types": ["node"] }, "include": ["test"] }
JSON
# skipLibCheck: false — every declaration netspec ships, and every one it pulls in, type-checks in the consumer
npx tsc -p tsconfig.json
npx vitest run
# the command line, from the installed package
[ "$(npx netspec --version)" = "$(node -p "require('$here/package.json').version")" ] || { echo "netspec --version is wrong"; exit 1; }
# source maps carry their sources (src/ is not shipped)
node -e "const m = JSON.parse(require('fs').readFileSync('./node_modules/netspec/dist/src/lab.js.map', 'utf8')); if (!m.sourcesContent || !m.sourcesContent[0]) process.exit(1)" || { echo "source maps without their sources"; exit 1; }
# the example project (examples/): its own package.json, the packed netspec installed into a copy of it
example="$work/example"
cp -r "$here/examples" "$example"
rm -rf "$example/node_modules"
cd "$example"
npm install --no-audit --no-fund --silent "$work/$tarball" "vitest@$vitest_version" "typescript@$ts_version" "@types/node@^20"
npx tsc -p tsconfig.json
npx vitest run
echo "package check: ok"
