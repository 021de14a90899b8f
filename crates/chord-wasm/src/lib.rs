//! chord-wasm: the WebAssembly face of wasm-chord, made for the npm package in `bindings/js`
//! (which wraps it in an idiomatic API: async iterators, AbortSignal, fetch with progress).
//!
//! Thin by design: loading, tokenizing, chat templates, sampling and stop strings are the
//! engine's; this crate only moves bytes and JSON across the boundary. Every fallible export
//! returns `Result<_, JsError>`, so a Rust error becomes a JS `Error` with the Rust message
//! instead of a trap. Generation is stepped one token per call ([`Model::step`]) so that the
//! JS side can return to its event loop between tokens (streaming, abort).
//!
//! Single-threaded: the engine is built without its `native` feature (no mmap, no threads) and
//! the CPU backend runs every matmul on the calling thread.

// `memory_size` for wasm64 is still unstable; the wasm64 build is made with nightly anyway.
#![cfg_attr(target_arch = "wasm64", feature(simd_wasm64))]

#[cfg(feature = "gpu")]
mod gpu;
mod kernelbench;
mod loader;
mod memcheck;
mod model;
mod options;
mod selfcheck;
mod stream;

pub use loader::ModelLoader;
pub use model::{Model, Token};
pub use options::{GenerateRequest, OptionsError};
pub use stream::{load_streamed, RangeReader};

use wasm_bindgen::prelude::*;

/// Which vec-dot kernel flavour this build uses (`scalar` or `simd128`), for the package's
/// diagnostics and tests.
#[wasm_bindgen(js_name = kernelIsa)]
pub fn kernel_isa() -> String {
    chord_quant::selected_isa().name().to_string()
}

/// Checks this build's vec-dot kernels against the scalar ones, bit for bit, on `rows` random
/// rows per weight type; returns JSON `{isa, kernels, rows, mismatches}`.
#[wasm_bindgen(js_name = kernelSelfCheck)]
pub fn kernel_self_check(seed: u32, rows: u32) -> String {
    selfcheck::run(seed as u64, rows as usize).to_string()
}

/// The gpu build only: the WebGPU kernels against the scalar CPU backend on random data, bit
/// for bit (see `gpu::self_check`); JSON `{adapter, checked, mismatches}`. Suspends (JSPI).
#[cfg(feature = "gpu")]
#[wasm_bindgen(js_name = gpuSelfCheck)]
pub fn gpu_self_check(seed: u32, rows: u32) -> Result<String, JsError> {
    gpu::self_check(seed as u64, rows as usize)
        .map(|v| v.to_string())
        .map_err(|e| JsError::new(&e))
}

/// Runs this build's kernel for weight type `ty` (e.g. "Q8_0") over a random matrix of `rows`
/// × `cols` against one activation, `reps` times, for timing from JS (bench/kernels.mjs);
/// returns the sum of the results.
#[wasm_bindgen(js_name = kernelBench)]
pub fn kernel_bench(ty: &str, cols: u32, rows: u32, reps: u32) -> Result<f64, JsError> {
    kernelbench::run(ty, cols as usize, rows as usize, reps as usize).map_err(|e| JsError::new(&e))
}
