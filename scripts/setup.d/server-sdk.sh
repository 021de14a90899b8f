#!/usr/bin/env bash
# The official `openai` Python package and `websockets`, for scripts/test.d/server-sdk.sh, in a
# venv cached under ~/.cache/wasm-chord (a second run is a no-op).
set -euo pipefail
PY=${PYTHON:-python3}
venv="${CHORD_CACHE:-$HOME/.cache/wasm-chord}/venv-server"
if [ ! -x "$venv/bin/python" ]; then
  "$PY" -m venv "$venv"
fi
if ! "$venv/bin/python" -c 'import openai, websockets' 2>/dev/null; then
  "$venv/bin/python" -m pip install --quiet "openai>=1.40,<3" "websockets>=12,<16"
fi
