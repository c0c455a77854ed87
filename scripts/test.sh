#!/usr/bin/env bash
# The whole test suite: formatting and lints, Rust tests, then the jest tests of the built
# package (Node, both wasm builds, the packed tarball, headless Chromium).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

bash scripts/setup.sh --browser

log "cargo fmt --check"
cargo fmt --all -- --check
log "cargo clippy"
# The threads build's pool is native-testable too (crates/simdopt-wasm, feature `threads`).
THREADS=(--features simdopt-wasm/threads)
cargo clippy --workspace --all-targets "${THREADS[@]}" --quiet -- -D warnings
log "cargo doc"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace "${THREADS[@]}" --no-deps --quiet
log "cargo test"
# Property tests draw fresh cases on every local run; on CI the seed is fixed, so a red run
# reproduces (the jest fuzz tests do the same).
if [[ -n "${CI:-}" ]]; then export PROPTEST_RNG_SEED="${PROPTEST_RNG_SEED:-20261124}"; fi
cargo test --workspace "${THREADS[@]}" --quiet
bash scripts/check-crate.sh
log "eslint, prettier --check"
npm run --silent lint
npm run --silent format:check
log "typecheck"
# ts-jest compiles each test file on its own (isolatedModules) and so reports no type errors:
# the whole program, tests included, is type-checked here.
npm run --silent typecheck
log "jest"
mkdir -p .build
rm -f .build/jest.json # (a stale report must not be summarised as this run's)
status=0
NODE_OPTIONS="--experimental-vm-modules --no-warnings" node_modules/.bin/jest --json --outputFile=.build/jest.json "$@" || status=$?
node scripts/jest-summary.cjs .build/jest.json
exit $status
