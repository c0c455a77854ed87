#!/usr/bin/env bash
# Everything a fresh clone needs, idempotently and quickly when already done: the Rust wasm
# toolchain, wasm-bindgen-cli and wasm-pack, npm dependencies, then the wasm and TypeScript
# builds. `--browser` also installs Debian's Chromium for the browser tests.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

if [ "${1:-}" = "--browser" ] && ! command -v chromium >/dev/null; then
  log "installing Debian's chromium (apt) for the browser tests"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >&2
fi

lock_hash=$(sha256sum package-lock.json | cut -c1-16)
if ! [ -f node_modules/.simdopt-lock ] || [ "$(cat node_modules/.simdopt-lock)" != "$lock_hash" ]; then
  log "npm ci"
  npm ci --no-audit --no-fund --loglevel=error >&2
  echo "$lock_hash" > node_modules/.simdopt-lock
fi

bash scripts/build.sh
