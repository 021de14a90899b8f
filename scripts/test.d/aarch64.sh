#!/usr/bin/env bash
# NEON kernels: chord-quant's kernel property tests (every flavour against scalar on random
# blocks, four-token kernels) cross-compiled for aarch64 and run under qemu-aarch64.
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="qemu-aarch64 -L /usr/aarch64-linux-gnu"
cargo test --release --target aarch64-unknown-linux-gnu -p chord-quant --test vec_dot -- \
  every_flavour four_token random_rows zero_activations vec_dot_checks_lengths
