#!/usr/bin/env bash
# Clients for scripts/test.d/server-sdk.sh, cached under ~/.cache/wasm-chord (a second run is a
# no-op): the official `openai` Python package and `websockets` in a venv, and the official
# `openai` npm package.
set -euo pipefail
PY=${PYTHON:-python3}
cache="${CHORD_CACHE:-$HOME/.cache/wasm-chord}"
venv="$cache/venv-server"
if [ ! -x "$venv/bin/python" ]; then
  "$PY" -m venv "$venv"
fi
if ! "$venv/bin/python" -c 'import openai, websockets' 2>/dev/null; then
  "$venv/bin/python" -m pip install --quiet "openai>=1.40,<3" "websockets>=12,<16"
fi
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  apt-get update -qq && apt-get install -y -qq nodejs npm >/dev/null
fi
npm_dir="$cache/npm-server"
if [ ! -f "$npm_dir/node_modules/openai/package.json" ]; then
  mkdir -p "$npm_dir"
  [ -f "$npm_dir/package.json" ] || echo '{"private": true}' >"$npm_dir/package.json"
  (cd "$npm_dir" && npm install --silent --no-audit --no-fund "openai@^5")
fi
