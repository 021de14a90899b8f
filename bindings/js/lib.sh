# Shared prologue of build.sh and build-wasm64.sh (sourced, not run). Sets `here` (this
# directory), `root` (the repository; also the working directory afterwards) and `bindgen` (the
# wasm-bindgen that scripts/setup.d/wasm.sh installs, or WASM_BINDGEN, or one on PATH), checked
# against the wasm-bindgen version in Cargo.lock: another version's glue does not match the
# crate's and fails at run time, so stop here instead. Defines `bindgen_into FLAVOR WASM`.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
cd "$root"
bindgen=${WASM_BINDGEN:-$HOME/.cache/wasm-chord/tools/bin/wasm-bindgen}
[ -x "$bindgen" ] || bindgen=$(command -v wasm-bindgen) || {
  echo "wasm-bindgen not found: run scripts/setup.sh (or scripts/setup.d/wasm.sh)" >&2
  exit 1
}
want=$(grep -A1 '^name = "wasm-bindgen"$' "$root/Cargo.lock" | sed -n 's/^version = "\(.*\)"$/\1/p')
have=$("$bindgen" --version | awk '{print $2}')
[ "$have" = "$want" ] || {
  echo "$bindgen is $have but Cargo.lock has wasm-bindgen $want: run scripts/setup.d/wasm.sh" >&2
  exit 1
}

# bindgen_into FLAVOR WASM: post-processes the module WASM into pkg/FLAVOR/ (--target web: an
# ES module that also runs in Node), replacing what was there.
bindgen_into() {
  rm -rf "$here/pkg/$1"
  "$bindgen" --target web --out-dir "$here/pkg/$1" --out-name chord_wasm "$2"
}
