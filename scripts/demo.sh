#!/usr/bin/env bash
# The main job: sets everything up, then trains a small network on the iris data set with
# TensorFlow.js, side by side with simdopt's Adam (through simdopt/tfjs) and tfjs' own Adam;
# prints the accuracies and optimizer time per step, and writes the loss curves as SVG.
#   bash scripts/demo.sh [--epochs N] [--backend cpu|wasm] [--out file.svg]
#   bash scripts/demo.sh --browser [--port N]   the same training live in a browser page
#   bash scripts/demo.sh --sparse [--limit N]    the second demo: a spam filter trained online with
#                                                Ftrl on sparse rows (examples/sparse.mjs)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [ "${1:-}" = "--browser" ]; then
  shift
  exec node examples/browser/serve.mjs "$@"
fi
if [ "${1:-}" = "--sparse" ]; then
  shift
  exec node examples/sparse.mjs "$@"
fi
exec node examples/demo.mjs "$@"
