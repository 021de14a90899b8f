#!/usr/bin/env bash
# `chord serve` with real clients: the official `openai` Python package (chat, completion,
# streaming; greedy output equal to `chord run`) and a `websockets` client (two generations on
# one socket, one cancelled). Runs on 127.0.0.1 with a free port; the server is stopped at exit.
set -euo pipefail
cd "$(dirname "$0")/../.."
venv="${CHORD_CACHE:-$HOME/.cache/wasm-chord}/venv-server"
[ -x "$venv/bin/python" ] || bash scripts/setup.d/server-sdk.sh
cargo build --release --quiet -p chord-cli
exec "$venv/bin/python" tests/server/sdk_test.py target/release/chord
