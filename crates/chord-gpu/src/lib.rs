//! chord-gpu: chord-model's `Backend` on wgpu (Vulkan natively; the same WGSL reaches Metal,
//! DX12 and the browser's WebGPU), tested on Mesa's lavapipe (software Vulkan).
//!
//! - [`device`]: adapter/device selection and typed errors for loss, out-of-memory, validation.
//! - [`weights`]: weights uploaded once in their quantized block format, split by rows under the
//!   adapter's largest storage binding.
//! - [`pool`]: device buffers reused between operations.
//! - `kv`: the KV cache in device memory (`Backend::new_cache`), written row by row, read in place.
//! - `kernels` + `wgsl/`: the WGSL kernels (fused dequantize-matvec per weight type and its tiled
//!   4-token form for prefill, attention).
//! - `attention`: which attention kernel a call runs (per row for decode, flash for prefill on
//!   a real GPU).
//! - `quantize`: activation quantization on the device, byte-identical to chord-quant's.
//! - `step`: a whole forward step recorded into one submission (`Backend::forward_step`).
//! - [`GpuBackend`]: the `Backend` implementation.

mod attention;
mod backend;
mod block_on;
pub mod device;
mod error;
mod kernels;
mod kv;
mod ops;
pub mod pool;
mod quantize;
mod step;
mod trace;
pub mod weights;

pub use attention::{AttentionKernel, FLASH_MIN_TOKENS};
pub use backend::{GpuBackend, MAX_HEAD_DIM};
pub use device::{adapters, AdapterSummary, Gpu, ADAPTER_ENV};
pub use error::{GpuError, Result};
pub use kernels::{
    matmul4 as matmul4_kernel, matvec as matvec_kernel, MatvecKernel, EMBED_TYPES, MATVEC_TYPES,
    TILE_MIN_TOKENS,
};
pub use quantize::QuantKernel;
pub use wgpu::DeviceType;
