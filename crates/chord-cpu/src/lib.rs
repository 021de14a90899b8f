//! chord-cpu: the CPU implementation of `chord_model::Backend`.
//!
//! A matrix product quantizes each activation row once into the weight type's dot-product
//! partner (Q8_0, Q8_1, Q8_K, F16, BF16 or F32, as llama.cpp pairs them) — once for all the
//! matrices reading the same input — then every output is one `chord_quant` vec-dot of a weight
//! row with an activation row, the weights read in place. Work runs on a persistent thread pool
//! (`pool`); rows are dealt out in chunks, tiled for prefill so weights are reused across tokens.

mod attention;
#[cfg(target_arch = "x86_64")]
mod attention_f16;
#[cfg(target_arch = "x86_64")]
mod attention_ggml;
#[cfg(target_arch = "x86_64")]
mod expf_x86;
mod matmul;
mod pool;
mod simd;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod simd128;
mod trace;

pub use matmul::CpuBackend;
pub use pool::ThreadPool;
