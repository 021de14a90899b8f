//! The seam between the forward pass and the hardware. The forward pass (forward.rs) is written
//! once against [`Backend`]; `chord-cpu` implements it with threads and SIMD kernels, and a GPU
//! backend can implement it later. Weights reach the backend in their stored (quantized) format.
//!
//! The trait carries the operations that dominate the time (matrix products and attention) and
//! owns the KV cache (`new_cache`, `attention_cached`: a device backend keeps it on the
//! device); the cheap element-wise ops run in `ops.rs` on the host. The forward pass is written
//! against `step::Step`, so a device backend can run every op resident (see ARCHITECTURE.md).

use crate::config::Config;
use crate::error::{ModelError, Result};
use crate::forward::{Model, SeqBatch};
use crate::kv_cache::{KvCache, KvSlice, KvType};
use crate::ops;
use chord_gguf::GgmlType;

/// A weight matrix as the backend sees it: `rows` output features of `cols` inputs, in the
/// file's storage type (`data` is `rows` consecutive rows of blocks).
#[derive(Clone, Copy, Debug)]
pub struct MatRef<'a> {
    pub name: &'a str,
    pub ty: GgmlType,
    pub rows: usize,
    pub cols: usize,
    pub data: &'a [u8],
}

/// One attention call: `n_tokens` queries at positions `pos0..pos0+n_tokens` against the first
/// `pos0 + n_tokens` cached keys/values of one layer.
pub struct AttentionArgs<'a> {
    /// Queries, `n_tokens × n_head × head_dim`, already rotated.
    pub q: &'a [f32],
    /// Cached keys of this layer, `n_ctx × n_head_kv × head_dim` (rows beyond the used part unused).
    pub k: KvSlice<'a>,
    /// Cached values of this layer, same layout as `k`.
    pub v: KvSlice<'a>,
    /// Output, `n_tokens × n_head × head_dim`.
    pub out: &'a mut [f32],
    pub n_tokens: usize,
    pub pos0: usize,
    pub n_head: usize,
    pub n_head_kv: usize,
    pub head_dim: usize,
    /// Scale on Q·K inside the softmax.
    pub scale: f32,
    /// Sliding window (keys with `q_pos - k_pos >= window` are masked), 0 = none.
    pub window: usize,
    /// Scratch of at least `pos0 + n_tokens` floats.
    pub scores: &'a mut [f32],
}

/// The dimensions and masking of an attention call, without its buffers.
#[derive(Clone, Copy, Debug)]
pub struct AttentionShape {
    pub n_tokens: usize,
    pub pos0: usize,
    pub n_head: usize,
    pub n_head_kv: usize,
    pub head_dim: usize,
    pub scale: f32,
    pub window: usize,
}

impl AttentionArgs<'_> {
    pub fn shape(&self) -> AttentionShape {
        AttentionShape {
            n_tokens: self.n_tokens,
            pos0: self.pos0,
            n_head: self.n_head,
            n_head_kv: self.n_head_kv,
            head_dim: self.head_dim,
            scale: self.scale,
            window: self.window,
        }
    }
}

/// One sequence's attention at one layer, with its cache: store this step's keys and values at
/// the cache's next positions (`shape.pos0` = `cache.len()`), then attend over them.
pub struct CachedAttention<'a> {
    pub cache: &'a mut KvCache,
    pub layer: usize,
    /// This step's keys and values, `n_tokens × n_head_kv × head_dim` each.
    pub k_new: &'a [f32],
    pub v_new: &'a [f32],
    /// Queries, already rotated, and the output (as [`AttentionArgs`]).
    pub q: &'a [f32],
    pub out: &'a mut [f32],
    pub shape: AttentionShape,
    /// Scratch of at least `pos0 + n_tokens` floats.
    pub scores: &'a mut [f32],
}

pub trait Backend: Send + Sync {
    /// A short name for logs (`cpu`, `cpu-avx2`, ...).
    fn name(&self) -> String;

