#!/usr/bin/env bash
# Makes a Rust toolchain that targets wasm32-unknown-unknown available, idempotently.
#
# - Where rustup already has the wasm32 target (a normal laptop), this does nothing.
# - Otherwise (rustup cannot download targets here) it builds Debian's rustc-web std for
#   wasm32 from the vendored sources once, installs it into the sysroot and links the
#   result as the rustup toolchain `debian-web`. A stamp keyed on `rustc -vV` avoids rebuilds.
#
# Prints the toolchain name to use (`stable`-ish default or `debian-web`) on its last line.
set -euo pipefail

source "$(dirname "$0")/lib.sh"
log() { echo "[wasm-toolchain] $*" >&2; }

if rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  echo "$(rustup show active-toolchain | cut -d' ' -f1)"
  exit 0
fi

SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"

if ! [ -x /usr/bin/rustc ] || ! [ -d /usr/lib/rustlib/src/rust/library ] || ! [ -x /usr/lib/llvm-19/bin/lld ] \
   || ! dpkg -s rustc-web cargo-web rust-web-src lld-19 >/dev/null 2>&1; then
  log "installing Debian's rustc-web toolchain (apt)"
  $SUDO apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq rustc-web cargo-web rust-web-src lld-19 >&2
  SRC=$(ls -d /usr/src/rustc-* | sort -V | tail -1)
  $SUDO ln -sfn "$SRC" /usr/lib/rustlib/src/rust
fi

SRC=$(readlink -f /usr/lib/rustlib/src/rust)
SYSROOT_LIB=/usr/lib/rustlib/wasm32-unknown-unknown/lib
STAMP="$SYSROOT_LIB/.simdopt-std-stamp"
VERSION=$(/usr/bin/rustc -vV)

if ! [ -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$VERSION" ]; then
  log "building std for wasm32 from $SRC (once; a few minutes)"
  SUDO=$SUDO build_wasm_std "$SRC" /usr/bin/rustc /usr/bin/cargo "" "$SYSROOT_LIB"
  echo "$VERSION" | $SUDO tee "$STAMP" >/dev/null
fi

$SUDO mkdir -p /usr/lib/rustlib/x86_64-unknown-linux-gnu/bin
$SUDO ln -sfn /usr/lib/llvm-19/bin/lld /usr/lib/rustlib/x86_64-unknown-linux-gnu/bin/rust-lld
if ! rustup toolchain list | grep -q '^debian-web'; then
  rustup toolchain link debian-web /usr >&2
fi
echo debian-web
