#!/usr/bin/env bash
# The side-by-side speed benchmark (not part of the test suite): makes sure dependencies and the
# build are up to date, then runs benches/bench.mjs in one process (see its header for options,
# e.g. `npm run bench -- --json bench.json`). `cargo bench` runs the native criterion benches.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec node --expose-gc benches/bench.mjs "$@"
