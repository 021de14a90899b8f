#!/usr/bin/env bash
# The npm package as a user gets it: `npm pack` bindings/js (prepack compiles the client), install
# the tarball into a fresh temp directory (`npm install ./wasm-chord-*.tgz`: it has no runtime
# dependencies, so this is offline), then run bindings/js/test/pack/smoke.mjs there (Gemma 3 270M
# from the model cache, greedy output equal to the native `chord run`; the client's exports) and
# type-check bindings/js/test/pack/types.ts (strict, the package's .d.ts files included) against the installed package with the pinned tsc.
# Prints a cargo-style "test result:" line for scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
command -v node >/dev/null || { echo "node not found (Node >= 20 is needed)" >&2; exit 1; }
bash scripts/setup.d/js-client.sh
CARGO_BUILD_JOBS=${CARGO_BUILD_JOBS:-1} bindings/js/build.sh
nice -n 10 cargo build --release --quiet -p chord-cli
models=${CHORD_HOME:+$CHORD_HOME/models}
models=${models:-$HOME/.cache/wasm-chord/models}
model="$models/gemma-3-270m-q4_k_m.gguf"
[ -f "$model" ] || { echo "gemma3-270m not in $models: run chord pull gemma3-270m" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd bindings/js && npm pack --silent --pack-destination "$tmp" >/dev/null)
tarball=$(ls "$tmp"/wasm-chord-*.tgz)
mkdir "$tmp/app"
cp bindings/js/test/pack/{smoke.mjs,types.ts,tsconfig.json} "$tmp/app/"
echo '{"private": true, "type": "module"}' >"$tmp/app/package.json"
(cd "$tmp/app" && npm install --offline --no-audit --no-fund --loglevel=error "$tarball")

# The oracle: native greedy output, scalar kernels (the ones the wasm build is bit-identical to).
prompt="The capital of France is"
n=8
want=$(CHORD_ISA=scalar target/release/chord run -m "$model" -p "$prompt" -n "$n" --temp 0 -t 1 2>/dev/null; printf x)
want=${want%x}

passed=0 failed=0
log="$tmp/smoke.log"
status=0
(cd "$tmp/app" && node smoke.mjs "$model" "$prompt" "$n" "$want") >"$log" 2>&1 || status=$?
cat "$log"
p=$(grep -c ' \.\.\. ok$' "$log" || true)
f=$(grep -c ' \.\.\. FAILED' "$log" || true)
passed=$((passed + p)) failed=$((failed + f))
# A crash before any check (e.g. the package does not import) counts as a failure too.
if [ "$f" -eq 0 ] && { [ "$status" -ne 0 ] || [ "$p" -ne 2 ]; }; then
  echo "test tarball_smoke_runs ... FAILED (exit $status)"; failed=$((failed + 1))
fi

if (cd "$tmp/app" && "$root/bindings/js/node_modules/.bin/tsc" -p tsconfig.json); then
  echo "test tarball_types_compile ... ok"; passed=$((passed + 1))
else
  echo "test tarball_types_compile ... FAILED"; failed=$((failed + 1))
fi

word=ok
[ "$failed" -eq 0 ] || word=FAILED
echo "test result: $word. $passed passed; $failed failed (npm-pack: the installed tarball)"
[ "$failed" -eq 0 ]
