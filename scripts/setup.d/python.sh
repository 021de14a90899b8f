#!/usr/bin/env bash
# Tools for the Python package's suite (scripts/test.d/python.sh), cached under the model cache's
# parent so a second run on the same machine installs nothing:
#   - a venv with maturin (builds the wheel);
#   - a wheelhouse with pytest and websockets (wasm_chord.Client's) and their dependencies, from
#     which each test run's fresh venv installs offline.
# Pinned so CI on a clean machine gets what the suite was tested with.
set -euo pipefail
PY=${PYTHON:-python3}
cache=${CHORD_PY_CACHE:-$HOME/.cache/wasm-chord/python}
maturin_req="maturin==1.16.0"
pytest_req="pytest==9.2.0"
# wasm_chord.Client's one dependency (the package's `client` extra), for its tests.
websockets_req="websockets==15.0.1"

say() { echo "[setup python] $*" >&2; }

"$PY" -c 'import sys; assert sys.version_info >= (3, 9)' ||
  { say "$PY is older than 3.9"; exit 1; }
"$PY" -m venv --help >/dev/null 2>&1 || { say "$PY has no venv module (apt-get install python3-venv)"; exit 1; }

tools="$cache/tools"
if ! "$tools/bin/maturin" --version 2>/dev/null | grep -qx "maturin ${maturin_req#maturin==}"; then
  say "maturin into $tools"
  rm -rf "$tools"
  "$PY" -m venv "$tools"
  "$tools/bin/pip" install --quiet --disable-pip-version-check "$maturin_req"
fi

wheels="$cache/wheelhouse"
for req in "$pytest_req" "$websockets_req"; do
  stamp="$wheels/.$req"
  if [ ! -e "$stamp" ]; then
    say "$req wheels into $wheels"
    mkdir -p "$wheels"
    "$PY" -m pip download --quiet --disable-pip-version-check --only-binary=:all: -d "$wheels" "$req"
    touch "$stamp"
  fi
done
