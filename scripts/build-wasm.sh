#!/usr/bin/env bash
# Builds the two wasm binaries (simd128 and scalar fallback) with wasm-pack and turns them into
# the modules the TypeScript facade imports (ts/wasm/generated/). Skips work that is up to date.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

TOOLCHAIN=$(scripts/wasm-toolchain.sh)
ensure_cargo_tool wasm-bindgen-cli wasm-bindgen "$(locked_version wasm-bindgen)"
ensure_cargo_tool wasm-pack wasm-pack 0.15.1

OUT=ts/wasm/generated
STAMP=.build/wasm.stamp
inputs_hash=$( (cat Cargo.lock scripts/build-wasm.sh scripts/embed-wasm.mjs; find crates -type f \( -name '*.rs' -o -name Cargo.toml \) -print0 | sort -z | xargs -0 cat; echo "$TOOLCHAIN") | sha256sum | cut -c1-16)
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$inputs_hash" ] && [ -f "$OUT/simdopt_wasm.js" ] && [ -f "$OUT/simdopt-scalar.wasm" ]; then
  exit 0
fi

build() { # flavor rustflags
  local flavor=$1 flags=$2
  log "wasm-pack build ($flavor)"
  RUSTUP_TOOLCHAIN="$TOOLCHAIN" RUSTFLAGS="$flags" CARGO_TARGET_DIR="target/wasm-$flavor" \
    wasm-pack --quiet build crates/simdopt-wasm --release --target web --no-pack \
      --out-dir "../../.build/wasm/$flavor" --out-name simdopt_wasm >&2
}
build simd "-C target-feature=+simd128"
build scalar "-C target-feature=-simd128"

mkdir -p "$OUT"
# Both builds bind the same exports, so they share one glue module; check that rather than assume.
cmp -s .build/wasm/simd/simdopt_wasm.js .build/wasm/scalar/simdopt_wasm.js \
  || die "the simd and scalar wasm-bindgen glue differ"
# No default `.wasm` URL in the glue (omit-default-module-path in crates/simdopt-wasm/Cargo.toml):
# bundlers would try to resolve a file that is not shipped.
! grep -q "import.meta.url" .build/wasm/simd/simdopt_wasm.js || die "the wasm-bindgen glue still refers to a .wasm file by URL"
cp .build/wasm/simd/simdopt_wasm.js "$OUT/simdopt_wasm.js"
cp .build/wasm/simd/simdopt_wasm.d.ts "$OUT/simdopt_wasm.d.ts"
for flavor in simd scalar; do
  node scripts/embed-wasm.mjs ".build/wasm/$flavor/simdopt_wasm_bg.wasm" "$OUT/$flavor-bytes" "$OUT/simdopt-$flavor.wasm"
done
echo "$inputs_hash" > "$STAMP"
