#!/usr/bin/env bash
# The Python package's suite, as a user gets it: `maturin build --release` makes the abi3 wheel
# (in the workspace's target/, so it reuses the release build of the other crates), a fresh venv
# installs it with its `client` extra (websockets) and pytest (offline, from the wheelhouse
# scripts/setup.d/python.sh filled), and pytest runs bindings/python/tests there against the real
# models, the `chord` CLI and a `chord serve` it starts (test_client.py).
# Ends with a cargo-style "test result: ... N passed; M failed" line for scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PYTHON:-python3}
cache=${CHORD_PY_CACHE:-$HOME/.cache/wasm-chord/python}

bash scripts/setup.d/python.sh

# The CLI the tests compare with (already built by `cargo test --workspace --release`).
cargo build --release --quiet -p chord-cli
wheels=target/wheels/python
rm -rf "$wheels"
"$cache/tools/bin/maturin" build --release --quiet -m bindings/python/Cargo.toml -i "$PY" -o "$wheels"
wheel=$(ls "$wheels"/wasm_chord-*.whl)

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$PY" -m venv "$tmp/venv"
"$tmp/venv/bin/pip" install --quiet --disable-pip-version-check --no-index \
  --find-links "$cache/wheelhouse" pytest "$wheel[client]"

# Run from outside the source tree so `import wasm_chord` can only find the installed wheel.
root=$PWD
log="$tmp/pytest.log"
status=0
(cd "$tmp" && CHORD_BIN="$root/target/release/chord" "$tmp/venv/bin/python" -m pytest -p no:cacheprovider \
  "$root/bindings/python/tests" -v --durations=8) 2>&1 | tee "$log" || status=$?
# pytest's closing line, e.g. "=== 3 failed, 25 passed in 80.1s ===", in cargo's format.
read -r passed failed < <(tail -n 1 "$log" | awk '{ for (i = 1; i < NF; i++) {
    if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^(failed|error)/) f += $i } }
  END { print p + 0, f + 0 }')
if [ "$status" -eq 0 ] && [ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]; then verdict=ok; else verdict=FAILED; fi
echo "test result: $verdict. $passed passed; $failed failed (python: bindings/python/tests)"
[ "$verdict" = ok ]
