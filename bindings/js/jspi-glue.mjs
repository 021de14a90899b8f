// Post-processes the wasm-bindgen glue of the `gpu` build (run by lib.sh) for JSPI, which
// wasm-bindgen does not know about:
//  1. the module's raw import `chord_jspi` (chord-gpu's block_on.rs: `next_task`) is left by
//     wasm-bindgen as `import * as importN from "chord_jspi"`, a bare specifier no browser
//     resolves; it is pointed at the package's src/jspi.js, whose `next_task` is a
//     `WebAssembly.Suspending` object handed to the instance as is;
//  2. the exports that may wait for the GPU (forward passes and device creation) must be entered
//     through `WebAssembly.promising`, and their results exist only once its promise resolves:
//     each such method of the glue becomes `async` and awaits a promising wrapper of its export.
// Every edit must match exactly once, so a wasm-bindgen whose glue looks different fails the
// build here instead of at run time.
// Usage: node jspi-glue.mjs pkg/gpu/chord_wasm.js
import { readFileSync, writeFileSync } from 'node:fs';

// wasm export -> glue method (`Model` methods whose Rust code can reach `block_on`) or free
// function (`export function ...`).
const PROMISING = {
  model_useGpu: 'useGpu',
  model_startGenerate: 'startGenerate',
  model_startChat: 'startChat',
  model_step: 'step',
  gpuSelfCheck: 'gpuSelfCheck',
};

const file = process.argv[2];
let glue = readFileSync(file, 'utf8');

function once(re, replace, what) {
  const hits = glue.match(new RegExp(re.source, re.flags.includes('g') ? re.flags : `${re.flags}g`));
  if (!hits || hits.length !== 1) {
    throw new Error(`jspi-glue: expected one ${what} in ${file}, found ${hits ? hits.length : 0}`);
  }
  glue = glue.replace(re, replace);
}

once(/import \* as (\w+) from "chord_jspi"/, 'import * as $1 from "../../src/jspi.js"', 'chord_jspi import');
for (const [exp, method] of Object.entries(PROMISING)) {
  once(
    new RegExp(`\\n(    |export function )${method}\\(([^)]*)\\) \\{\\n`),
    (_, head, args) => `\n${head === '    ' ? '    async ' : 'export async function '}${method}(${args}) {\n`,
    `method ${method}`,
  );
  once(new RegExp(`\\bwasm\\.${exp}\\(`), `await __chord_promising.${exp}(`, `call of ${exp}`);
}
once(/\n(let wasmModule, wasmInstance, wasm;)\n/, '\n$1\nlet __chord_promising;\n', 'wasm declaration');
const wrappers = Object.keys(PROMISING)
  .map((e) => `${e}: WebAssembly.promising(wasm.${e})`)
  .join(', ');
once(/\n(    wasm = instance\.exports;)\n/, `\n$1\n    __chord_promising = { ${wrappers} };\n`, 'exports assignment');
writeFileSync(file, glue);
