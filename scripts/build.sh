#!/usr/bin/env bash
# Builds the package: the wasm binaries, then the TypeScript facade into dist/.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

bash scripts/build-wasm.sh
# The threads build (ts/wasm/generated/threads/: its own glue, since its memory is shared).
bash scripts/build-wasm-threads.sh
ts_hash=$( (find ts -type f -print0 | sort -z | xargs -0 cat; cat tsconfig.json package.json) | sha256sum | cut -c1-16)
if ! [ -f dist/.stamp ] || [ "$(cat dist/.stamp)" != "$ts_hash" ]; then
  log "tsc"
  rm -rf dist
  node_modules/.bin/tsc -p tsconfig.json
  mkdir -p dist/wasm/generated
  cp ts/wasm/generated/*.js ts/wasm/generated/*.d.ts dist/wasm/generated/
  cp ts/wasm/generated/*.wasm dist/wasm/
  mkdir -p dist/wasm/generated/threads
  cp ts/wasm/generated/threads/*.js ts/wasm/generated/threads/*.d.ts dist/wasm/generated/threads/
  cp ts/wasm/generated/threads/*.wasm dist/wasm/
  # CommonJS TypeScript projects get the same declarations in a "commonjs" folder (package.json's
  # "require" conditions point there), so TS does not refuse them as ES modules (TS1479).
  (cd dist && find . -name '*.d.ts' -print | while read -r f; do mkdir -p "cjs/$(dirname "$f")" && cp "$f" "cjs/$f"; done)
  echo '{ "type": "commonjs" }' > dist/cjs/package.json
  echo "$ts_hash" > dist/.stamp
fi
