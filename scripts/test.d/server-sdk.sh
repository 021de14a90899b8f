#!/usr/bin/env bash
# `chord serve` with real clients, each against its own server on 127.0.0.1 (free port):
# the official `openai` Python package and a `websockets` client (tests/server/sdk_test.py), and
# the official `openai` npm package (tests/server/sdk_test.mjs). Greedy output must equal
# `chord run`. Each prints a cargo-style "test result:" line that scripts/test.sh totals.
set -euo pipefail
cd "$(dirname "$0")/../.."
cache="${CHORD_CACHE:-$HOME/.cache/wasm-chord}"
[ -x "$cache/venv-server/bin/python" ] && [ -d "$cache/npm-server/node_modules/openai" ] \
  || bash scripts/setup.d/server-sdk.sh
cargo build --release --quiet -p chord-cli
status=0
"$cache/venv-server/bin/python" tests/server/sdk_test.py target/release/chord || status=$?
node tests/server/sdk_test.mjs target/release/chord "$cache/npm-server/node_modules" || status=$?
exit "$status"
