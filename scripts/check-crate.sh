#!/usr/bin/env bash
# The Rust crate as users of the published crate get it: `cargo publish --dry-run -p simdopt-core` (packages it
# and builds the package), then the packaged crate's own tests, unpacked outside the repository
# (with the `scalar-hook` feature its property tests need).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

log "cargo publish --dry-run -p simdopt-core"
find target/package -name 'simdopt-core-*.crate' -delete 2>/dev/null || true # (no stale package is tested)
# --allow-dirty: the check is about what would be published from this tree, committed or not.
out=$(cargo publish --dry-run -p simdopt-core --allow-dirty 2>&1) || { echo "$out" >&2; die "cargo publish --dry-run failed"; }
# A dry run always ends with cargo's "aborting upload due to dry run"; any other warning fails.
if warnings=$(echo "$out" | grep -i "^warning" | grep -v "aborting upload due to dry run"); then
  echo "$out" >&2
  die "cargo publish --dry-run warned: $warnings"
fi

version=$(cargo pkgid -p simdopt-core | sed 's/.*[@#]//')
crate=$(find target/package -name "simdopt-core-$version.crate" -print -quit)
[ -n "$crate" ] || die "cargo wrote no simdopt-core-$version.crate under target/package"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tar -xzf "$crate" -C "$work"
log "cargo test of the packaged crate ($crate)"
CARGO_TARGET_DIR="$PWD/target/packaged-crate" cargo test --quiet --manifest-path "$work/simdopt-core-$version/Cargo.toml" --features scalar-hook
