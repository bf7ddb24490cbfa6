#!/usr/bin/env bash
# Runs every test: set-up, type checks, lint, unit + integration (real qemu-img, real FUSE).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
npx tsc -p test/tsconfig.json
npm run --silent lint
npx vitest run
