#!/usr/bin/env bash
# Runs every test: set-up, type checks, lint, unit + integration (real qemu-img, real FUSE).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
npx tsc -p test/tsconfig.json
npm run --silent lint
npx prettier --check .
results=$(mktemp /tmp/vmdk-test-results.XXXXXX.json)
status=0
npx vitest run --reporter=default --reporter=json --outputFile="$results" || status=$?
# One plain closing line that any CI can read.
node -e '
const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + r.numTodoTests} skipped`);
' "$results" || true
rm -f "$results"
exit "$status"
