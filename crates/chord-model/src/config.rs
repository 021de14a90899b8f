//! Hyperparameters read from GGUF metadata. Architecture-specific rules (which keys, which
//! defaults, which quirks) live in `arch/<family>.rs`; this file holds the shared shape.

use crate::arch;
use crate::error::{ModelError, Result};
use chord_gguf::Metadata;

/// The architecture families this crate can run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arch {
    /// Llama 1/2/3, TinyLlama, Mistral: normal RoPE, GQA, SwiGLU.
    Llama,
    /// Qwen2 / Qwen2.5: llama plus Q/K/V biases and NeoX RoPE.
    Qwen2,
    /// Gemma 3: GELU-gated FFN, q/k norms, post-norms, interleaved sliding-window layers.
    Gemma3,
}

impl Arch {
    pub const SUPPORTED: &'static [&'static str] = &["llama", "qwen2", "gemma3"];

    pub fn from_name(name: &str) -> Result<Self> {
        match name {
            "llama" => Ok(Arch::Llama),
            "qwen2" => Ok(Arch::Qwen2),
            "gemma3" => Ok(Arch::Gemma3),
            other => Err(ModelError::UnsupportedArch {
                found: other.to_string(),
                supported: Self::SUPPORTED.join(", "),
            }),
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Arch::Llama => "llama",
            Arch::Qwen2 => "qwen2",
            Arch::Gemma3 => "gemma3",
        }
    }
}

/// How RoPE pairs the dimensions of a head.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RopeMode {
    /// Adjacent pairs (x[2i], x[2i+1]): llama (whose Q/K weights the converter permuted).
    Normal,
    /// Split halves (x[i], x[i + d/2]): GPT-NeoX style, used by Qwen2 and Gemma.
    Neox,
}

/// Feed-forward gate activation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    /// silu(gate) * up
    SiluGated,
    /// gelu_tanh(gate) * up
    GeluGated,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    pub arch: Arch,
    pub n_vocab: usize,
    pub n_ctx_train: usize,
    pub n_embd: usize,
    pub n_layer: usize,
    pub n_ff: usize,
    pub n_head: usize,
    pub n_head_kv: usize,
    /// Per-head dimension of queries and keys.
    pub head_dim: usize,
    /// Per-head dimension of values.
    pub head_dim_v: usize,
    pub rms_eps: f32,
    pub rope_mode: RopeMode,
    /// Dimensions of each head that RoPE rotates (the rest pass through).
    pub rope_dims: usize,
    pub rope_base: f32,
    /// RoPE base for sliding-window layers (Gemma 3 uses a different one).
    pub rope_base_swa: f32,
    /// Sliding window size in tokens (0 = no sliding window layers).
    pub sliding_window: usize,
    /// Per layer: true if it uses the sliding window (and `rope_base_swa`).
    pub layer_is_swa: Vec<bool>,
    pub activation: Activation,
    /// Multiply the token embedding by this (Gemma: sqrt(n_embd)).
    pub embed_scale: f32,
    /// Queries are multiplied by this before attention (Gemma; 1.0 elsewhere).
    pub q_prescale: f32,
    /// Scale applied to Q·K inside the softmax (1/sqrt(head_dim) for most models, 1.0 for Gemma
    /// whose queries are pre-scaled). Kept as two numbers to round exactly as llama.cpp does.
    pub kq_scale: f32,
    /// Q/K/V projections have biases (Qwen2).
    pub qkv_bias: bool,
    /// Per-head RMS norms on Q and K (Gemma 3).
    pub qk_norm: bool,
    /// RMS norms after attention and after the FFN, before the residual add (Gemma 2/3).
    pub post_norms: bool,
    /// tanh soft-capping of the final logits (0 = off).
    pub final_logit_softcap: f32,
    pub bos_token: Option<u32>,
}

impl Config {
    pub fn from_metadata(meta: &Metadata) -> Result<Config> {
        let arch_name = meta
            .get_str("general.architecture")?
            .ok_or(ModelError::NoArch)?;
        let arch = Arch::from_name(arch_name)?;
        let k = Keys {
            meta,
            prefix: arch_name,
        };
        let cfg = match arch {
            Arch::Llama => arch::llama::config(&k)?,
            Arch::Qwen2 => arch::qwen2::config(&k)?,
            Arch::Gemma3 => arch::gemma3::config(&k)?,
        };
        cfg.validate()?;
        Ok(cfg)
    }

    pub fn is_swa(&self, layer: usize) -> bool {
        self.layer_is_swa.get(layer).copied().unwrap_or(false)
    }
    /// Width of the K (and V) projection output: all KV heads together.
    pub fn kv_dim(&self) -> usize {
        self.n_head_kv * self.head_dim
    }
    pub fn q_dim(&self) -> usize {
        self.n_head * self.head_dim
    }

