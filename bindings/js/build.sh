#!/usr/bin/env bash
# Builds the package's two engines into bindings/js/pkg/: `scalar` (any WebAssembly engine) and
# `simd` (`+simd128`: the SIMD128 kernels), each the chord-wasm crate for wasm32-unknown-unknown
# post-processed by wasm-bindgen (lib.sh: which one, and the --target web glue).
# Parallelism: cargo's default, or CARGO_BUILD_JOBS (set it to 1 on a shared machine).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
build() { # flavor target-dir rustflags
  local flavor=$1 dir=$2 flags=$3
  CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="$flags" nice -n 10 \
    cargo build --release --quiet -p chord-wasm --target wasm32-unknown-unknown --target-dir "$dir"
  bindgen_into "$flavor" "$dir/wasm32-unknown-unknown/release/chord_wasm.wasm"
}
# The scalar build shares the workspace target dir (CI's wasm32 check builds there too); the
# SIMD one needs its own, as its flags differ.
build scalar "$root/target" ""
build simd "$root/target/wasm-simd" "-C target-feature=+simd128"
# The WebSocket client (src/client.ts) into dist/ with the pinned TypeScript (npm devDependency).
[ -x "$here/node_modules/.bin/tsc" ] || (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
"$here/node_modules/.bin/tsc" -p "$here/tsconfig.client.json"
echo "built $here/pkg/{scalar,simd} and $here/dist/client.js" >&2
