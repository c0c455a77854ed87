#!/usr/bin/env bash
# Builds the third wasm binary: simd128 + atomics over a shared, imported memory, with the
# worker pool of crates/simdopt-wasm (cargo feature `threads`), and turns it into the modules
# the TypeScript side imports (ts/wasm/generated/threads/). Skips work that is up to date.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

TOOLCHAIN=$(scripts/wasm-toolchain.sh)
SYSROOT=$(scripts/wasm-threads-toolchain.sh)
ensure_cargo_tool wasm-bindgen-cli wasm-bindgen "$(locked_version wasm-bindgen)"

OUT=ts/wasm/generated/threads
BUILD=.build/wasm/threads
STAMP=.build/wasm-threads.stamp
inputs_hash=$( (cat Cargo.lock scripts/build-wasm-threads.sh scripts/embed-wasm.mjs; find crates -type f \( -name '*.rs' -o -name Cargo.toml \) -print0 | sort -z | xargs -0 cat; echo "$TOOLCHAIN $SYSROOT") | sha256sum | cut -c1-16)
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$inputs_hash" ] && [ -f "$OUT/simdopt_wasm.js" ] && [ -f "$OUT/threads-bytes-2.js" ]; then
  exit 0
fi

# Shared memory needs every object (std included: hence the sysroot) compiled with atomics and
# bulk memory. The memory is imported (the workers instantiate the module on the main thread's
# memory) and may grow to 4 GiB, the limit of the single-threaded builds; browsers reserve that
# address space without committing it. wasm-bindgen's threads transform gives each instance its
# own stack and thread-local storage through the TLS symbols exported here.
MAX_MEMORY=$((4 * 1024 * 1024 * 1024))
FLAGS="--sysroot=$SYSROOT -C target-feature=+atomics,+bulk-memory,+mutable-globals,+simd128"
for arg in --shared-memory --import-memory "--max-memory=$MAX_MEMORY" \
           --export=__wasm_init_tls --export=__tls_size --export=__tls_align --export=__tls_base; do
  FLAGS="$FLAGS -C link-arg=$arg"
done

log "cargo build (threads)"
# RUSTC_BOOTSTRAP: the pool sleeps and wakes with the (unstable) wasm32 atomic wait intrinsics.
RUSTUP_TOOLCHAIN="$TOOLCHAIN" RUSTC_BOOTSTRAP=1 RUSTFLAGS="$FLAGS" CARGO_TARGET_DIR=target/wasm-threads \
  cargo build --quiet --release --target wasm32-unknown-unknown -p simdopt-wasm --features threads >&2
rm -rf "$BUILD" && mkdir -p "$BUILD" "$OUT"
# No default `.wasm` URL in the glue (as for the other builds: the module is always passed in).
wasm-bindgen --target web --omit-default-module-path --out-dir "$BUILD" --out-name simdopt_wasm \
  target/wasm-threads/wasm32-unknown-unknown/release/simdopt_wasm.wasm >&2
cp "$BUILD/simdopt_wasm.js" "$BUILD/simdopt_wasm.d.ts" "$OUT/"
# Two parts: its base64 (about 630 kB) in one chunk would make Vite warn about chunk size.
rm -f "$OUT"/threads-bytes*
node scripts/embed-wasm.mjs "$BUILD/simdopt_wasm_bg.wasm" "$OUT/threads-bytes" "$OUT/simdopt-threads.wasm" 2
echo "$inputs_hash" > "$STAMP"
