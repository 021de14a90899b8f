//! chord-model: what a model is and how it computes, independent of hardware.
//!
//! - [`config`]: hyperparameters from GGUF metadata; `arch/` holds one file per family.
//! - [`weights`]: the file's weight matrices, referenced in place in their quantized format.
//! - [`forward`]: the transformer forward pass, written once against the [`backend::Backend`] trait.
//! - [`step`]: the forward pass's ops over activation slots (host: `host_step.rs`; a device
//!   backend records them into one submission).
//! - [`kv_cache`]: per-sequence key/value cache with an explicit context limit.
//! - [`stream`]: layer streaming: the weights behind a random-access source, a byte budget of
//!   them resident, read ahead by a thread.
//! - [`ops`]: small scalar ops (norms, RoPE, activations, softmax) with llama.cpp's numerics.

pub mod arch;
pub mod backend;
pub mod chat;
pub mod config;
mod debug_dump;
pub mod error;
pub mod forward;
mod host_step;
pub mod kv_cache;
pub mod math;
pub mod ops;
pub mod profile;
pub mod sampler;
pub mod sincosf;
pub mod step;
pub mod stream;
pub mod tanhf;
pub mod tokenizer;
pub mod weights;

pub use backend::{AttentionArgs, AttentionShape, Backend, CachedAttention, MatRef};
pub use config::{Arch, Config};
pub use error::{ModelError, Result};
pub use forward::{Logits, Model, Scratch, SeqBatch};
pub use kv_cache::{DeviceKv, KvCache, KvSlice, KvType};
pub use step::{Act, Step};
pub use stream::{SharedSource, StreamOptions, StreamStats};
pub use weights::{ModelFile, TensorRef, WeightView, Weights};
