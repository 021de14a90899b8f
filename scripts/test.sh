#!/usr/bin/env bash
# The test command: setup (idempotent; fetches the models once), then every test of the workspace.
# Release profile: several tests run the real models and must be fast.
# Ends with one line totalling every test binary's results ("tests: N passed, N failed"), written
# to target/test-summary.txt as well, because cargo's own last line is a doc-test summary.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# --no-fail-fast: run every test binary and report all failures (the exit status is still non-zero).
status=0
cargo test --workspace --release --no-fail-fast 2>&1 | tee "$log" || status=$?
# Further suites (Python SDK, Node/wasm package, browser page...): each scripts/test.d/*.sh runs
# its tests and prints cargo-style "test result: ... N passed; M failed" lines so they are totalled.
for suite in scripts/test.d/*.sh; do
  [ -e "$suite" ] || continue
  echo "=== $suite" | tee -a "$log"
  bash "$suite" 2>&1 | tee -a "$log" || status=$?
done
summary=$(awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
               END { printf "tests: %d passed, %d failed\n", p, f }' "$log")
mkdir -p target
echo "$summary" | tee target/test-summary.txt
exit "$status"
