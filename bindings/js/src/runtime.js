// Loading the WebAssembly engine: picks the relaxed-SIMD build where the engine validates a
// relaxed-SIMD opcode, else the SIMD128 build where it validates SIMD opcodes, else the scalar
// one, and instantiates it once per JS realm (page, worker, Node). The `gpu` build (SIMD128 plus
// chord-gpu on WebGPU, needing JSPI) is taken only when a model asks for the GPU (index.js).
// A trap (a bug: Rust code should return errors, not panic) leaves the instance in an unknown
// state, so the instance is then discarded and the next load instantiates a fresh one.

const isNode = typeof process !== 'undefined' && !!(process.versions && process.versions.node);

// The smallest module using a SIMD128 opcode (i8x16.splat of 0, dropped; as in wasm-feature-detect).
const SIMD_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15,
  253, 98, 11,
]);

// A module using the relaxed-SIMD opcode the kernels use: () -> v128 returning
// i16x8.relaxed_dot_i8x16_i7x16_s (0xfd 0x112) of two i8x16.splat(0).
const RELAXED_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 15, 1, 13, 0, 65, 0, 253,
  15, 65, 0, 253, 15, 253, 146, 2, 11,
]);

// The smallest module with a 64-bit memory (memory section: one memory, limits flag 0x04 =
// memory64 with a minimum only, minimum 0).
const MEMORY64_PROBE = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 5, 3, 1, 4, 0]);

/** Whether this engine runs WebAssembly memory64 (Node >= 24, Chromium >= 133). */
export function memory64Supported() {
  try {
    return WebAssembly.validate(MEMORY64_PROBE);
  } catch {
    return false;
  }
}

/**
 * Files above this size cannot be loaded whole into wasm32's 4 GiB (weights plus KV cache and
 * scratch): 'auto' takes the wasm64 build for them where the engine has memory64. Smaller ones
 * stay on wasm32, whose SIMD128 kernels the wasm64 build does not have yet.
 */
export const WASM32_MAX_MODEL_BYTES = 3.5 * 2 ** 30;

/** The flavor 'auto' means for a model of `bytes` (null if unknown). */
export function autoFlavor(bytes) {
  if (bytes != null && bytes > WASM32_MAX_MODEL_BYTES && memory64Supported()) return 'wasm64';
  if (relaxedSimdSupported()) return 'relaxed';
  return simdSupported() ? 'simd' : 'scalar';
}

/**
 * Whether this engine runs WebAssembly relaxed SIMD (Chromium >= 114, Node >= 22; Node 20 only
 * with --experimental-wasm-relaxed-simd).
 */
export function relaxedSimdSupported() {
  try {
    return WebAssembly.validate(RELAXED_PROBE);
  } catch {
    return false;
  }
}

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

const FLAVORS = ['relaxed', 'simd', 'scalar', 'wasm64', 'gpu'];

/**
 * The engine: `{ glue, flavor, id, exclusive }`. `flavor` is 'relaxed', 'simd', 'scalar',
 * 'wasm64' or 'gpu';
 * `prefer` ('auto' or one of those) overrides the choice (a forced 'relaxed' on an engine
 * without relaxed SIMD, 'simd' without SIMD, or 'wasm64' without memory64, fails to compile).
 * `bytes`: the model's size, if known, for 'auto' (see `autoFlavor`).
 */
export function runtime(prefer = 'auto', bytes = null) {
  const flavor = prefer === 'auto' ? autoFlavor(bytes) : prefer;
  if (!FLAVORS.includes(flavor)) {
    return Promise.reject(
      new Error(`unknown wasm flavor '${prefer}' (auto, relaxed, simd, scalar, wasm64 or gpu)`),
    );
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
  return { glue, flavor, id, exclusive: serializer() };
}

/**
 * `exclusive(f)` runs the async engine call `f` after every call given to it before has
 * settled. In the gpu build a call suspended by JSPI keeps its frames on the engine's one shadow
 * stack in linear memory; a second suspending call started meanwhile would push its frames
 * where the first one's resume will write. Synchronous calls in between are safe (they return
 * before the first resumes).
 */
function serializer() {
  let tail = Promise.resolve();
  return (f) => {
    const run = tail.then(f);
    tail = run.catch(() => {});
    return run;
  };
}

/** Discards the instance `rt` after a trap. */
export function discard(rt) {
  if (rt.id === generation) {
    generation += 1;
    current = null;
  }
}

export { isNode };
