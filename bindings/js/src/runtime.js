// Loading the WebAssembly engine: picks the SIMD128 build where the engine validates SIMD
// opcodes, else the scalar one, and instantiates it once per JS realm (page, worker, Node).
// A trap (a bug: Rust code should return errors, not panic) leaves the instance in an unknown
// state, so the instance is then discarded and the next load instantiates a fresh one.

const isNode = typeof process !== 'undefined' && !!(process.versions && process.versions.node);

// The smallest module using a SIMD128 opcode (i8x16.splat of 0, dropped; as in wasm-feature-detect).
const SIMD_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15,
  253, 98, 11,
]);

/** Whether this engine runs WebAssembly SIMD128. */
export function simdSupported() {
  try {
    return WebAssembly.validate(SIMD_PROBE);
  } catch {
    return false;
  }
}

let current = null; // Promise<Runtime>
let generation = 0; // bumped when an instance is discarded: forces a fresh module instance

/**
 * The engine: `{ glue, flavor, id }`. `flavor` is 'simd' or 'scalar'; `prefer` ('auto', 'simd',
 * 'scalar') overrides the choice (a forced 'simd' on an engine without SIMD fails to compile).
 */
export function runtime(prefer = 'auto') {
  const flavor = prefer === 'auto' ? (simdSupported() ? 'simd' : 'scalar') : prefer;
  if (flavor !== 'simd' && flavor !== 'scalar') {
    return Promise.reject(new Error(`unknown wasm flavor '${prefer}' (auto, simd or scalar)`));
  }
  if (current && current.flavor === flavor) return current.promise;
  const id = generation;
  const promise = instantiate(flavor, id);
  current = { flavor, promise };
  promise.catch(() => {
    if (current && current.promise === promise) current = null;
  });
  return promise;
}

async function instantiate(flavor, id) {
  const base = new URL(`../pkg/${flavor}/`, import.meta.url);
  // A query string makes a separate module instance after a trap (browsers and Node key ES
  // modules by full URL).
  const glueUrl = new URL(`chord_wasm.js${id ? `?instance=${id}` : ''}`, base);
  let glue;
  try {
    glue = await import(glueUrl.href);
  } catch (e) {
    throw new Error(
      `wasm-chord: cannot load the ${flavor} engine from ${base.href} (was the package built? ` +
        `run bindings/js/build.sh): ${e.message}`,
    );
  }
  const wasmUrl = new URL('chord_wasm_bg.wasm', base);
  let input = wasmUrl;
  if (isNode) {
    const { readFile } = await import('node:fs/promises');
    input = await readFile(wasmUrl);
  }
  await glue.default({ module_or_path: input });
  return { glue, flavor, id };
}

/** Discards the instance `rt` after a trap. */
export function discard(rt) {
  if (rt.id === generation) {
    generation += 1;
    current = null;
  }
}

export { isNode };