    /// `y[t·rows + r] = Σ_c W[r, c] · x[t·cols + c]` for `t < n_tokens`, with the activations
    /// quantized to the weight type's dot-product partner exactly as llama.cpp does.
    fn matmul(&self, w: MatRef<'_>, x: &[f32], n_tokens: usize, y: &mut [f32]) -> Result<()>;

    /// Several products of the same input, `ys[i] = ws[i] · x` (Q/K/V, gate/up): a backend can
    /// prepare (quantize) the input once and run all of them in one dispatch.
    fn matmul_multi(
        &self,
        ws: &[MatRef<'_>],
        x: &[f32],
        n_tokens: usize,
        ys: &mut [&mut [f32]],
    ) -> Result<()> {
        for (w, y) in ws.iter().zip(ys.iter_mut()) {
            self.matmul(*w, x, n_tokens, y)?;
        }
        Ok(())
    }

    /// [`Backend::matmul_multi`] with the input rows split into `groups` (row counts in order,
    /// summing to the number of rows): each group is one sequence's rows of this step, which
    /// llama.cpp would run as one ubatch. A backend reproducing llama.cpp's per-ubatch kernel
    /// choice (x86 Q4_K: a gemm order for whole groups of four rows, the one-row order for the
    /// rest) needs them so a sequence gets the same bits batched with others as alone. The
    /// default ignores the grouping.
    fn matmul_multi_grouped(
        &self,
        ws: &[MatRef<'_>],
        x: &[f32],
        groups: &[usize],
        ys: &mut [&mut [f32]],
    ) -> Result<()> {
        self.matmul_multi(ws, x, groups.iter().sum(), ys)
    }

    /// `gate[i] = silu(gate[i]) · up[i]` (SwiGLU); backends may vectorise the exponential.
    fn swiglu(&self, gate: &mut [f32], up: &[f32]) {
        ops::swiglu(gate, up)
    }

    /// Causal (optionally sliding-window) multi-head attention with grouped KV heads.
    fn attention(&self, a: AttentionArgs<'_>) -> Result<()> {
        ops::attention(a);
        Ok(())
    }

    /// A KV cache for this backend: in host memory by default; a device backend keeps it on
    /// the device (see [`KvCache::on_device`]) and reads it in [`Backend::attention_cached`].
    fn new_cache(&self, cfg: &Config, n_ctx: usize, ty: KvType) -> Result<KvCache> {
        Ok(KvCache::new(cfg, n_ctx, ty))
    }

    /// Writes the step's keys and values into the cache, then runs [`Backend::attention`] over
    /// it. The default takes a host cache; a device backend overrides it for its own caches.
    fn attention_cached(&self, a: CachedAttention<'_>) -> Result<()> {
        attention_cached_host(self, a)
    }

    /// Runs a whole forward step of `seqs` on the device, if this backend can: a device
    /// backend records every op of `model.run_graph` into one submission and writes only the
    /// logits rows into `logits` (returning how many rows). `None` (the default, and a device
    /// backend's answer for what its step does not cover) makes the caller run the host step.
    /// The caller validated the batch and advances the caches after a success; on an error no
    /// cache may have changed.
    fn forward_step(
        &self,
        _model: &Model,
        _seqs: &mut [SeqBatch<'_>],
        _logits: &mut Vec<f32>,
    ) -> Option<Result<usize>> {
        None
    }
}

/// [`Backend::attention_cached`]'s default over a host cache (for a backend overriding it to
/// fall back to for caches it does not own).
pub fn attention_cached_host<B: Backend + ?Sized>(be: &B, a: CachedAttention<'_>) -> Result<()> {
    let sh = a.shape;
    if !a.cache.write(a.layer, a.k_new, a.v_new) {
        return Err(ModelError::Backend(
            "this KV cache lives on a device: run it with the backend that made it".into(),
        ));
    }
    let Some((k, v)) = a.cache.layer(a.layer) else {
        return Err(ModelError::Backend("KV cache: no host layer".into()));
    };
    be.attention(AttentionArgs {
        q: a.q,
        k,
        v,
        out: a.out,
        n_tokens: sh.n_tokens,
        pos0: sh.pos0,
        n_head: sh.n_head,
        n_head_kv: sh.n_head_kv,
        head_dim: sh.head_dim,
        scale: sh.scale,
        window: sh.window,
        scores: a.scores,
    })
}

/// A shared backend is a backend: a caller that keeps its own handle (to read a GPU backend's
/// dispatch counts, say) can still hand the engine a `Box<dyn Backend>`. Every method forwards,
/// so overrides of the defaults are kept.
impl<B: Backend + ?Sized> Backend for std::sync::Arc<B> {
    fn name(&self) -> String {
        (**self).name()
    }
    fn matmul(&self, w: MatRef<'_>, x: &[f32], n_tokens: usize, y: &mut [f32]) -> Result<()> {
        (**self).matmul(w, x, n_tokens, y)
    }
    fn matmul_multi(
        &self,
        ws: &[MatRef<'_>],
        x: &[f32],
        n_tokens: usize,
        ys: &mut [&mut [f32]],
    ) -> Result<()> {
        (**self).matmul_multi(ws, x, n_tokens, ys)
    }
    fn matmul_multi_grouped(
        &self,
        ws: &[MatRef<'_>],
        x: &[f32],
        groups: &[usize],
        ys: &mut [&mut [f32]],
    ) -> Result<()> {
        (**self).matmul_multi_grouped(ws, x, groups, ys)
    }
    fn swiglu(&self, gate: &mut [f32], up: &[f32]) {
        (**self).swiglu(gate, up)
    }
    fn attention(&self, a: AttentionArgs<'_>) -> Result<()> {
        (**self).attention(a)
    }
    fn new_cache(&self, cfg: &Config, n_ctx: usize, ty: KvType) -> Result<KvCache> {
        (**self).new_cache(cfg, n_ctx, ty)
    }
    fn attention_cached(&self, a: CachedAttention<'_>) -> Result<()> {
        (**self).attention_cached(a)
    }
    fn forward_step(
        &self,
        model: &Model,
        seqs: &mut [SeqBatch<'_>],
        logits: &mut Vec<f32>,
    ) -> Option<Result<usize>> {
        (**self).forward_step(model, seqs, logits)
    }
}
