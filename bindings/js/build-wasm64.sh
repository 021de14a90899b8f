#!/usr/bin/env bash
# Builds the memory64 engine into bindings/js/pkg/wasm64/: chord-wasm for wasm64-unknown-unknown
# (a tier-3 target: nightly Rust with rust-src, std rebuilt with -Z build-std) post-processed by
# the same wasm-bindgen as build.sh (0.2.130 emits 64-bit pointer glue for a memory64 module).
# Scalar kernels (the SIMD128 ones are wasm32-only). Its own target dir: the std build and the
# flags differ from the wasm32 builds. Several minutes the first time (std from source).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
dir="$root/target/wasm64"
CARGO_TARGET_WASM64_UNKNOWN_UNKNOWN_RUSTFLAGS="-C panic=abort" nice -n 10 \
  cargo +nightly build --release --quiet -p chord-wasm --target wasm64-unknown-unknown \
  -Z build-std=std,panic_abort --target-dir "$dir"
bindgen_into wasm64 "$dir/wasm64-unknown-unknown/release/chord_wasm.wasm"
echo "built $here/pkg/wasm64" >&2
