#!/usr/bin/env bash
# Builds the package's four engines into bindings/js/pkg/: `scalar` (any WebAssembly engine),
# `simd` (`+simd128`: the SIMD128 kernels), `relaxed` (`+simd128,+relaxed-simd`) and `gpu`
# (`simd` plus chord-gpu on WebGPU, for browsers with JSPI), each the chord-wasm crate for
# wasm32-unknown-unknown post-processed by wasm-bindgen (lib.sh: which one, and the --target web
# glue; jspi-glue.mjs then adapts the gpu build's glue to JSPI).
# Parallelism: cargo's default, or CARGO_BUILD_JOBS (set it to 1 on a shared machine).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
build() { # flavor target-dir rustflags [cargo args]
  local flavor=$1 dir=$2 flags=$3
  shift 3
  CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="$flags" nice -n 10 \
    cargo build --release --quiet -p chord-wasm --target wasm32-unknown-unknown --target-dir "$dir" "$@"
  bindgen_into "$flavor" "$dir/wasm32-unknown-unknown/release/chord_wasm.wasm"
}
# The scalar build shares the workspace target dir (CI's wasm32 check builds there too); the
# SIMD ones need their own, as their flags differ.
build scalar "$root/target" ""
build simd "$root/target/wasm-simd" "-C target-feature=+simd128"
# Relaxed SIMD (Chromium >= 114, Node >= 22, Node 20 with --experimental-wasm-relaxed-simd):
# the SIMD128 build with relaxed-SIMD integer dots in the Q4_0/Q5_0/Q8_0 kernels.
build relaxed "$root/target/wasm-relaxed" "-C target-feature=+simd128,+relaxed-simd"
# WebGPU through JSPI (Chromium >= 137 with WebGPU): the SIMD128 build with the `gpu` feature
# (chord-gpu, wgpu's webgpu backend). It shares the SIMD build's target dir, as the flags are the
# same: only chord-wasm and wgpu's crates are built again (cargo keeps both chord-wasm variants
# and copies out the one asked for). wasm-bindgen knows nothing of JSPI: jspi-glue.mjs wires the
# suspending import and makes the methods that may wait for the GPU async.
build gpu "$root/target/wasm-simd" "-C target-feature=+simd128" --features gpu
node "$here/jspi-glue.mjs" "$here/pkg/gpu/chord_wasm.js"
# The WebSocket client (src/client.ts) into dist/ with the pinned TypeScript (npm devDependency).
[ -x "$here/node_modules/.bin/tsc" ] || (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
"$here/node_modules/.bin/tsc" -p "$here/tsconfig.client.json"
echo "built $here/pkg/{scalar,simd,relaxed,gpu} and $here/dist/client.js" >&2