    fn validate(&self) -> Result<()> {
        let bad = |key: &str, why: String| {
            Err(ModelError::BadValue {
                key: key.to_string(),
                why,
            })
        };
        if self.n_embd == 0
            || self.n_layer == 0
            || self.n_head == 0
            || self.n_ff == 0
            || self.n_vocab == 0
        {
            return bad("hyperparameters", format!("zero dimension in {self:?}"));
        }
        if self.n_head_kv == 0 || !self.n_head.is_multiple_of(self.n_head_kv) {
            return bad(
                "attention.head_count_kv",
                format!("{} does not divide {} heads", self.n_head_kv, self.n_head),
            );
        }
        if self.head_dim == 0 || self.rope_dims > self.head_dim || !self.rope_dims.is_multiple_of(2)
        {
            return bad(
                "rope.dimension_count",
                format!("{} with head dim {}", self.rope_dims, self.head_dim),
            );
        }
        if self.head_dim_v != self.head_dim {
            return bad(
                "attention.value_length",
                "value head size different from key head size".into(),
            );
        }
        // Guards against absurd metadata making us allocate terabytes.
        if self.n_embd > 1 << 16 || self.n_ff > 1 << 18 || self.n_layer > 1024 || self.n_head > 1024
        {
            return bad("hyperparameters", "implausibly large".into());
        }
        Ok(())
    }
}

/// Typed access to `<arch>.<key>` metadata.
pub(crate) struct Keys<'a> {
    pub meta: &'a Metadata,
    pub prefix: &'a str,
}

impl Keys<'_> {
    fn full(&self, key: &str) -> String {
        format!("{}.{}", self.prefix, key)
    }
    pub fn opt_usize(&self, key: &str) -> Result<Option<usize>> {
        let full = self.full(key);
        match self.meta.get_u64(&full)? {
            None => Ok(None),
            Some(v) => usize::try_from(v)
                .map(Some)
                .map_err(|_| ModelError::BadValue {
                    key: full,
                    why: format!("{v} too large"),
                }),
        }
    }
    pub fn usize(&self, key: &str) -> Result<usize> {
        self.opt_usize(key)?
            .ok_or_else(|| ModelError::MissingKey(self.full(key)))
    }
    pub fn opt_f32(&self, key: &str) -> Result<Option<f32>> {
        Ok(self.meta.get_f64(&self.full(key))?.map(|v| v as f32))
    }
    pub fn f32(&self, key: &str) -> Result<f32> {
        self.opt_f32(key)?
            .ok_or_else(|| ModelError::MissingKey(self.full(key)))
    }
    /// Vocabulary size: `<arch>.vocab_size` if present, else the token list length.
    pub fn n_vocab(&self) -> Result<usize> {
        if let Some(n) = self.opt_usize("vocab_size")? {
            return Ok(n);
        }
        match self
            .meta
            .get("tokenizer.ggml.tokens")
            .and_then(|v| v.as_array())
        {
            Some((_, items)) => Ok(items.len()),
            None => Err(ModelError::MissingKey("tokenizer.ggml.tokens".into())),
        }
    }
    pub fn bos(&self) -> Result<Option<u32>> {
        Ok(self
            .meta
            .get_u64("tokenizer.ggml.bos_token_id")?
            .and_then(|v| u32::try_from(v).ok()))
    }
}

/// The fields every llama-like family shares, with llama.cpp's defaults.
pub(crate) fn base_config(
    k: &Keys,
    arch: Arch,
    rope_mode: RopeMode,
    activation: Activation,
) -> Result<Config> {
    let n_embd = k.usize("embedding_length")?;
    let n_head = k.usize("attention.head_count")?;
    let n_head_kv = k.opt_usize("attention.head_count_kv")?.unwrap_or(n_head);
    if n_head == 0 {
        return Err(ModelError::BadValue {
            key: k.full("attention.head_count"),
            why: "zero".into(),
        });
    }
    let head_dim = k
        .opt_usize("attention.key_length")?
        .unwrap_or(n_embd / n_head);
    let head_dim_v = k.opt_usize("attention.value_length")?.unwrap_or(head_dim);
    let n_layer = k.usize("block_count")?;
    let rope_base = k.opt_f32("rope.freq_base")?.unwrap_or(10000.0);
    Ok(Config {
        arch,
        n_vocab: k.n_vocab()?,
        n_ctx_train: k.opt_usize("context_length")?.unwrap_or(2048),
        n_embd,
        n_layer,
        n_ff: k.usize("feed_forward_length")?,
        n_head,
        n_head_kv,
        head_dim,
        head_dim_v,
        rms_eps: k.f32("attention.layer_norm_rms_epsilon")?,
        rope_mode,
        rope_dims: k.opt_usize("rope.dimension_count")?.unwrap_or(head_dim),
        rope_base,
        rope_base_swa: rope_base,
        sliding_window: 0,
        layer_is_swa: vec![false; n_layer],
        activation,
        embed_scale: 1.0,
        q_prescale: 1.0,
        kq_scale: 1.0 / (head_dim as f32).sqrt(),
        qkv_bias: false,
        qk_norm: false,
        post_norms: false,
        final_logit_softcap: 0.0,
        bos_token: k.bos()?,
    })
}
