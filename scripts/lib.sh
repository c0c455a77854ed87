# Shared helpers of the project scripts (sourced).
log() { echo "[simdopt] $*" >&2; }
die() { echo "[simdopt] error: $*" >&2; exit 1; }

# The version of a crate pinned in Cargo.lock.
locked_version() {
  awk -v n="$1" '$0 == "name = \"" n "\"" { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock
}

# Installs a cargo tool at an exact version unless that version is already on PATH.
ensure_cargo_tool() { # crate binary version
  local crate=$1 bin=$2 version=$3
  export PATH="$HOME/.cargo/bin:$PATH"
  if command -v "$bin" >/dev/null && "$bin" --version 2>/dev/null | grep -q " $version\b"; then
    return 0
  fi
  log "cargo install $crate $version (once; a few minutes)"
  cargo install --quiet "$crate" --version "=$version" >&2
}

# Builds the wasm32 standard library from the Rust sources in $1 (offline: std's own
# dependencies come from the sources' vendor directory) with rustc $2 and cargo $3 and the
# RUSTFLAGS $4, and copies its rlibs into the directory $5 (emptied first; ${SUDO:-} applies).
build_wasm_std() { # src rustc cargo rustflags dest
  local src=$1 rustc=$2 cargo=$3 flags=$4 dest=$5 work
  work=$(mktemp -d)
  mkdir -p "$work/src" "$work/.cargo"
  printf '[package]\nname = "stdbuild"\nversion = "0.0.0"\nedition = "2021"\n[lib]\npath = "src/lib.rs"\n[workspace]\n' > "$work/Cargo.toml"
  : > "$work/src/lib.rs"
  printf '[source.crates-io]\nreplace-with = "vendored-std"\n[source.vendored-std]\ndirectory = "%s/library/vendor"\n' "$src" > "$work/.cargo/config.toml"
  (cd "$work" && env -u RUSTUP_TOOLCHAIN RUSTC="$rustc" RUSTC_BOOTSTRAP=1 RUSTFLAGS="$flags" "$cargo" build --release --offline \
      --target wasm32-unknown-unknown -Z build-std=std,panic_abort >&2)
  ${SUDO:-} mkdir -p "$dest"
  ${SUDO:-} rm -f "$dest"/*.rlib
  for f in "$work"/target/wasm32-unknown-unknown/release/deps/*.rlib; do
    case "$(basename "$f")" in libstdbuild-*) ;; *) ${SUDO:-} cp "$f" "$dest/";; esac
  done
  rm -rf "$work"
}
