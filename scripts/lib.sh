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
