//! Typed errors of the GPU backend. Every wgpu failure that can reach a user (no adapter, a lost
//! device, out of memory, a shader or binding rejected) becomes one of these instead of wgpu's
//! default panic.

use chord_gguf::GgmlType;
use thiserror::Error;

#[cfg(not(target_arch = "wasm32"))]
const NO_ADAPTER_HINT: &str = "for a software one: apt-get install mesa-vulkan-drivers libvulkan1";
#[cfg(target_arch = "wasm32")]
const NO_ADAPTER_HINT: &str = "navigator.gpu.requestAdapter() gave none: is WebGPU enabled?";

#[derive(Debug, Error)]
pub enum GpuError {
    /// No adapter at all (natively: no Vulkan driver, on Debian install `mesa-vulkan-drivers
    /// libvulkan1` for the software one; in a browser: no WebGPU), or none whose name contains
    /// `CHORD_GPU_ADAPTER`.
    #[error("no GPU adapter found{0} ({hint})", hint = NO_ADAPTER_HINT)]
    NoAdapter(String),
    #[error("the GPU adapter {adapter} refused a device: {why}")]
    RequestDevice { adapter: String, why: String },
    #[error("the GPU device was lost: {0}")]
    DeviceLost(String),
    #[error("out of GPU memory: {0}")]
    OutOfMemory(String),
    /// wgpu rejected a call (a bug of this crate, or a limit of the adapter).
    #[error("GPU validation error: {0}")]
    Validation(String),
    #[error("GPU internal error: {0}")]
    Internal(String),
    #[error("no GPU kernel for weight type {ty} (tensor {name})")]
    Unsupported { name: String, ty: GgmlType },
    #[error("{0}")]
    Shape(String),
    #[error("reading a result back from the GPU failed: {0}")]
    Readback(String),
}

impl From<GpuError> for chord_model::ModelError {
    fn from(e: GpuError) -> Self {
        chord_model::ModelError::Backend(format!("gpu: {e}"))
    }
}

impl From<wgpu::Error> for GpuError {
    fn from(e: wgpu::Error) -> Self {
        match e {
            wgpu::Error::OutOfMemory { source } => GpuError::OutOfMemory(source.to_string()),
            wgpu::Error::Validation { description, .. } => GpuError::Validation(description),
            wgpu::Error::Internal { description, .. } => GpuError::Internal(description),
        }
    }
}

pub type Result<T, E = GpuError> = std::result::Result<T, E>;
