#!/usr/bin/env bash
# The test command: setup (idempotent; fetches the models once), then every test of the workspace.
# Release profile: several tests run the real models and must be fast.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# --no-fail-fast: run every test binary and report all failures (the exit status is still non-zero).
cargo test --workspace --release --no-fail-fast
