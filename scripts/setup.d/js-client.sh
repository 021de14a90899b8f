#!/usr/bin/env bash
# The npm package's devDependencies (bindings/js/package-lock.json): TypeScript, which compiles
# the WebSocket client (src/client.ts) into dist/, and the `ws` package its Node 20 tests use.
# Idempotent: npm ci runs only when node_modules lacks them (npm's cache makes a rerun offline).
set -euo pipefail
cd "$(dirname "$0")/../../bindings/js"
if ! command -v npm >/dev/null; then
  apt-get update -qq && apt-get install -y -qq nodejs npm >/dev/null
fi
want_ts=$(node -p 'require("./package.json").devDependencies.typescript')
have_ts=$(node -p 'try { require("./node_modules/typescript/package.json").version } catch { "" }')
if [ "$have_ts" != "$want_ts" ] || [ ! -f node_modules/ws/package.json ]; then
  echo "[setup js-client] npm ci in bindings/js (typescript $want_ts, ws)" >&2
  npm ci --no-audit --no-fund --loglevel=error
fi
