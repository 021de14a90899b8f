//! Llama family (Llama 1/2/3, TinyLlama, Mistral without sliding window): RMSNorm, normal-mode
//! RoPE (the GGUF converter permutes Q/K so adjacent pairs rotate), grouped-query attention,
//! SwiGLU feed-forward.

use crate::config::{base_config, Activation, Arch, Config, Keys, RopeMode};
use crate::error::Result;

pub(crate) fn config(k: &Keys) -> Result<Config> {
    base_config(k, Arch::Llama, RopeMode::Normal, Activation::SiluGated)
}
