//! Qwen2 / Qwen2.5: the llama layout plus biases on the Q, K and V projections, and NeoX-mode
//! RoPE (llama.cpp's `llama_model_rope_type` lists QWEN2 as NEOX).

use crate::config::{base_config, Activation, Arch, Config, Keys, RopeMode};
use crate::error::Result;

pub(crate) fn config(k: &Keys) -> Result<Config> {
    let mut c = base_config(k, Arch::Qwen2, RopeMode::Neox, Activation::SiluGated)?;
    c.qkv_bias = true;
    Ok(c)
}
