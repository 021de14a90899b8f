//! Gemma 3 (text). Differences from llama, following llama.cpp's `src/models/gemma3.cpp`:
//! - the token embedding is multiplied by sqrt(n_embd);
//! - per-head RMS norms on Q and K (before RoPE), NeoX RoPE;
//! - queries scaled by 1/sqrt(head_dim) (1/sqrt(n_embd/n_head) for the 27B model), and the
//!   attention itself then uses scale 1;
//! - RMS norms after attention and after the FFN, before each residual add;
//! - GELU(tanh)-gated FFN;
//! - interleaved sliding-window layers: the file gives `attention.sliding_window` but not the
//!   pattern; llama.cpp defaults to a pattern of 6 (five sliding layers, then one global:
//!   layer `il` slides iff `il % 6 < 5`) unless `attention.sliding_window_pattern` is present.
//!   Sliding layers use RoPE base `rope.freq_base_swa`, default 10000 (llama_hparams default);
//! - output tied to the token embedding when `output.weight` is absent (the loader handles it);
//! - optional final logit soft-capping (`final_logit_softcapping`, absent in Gemma 3 files).

use crate::config::{base_config, Activation, Arch, Config, Keys, RopeMode};
use crate::error::{ModelError, Result};

pub(crate) fn config(k: &Keys) -> Result<Config> {
    let mut c = base_config(k, Arch::Gemma3, RopeMode::Neox, Activation::GeluGated)?;
    c.embed_scale = (c.n_embd as f32).sqrt();
    c.qk_norm = true;
    c.post_norms = true;
    c.kq_scale = 1.0;
    c.q_prescale = if c.n_layer == 62 {
        // 27B: query_pre_attn_scalar = n_embd / n_head (gemma_pytorch config).
        1.0 / ((c.n_embd / c.n_head) as f32).sqrt()
    } else {
        1.0 / (c.head_dim as f32).sqrt()
    };
    c.final_logit_softcap = k.opt_f32("final_logit_softcapping")?.unwrap_or(0.0);
    let window = k.opt_usize("attention.sliding_window")?.unwrap_or(0);
    if window > 0 {
        c.sliding_window = window;
        c.rope_base_swa = k.opt_f32("rope.freq_base_swa")?.unwrap_or(10000.0);
        let key = format!("{}.attention.sliding_window_pattern", k.prefix);
        c.layer_is_swa = match k.meta.get(&key) {
            Some(v) => {
                if let Some(p) = v.as_u64() {
                    pattern(c.n_layer, p as usize)
                } else if let Some((_, items)) = v.as_array() {
                    if items.len() != c.n_layer {
                        return Err(ModelError::BadValue {
                            key,
                            why: format!("{} entries for {} layers", items.len(), c.n_layer),
                        });
                    }
                    items.iter().map(|x| x.as_bool().unwrap_or(false)).collect()
                } else {
                    return Err(ModelError::BadValue {
                        key,
                        why: "neither a number nor an array".into(),
                    });
                }
            }
            None => pattern(c.n_layer, 6),
        };
    }
    Ok(c)
}

/// llama.cpp's `set_swa_pattern(n, dense_first = false)`: the last layer of every group of `n`
/// is global, the others slide (n = 0: all slide).
fn pattern(n_layer: usize, n: usize) -> Vec<bool> {
    (0..n_layer).map(|il| n == 0 || il % n < n - 1).collect()
}
