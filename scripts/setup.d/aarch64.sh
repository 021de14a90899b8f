#!/usr/bin/env bash
# The aarch64 (NEON) kernels are built with the cross linker and their property tests run under
# qemu user-mode emulation: Debian's qemu-user, gcc-aarch64-linux-gnu, and the Rust target.
set -euo pipefail
if ! command -v qemu-aarch64 >/dev/null || ! command -v aarch64-linux-gnu-gcc >/dev/null; then
  pkgs="qemu-user gcc-aarch64-linux-gnu libc6-dev-arm64-cross"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q $pkgs >/dev/null \
    || { $SUDO apt-get update -q >/dev/null && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q $pkgs >/dev/null; }
fi
if command -v rustup >/dev/null && ! rustup target list --installed | grep -qx aarch64-unknown-linux-gnu; then
  rustup target add aarch64-unknown-linux-gnu
fi
