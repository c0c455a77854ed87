#!/usr/bin/env bash
# Makes a wasm32 standard library compiled for threads (atomics, bulk memory, mutable globals,
# simd128) available, idempotently, and prints the rustc sysroot that holds it on its last line.
#
# The std that rustup ships (and the one scripts/wasm-toolchain.sh builds) is compiled without
# atomics, and a module that links a std without atomics cannot have shared memory. So this
# builds std once more, from the same sources, with the thread features, into a sysroot of its
# own (a per-user cache directory: nothing of the plain toolchain changes). A build passes it
# to rustc as `--sysroot`. A stamp keyed on `rustc -vV` and the features avoids rebuilds.
set -euo pipefail

source "$(dirname "$0")/lib.sh"
log() { echo "[wasm-threads-toolchain] $*" >&2; }

FEATURES="+atomics,+bulk-memory,+mutable-globals,+simd128"

# The plain wasm toolchain first: it installs Debian's rustc-web, its std sources and lld where
# rustup cannot provide a wasm32 target (this script's build reuses all three).
TOOLCHAIN=$("$(dirname "$0")/wasm-toolchain.sh")
RUSTC=$(RUSTUP_TOOLCHAIN="$TOOLCHAIN" rustup which rustc 2>/dev/null || command -v rustc)
CARGO=$(RUSTUP_TOOLCHAIN="$TOOLCHAIN" rustup which cargo 2>/dev/null || command -v cargo)
HOST_SYSROOT=$("$RUSTC" --print sysroot)
SRC="$HOST_SYSROOT/lib/rustlib/src/rust"
[ -d "$SRC/library/std" ] || { echo "[wasm-threads-toolchain] error: no std sources in $SRC (rustup: \`rustup component add rust-src\`)" >&2; exit 1; }
SRC=$(readlink -f "$SRC")

VERSION=$("$RUSTC" -vV)
KEY=$( (echo "$VERSION"; echo "$FEATURES") | sha256sum | cut -c1-16)
SYSROOT="${SIMDOPT_THREADS_SYSROOT:-${XDG_CACHE_HOME:-$HOME/.cache}/simdopt/wasm32-threads-$KEY}"
LIB="$SYSROOT/lib/rustlib/wasm32-unknown-unknown/lib"
STAMP="$LIB/.simdopt-threads-stamp"

if ! [ -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$KEY" ]; then
  log "building std for wasm32 with $FEATURES from $SRC (once; a few minutes)"
  build_wasm_std "$SRC" "$RUSTC" "$CARGO" "-C target-feature=$FEATURES" "$LIB"
  echo "$KEY" > "$STAMP"
fi

# rustc looks for the wasm linker (`rust-lld`) in the sysroot's host bin directory.
HOST=$(echo "$VERSION" | sed -n 's/^host: //p')
LLD=$(ls "$HOST_SYSROOT/lib/rustlib/$HOST/bin/rust-lld" 2>/dev/null || command -v rust-lld || command -v wasm-ld || true)
[ -n "$LLD" ] || { echo "[wasm-threads-toolchain] error: no rust-lld or wasm-ld found" >&2; exit 1; }
mkdir -p "$SYSROOT/lib/rustlib/$HOST/bin"
ln -sfn "$(readlink -f "$LLD")" "$SYSROOT/lib/rustlib/$HOST/bin/rust-lld"
echo "$SYSROOT"
