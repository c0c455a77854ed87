#!/usr/bin/env bash
# The main job: trains a small network with simdopt's optimizers and prints the loss falling.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
node examples/demo.mjs "$@"
