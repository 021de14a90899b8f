#!/usr/bin/env bash
# Set-up for chord-gpu's tests (idempotent): Mesa's lavapipe, a software Vulkan driver (the
# adapter shows as "llvmpipe"), and the Vulkan loader. The GPU tests need an adapter and FAIL
# without one, so this must have run before `cargo test`.
set -euo pipefail
say() { echo "[setup gpu] $*" >&2; }

have() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
if have mesa-vulkan-drivers && have libvulkan1; then
  exit 0
fi
say "installing mesa-vulkan-drivers libvulkan1 (lavapipe)"
sudo=""
[ "$(id -u)" = 0 ] || sudo="sudo"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
  mesa-vulkan-drivers libvulkan1
