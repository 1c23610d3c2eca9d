#!/usr/bin/env bash
# The sharded run a team's CI matrix does (--shard=i/n with blob reports, then --merge-reports), small: two child spec
# files (specs/children/shard-*.child.ts, one fails on purpose) as two shards, merged. The merged report must keep
# netspec's annotation of the failed test: the lab's state in JUnit's <properties> and under the failure in the default
# reporter. (Vitest 4.1.12 does not replay annotations to the github-actions reporter when merging: its ::notice lines
# come only from unsharded runs; see specs/reporting/reporters.spec.ts.)
set -uo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d /tmp/netspec-shards.XXXXXX)
trap 'rm -rf "$out"' EXIT
vitest=(node node_modules/vitest/vitest.mjs)
config=(--config specs/children/vitest.config.ts)
export NETSPEC_OUTPUT_DIR="$out/failures" NETSPEC_CHILD_TIMEOUT=20000 NO_COLOR=1

fail() {
  echo "FAIL: sharded run: $1"
  for log in "$out"/*.log; do echo "── $log"; cat "$log"; done
  exit 1
}

for i in 1 2; do
  "${vitest[@]}" run "${config[@]}" --shard="$i/2" --reporter=blob --outputFile="$out/blobs/blob-$i-2.json" shard-a.child.ts shard-b.child.ts >"$out/shard-$i.log" 2>&1
  [ -s "$out/blobs/blob-$i-2.json" ] || fail "shard $i/2 wrote no blob report"
done

"${vitest[@]}" "${config[@]}" --merge-reports="$out/blobs" --reporter=default --reporter=junit --outputFile.junit="$out/junit.xml" >"$out/merged.log" 2>&1
code=$?
[ "$code" = 1 ] || fail "the merged run exited with $code, not 1 (one test fails on purpose)"
grep -q 'Tests  1 failed | 1 passed (2)' "$out/merged.log" || fail "the merged report does not count both shards' tests"
grep -q '↳ netspec: the lab'"'"'s state' "$out/merged.log" || fail "the merged default report shows no lab state under the failure"
node -e '
const xml = require("fs").readFileSync(process.argv[1], "utf8");
const c = /<testcase [^>]*name="shard b: a route that is not there"[^]*?<\/testcase>/.exec(xml)?.[0] ?? "";
const ok = /<failure /.test(c) && /<property name="netspec:state" value="netspec: the lab&apos;s state\n[^"]*── namespace red ──[^"]*10\.9\.0\.1\/24/.test(c);
process.exit(ok ? 0 : 1);
' "$out/junit.xml" || fail "the merged JUnit report has no netspec:state property with the lab's state on the failed test"
echo "sharded run: 2 shards merged; the failed test carries the lab's state (JUnit properties, default reporter)"
