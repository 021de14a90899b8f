//! The transformer forward pass, written once for every supported family; the per-family
//! differences are flags in [`Config`] (biases, q/k norms, post-norms, activation, RoPE mode,
//! sliding window). Heavy ops go through the [`Backend`]; scratch lives in [`Scratch`] and is
//! reused between calls, so decoding allocates nothing once the buffers reached their size.

use crate::backend::{AttentionArgs, Backend};
use crate::config::{Activation, Config, RopeMode};
use crate::debug_dump;
use crate::error::{ModelError, Result};
use crate::kv_cache::{KvCache, KvType};
use crate::ops;
use crate::profile::{self as prof, OpKind, Profile};
use crate::weights::{ModelFile, TensorRef, Weights};

/// Which logits a forward pass returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Logits {
    /// Only for the last token of the batch (generation).
    Last,
    /// For every token of the batch (`n_tokens × n_vocab`, e.g. perplexity).
    All,
}

/// A loaded model: config, the file and references to its weights.
pub struct Model {
    pub config: Config,
    pub file: ModelFile,
    pub weights: Weights,
}

/// One sequence's share of a batched forward pass ([`Model::forward_batch`]).
pub struct SeqBatch<'a> {
    pub cache: &'a mut KvCache,
    pub tokens: &'a [u32],
    pub logits: Logits,
}

/// Where one sequence's tokens sit in the batch.
#[derive(Clone, Copy, Debug)]
struct Segment {
    /// First row of the batch.
    t0: usize,
    n: usize,
    /// Position of the first token in its sequence.
    pos0: usize,
}

/// Reusable buffers for forward passes (grown on demand, never shrunk).
#[derive(Default)]
pub struct Scratch {
    segs: Vec<Segment>,
    /// Rows per sequence of the matrix products (see `Backend::matmul_multi_grouped`).
    groups: Vec<usize>,
    profile: Option<Profile>,
    x: Vec<f32>,
    xn: Vec<f32>,
    q: Vec<f32>,
    k: Vec<f32>,
    v: Vec<f32>,
    att: Vec<f32>,
    proj: Vec<f32>,
    gate: Vec<f32>,
    up: Vec<f32>,
    scores: Vec<f32>,
    /// RoPE's cos/sin rows, one per batch row, for the step's two bases (global, sliding
    /// window): made at the first layer that uses a base, then shared by the later layers
    /// (the table depends only on position and base; building it per layer was 3% of a
    /// Gemma prefill, all in `sinf`/`cosf`).
    rope: [Vec<f32>; 2],
    rope_ready: [bool; 2],
    logits: Vec<f32>,
    /// A streamed LM head's chunk of logits for several rows.
    head: Vec<f32>,
}

impl Scratch {
    /// Turns per-op timing on (or off) for the forward passes using this scratch.
    pub fn set_profiling(&mut self, on: bool) {
        self.profile = if on { Some(Profile::default()) } else { None };
    }
    /// Time per op kind so far, if profiling is on.
    pub fn profile(&self) -> Option<&Profile> {
        self.profile.as_ref()
    }
    pub fn profile_mut(&mut self) -> Option<&mut Profile> {
        self.profile.as_mut()
    }
}

fn grow(v: &mut Vec<f32>, n: usize) -> &mut [f32] {
    if v.len() < n {
        v.resize(n, 0.0);
    }
    &mut v[..n]
}

impl Model {
    /// Reads the config and locates every weight.
    pub fn load(file: ModelFile) -> Result<Model> {
        let config = Config::from_metadata(&file.header().metadata)?;
        let weights = Weights::load(&file, &config)?;
        file.start_streaming(&weights)?;
        Ok(Model {
            config,
            file,
            weights,
        })
    }

    #[cfg(all(feature = "mmap", not(target_arch = "wasm32")))]
    pub fn open(path: impl AsRef<std::path::Path>) -> Result<Model> {
        Model::load(ModelFile::open(path)?)
    }

    /// A KV cache of `n_ctx` positions in F16 (llama.cpp's default).
    pub fn new_cache(&self, n_ctx: usize) -> KvCache {
        KvCache::new(&self.config, n_ctx, KvType::F16)
    }

    /// A KV cache of `n_ctx` positions with elements of `ty`.
    pub fn new_cache_with(&self, n_ctx: usize, ty: KvType) -> KvCache {
        KvCache::new(&self.config, n_ctx, ty)
    }

    /// Runs `tokens` at the next positions of `cache` and returns logits (see [`Logits`]).
    /// On error nothing is added to the cache.
    pub fn forward<'s>(
        &self,
        backend: &dyn Backend,
        cache: &mut KvCache,
        tokens: &[u32],
        which: Logits,
        s: &'s mut Scratch,
    ) -> Result<&'s [f32]> {
        let mut seqs = [SeqBatch {
            cache,
            tokens,
            logits: which,
        }];
        self.forward_batch(backend, &mut seqs, s)
    }

    /// Runs every sequence's tokens in one pass: the matrix products see the tokens of all
    /// sequences together, so the weights are read once per step however many sequences decode;
    /// attention runs per sequence against its own cache. Returns logits rows concatenated in
    /// the order of `seqs`: one row for [`Logits::Last`], `tokens.len()` rows for [`Logits::All`].
    /// On error no cache is changed.
    pub fn forward_batch<'s>(
        &self,
        backend: &dyn Backend,
        seqs: &mut [SeqBatch<'_>],
        s: &'s mut Scratch,
    ) -> Result<&'s [f32]> {
        let c = &self.config;
        s.segs.clear();
        let mut n = 0;
        for seq in seqs.iter() {
            if seq.tokens.is_empty() {
                return Err(ModelError::EmptyBatch);
            }
            seq.cache.check_room(seq.tokens.len())?;
            if let Some(&bad) = seq.tokens.iter().find(|&&t| t as usize >= c.n_vocab) {
                return Err(ModelError::BadToken {
                    id: bad,
                    n_vocab: c.n_vocab,
                });
            }
            s.segs.push(Segment {
                t0: n,
                n: seq.tokens.len(),
                pos0: seq.cache.len(),
            });
            n += seq.tokens.len();
        }
        if n == 0 {
            return Err(ModelError::EmptyBatch);
        }
        s.groups.clear();
        s.groups.extend(s.segs.iter().map(|g| g.n));
        s.rope_ready = [false; 2];
        let (e, qd, kvd) = (c.n_embd, c.q_dim(), c.kv_dim());
        // The attention score row is sized for the largest cache's capacity, not the current
        // context, so it grows once rather than at every new position while decoding.
        let max_ctx = seqs.iter().map(|q| q.cache.n_ctx()).max().unwrap_or(0);

        // Token embeddings (dequantized rows, as ggml_get_rows), scaled for Gemma.
        let t0 = prof::start(&s.profile);
        let x = grow(&mut s.x, n * e);
        for (seq, g) in seqs.iter().zip(&s.segs) {
            self.embed(seq.tokens, &mut x[g.t0 * e..(g.t0 + g.n) * e])?;
        }
        if c.embed_scale != 1.0 {
            x.iter_mut().for_each(|v| *v *= c.embed_scale);
        }
        prof::stop(&mut s.profile, OpKind::Embed, t0);

        let n_layer = self.weights.layers.len();
        // Rows the residual stream carries: every token until the last layer's attention, then
        // only the rows whose logits were asked for (see below).
        let mut n_rows = n;
        for (il, lw) in self.weights.layers.iter().enumerate() {
            // This layer's matrices: in place in a resident file, or its unit of a streamed one.
            let lb = self.file.layer(il)?;
            // --- attention
            let t0 = prof::start(&s.profile);
            let x = grow(&mut s.x, n * e);
            let xn = grow(&mut s.xn, n * e);
            ops::rms_norm_into(x, &lw.attn_norm, c.rms_eps, xn);
            debug_dump::tensor("attn_norm", il, xn);
            prof::stop(&mut s.profile, OpKind::Norm, t0);
            let t0 = prof::start(&s.profile);
            let q = grow(&mut s.q, n * qd);
            let k = grow(&mut s.k, n * kvd);
            let v = grow(&mut s.v, n * kvd);
            backend.matmul_multi_grouped(
                &[lb.mat(&lw.wq)?, lb.mat(&lw.wk)?, lb.mat(&lw.wv)?],
                xn,
                &s.groups,
                &mut [&mut *q, &mut *k, &mut *v],
            )?;
            prof::stop_split(
                &mut s.profile,
                &[parts(&lw.wq), parts(&lw.wk), parts(&lw.wv)],
                t0,
            );
            let t0 = prof::start(&s.profile);
            if let (Some(bq), Some(bk), Some(bv)) = (&lw.bq, &lw.bk, &lw.bv) {
                add_bias(q, bq);
                add_bias(k, bk);
                add_bias(v, bv);
            }
            prof::stop(&mut s.profile, OpKind::Elementwise, t0);
            let t0 = prof::start(&s.profile);
            if let (Some(qn), Some(kn)) = (&lw.q_norm, &lw.k_norm) {
                ops::rms_norm_rows(q, qn, c.rms_eps);
                ops::rms_norm_rows(k, kn, c.rms_eps);
            }
            prof::stop(&mut s.profile, OpKind::Norm, t0);
            let t0 = prof::start(&s.profile);
            let (base, slot) = if c.is_swa(il) {
                (c.rope_base_swa, 1)
            } else {
                (c.rope_base, 0)
            };
            let rd = c.rope_dims;
            let rope = grow(&mut s.rope[slot], n * rd);
            if !s.rope_ready[slot] {
                for g in &s.segs {
                    for i in 0..g.n {
                        let t = g.t0 + i;
                        let row = &mut rope[t * rd..(t + 1) * rd];
                        let freqs = self.weights.rope_freqs.as_deref();
                        ops::rope_cache(g.pos0 + i, rd, base, freqs, row);
                    }
                }
                s.rope_ready[slot] = true;
            }
            let neox = c.rope_mode == RopeMode::Neox;
            for t in 0..n {
                let row = &rope[t * rd..(t + 1) * rd];
                let hd = c.head_dim;
                ops::rope_apply(&mut q[t * qd..(t + 1) * qd], hd, rd, neox, row);
                ops::rope_apply(&mut k[t * kvd..(t + 1) * kvd], hd, rd, neox, row);
            }
            if c.q_prescale != 1.0 {
                q.iter_mut().for_each(|v| *v *= c.q_prescale);
            }
            prof::stop(&mut s.profile, OpKind::Rope, t0);
            debug_dump::tensor("Qcur", il, q);
            debug_dump::tensor("Kcur", il, k);
            debug_dump::tensor("Vcur", il, v);
            let t0 = prof::start(&s.profile);
            let att = grow(&mut s.att, n * qd);
            let scores = grow(&mut s.scores, max_ctx);
            for (seq, g) in seqs.iter_mut().zip(&s.segs) {
                let (t0, t1) = (g.t0, g.t0 + g.n);
                seq.cache
                    .write(il, &k[t0 * kvd..t1 * kvd], &v[t0 * kvd..t1 * kvd]);
                let (kc, vc) = seq.cache.layer(il);
                backend.attention(AttentionArgs {
                    q: &q[t0 * qd..t1 * qd],
                    k: kc,
                    v: vc,
                    out: &mut att[t0 * qd..t1 * qd],
                    n_tokens: g.n,
                    pos0: g.pos0,
                    n_head: c.n_head,
                    n_head_kv: c.n_head_kv,
                    head_dim: c.head_dim,
                    scale: c.kq_scale,
                    window: if c.is_swa(il) { c.sliding_window } else { 0 },
                    scores: &mut scores[..g.pos0 + g.n],
                })?;
            }
            prof::stop(&mut s.profile, OpKind::Attention, t0);
            debug_dump::tensor("kqv_out", il, att);
            let t0 = prof::start(&s.profile);
            let proj = grow(&mut s.proj, n * e);
            backend.matmul_multi_grouped(&[lb.mat(&lw.wo)?], att, &s.groups, &mut [proj])?;
            debug_dump::tensor("attn_out", il, proj);
            if il + 1 == n_layer {
                // As llama.cpp does: after the last attention only the rows whose logits are
                // wanted go on (the FFN of a prompt's last layer runs on one row, which also
                // decides which kernel order its matmuls use).
                let x = grow(&mut s.x, n * e);
                n_rows = 0;
                s.groups.clear();
                for (seq, g) in seqs.iter().zip(&s.segs) {
                    let (first, count) = match seq.logits {
                        Logits::Last => (g.t0 + g.n - 1, 1),
                        Logits::All => (g.t0, g.n),
                    };
                    if first != n_rows {
                        x.copy_within(first * e..(first + count) * e, n_rows * e);
                        proj.copy_within(first * e..(first + count) * e, n_rows * e);
                    }
                    n_rows += count;
                    s.groups.push(count);
                }
            }
            let n = n_rows;
            let proj = &mut proj[..n * e];
            prof::stop(&mut s.profile, OpKind::Matmul(lw.wo.ty), t0);
            let t0 = prof::start(&s.profile);
            if let Some(pn) = &lw.post_attn_norm {
                ops::rms_norm_rows(proj, pn, c.rms_eps);
            }
            let x = grow(&mut s.x, n * e);
            add_into(x, proj);
            debug_dump::tensor("ffn_inp", il, x);

            // --- feed-forward
            let xn = grow(&mut s.xn, n * e);
            ops::rms_norm_into(x, &lw.ffn_norm, c.rms_eps, xn);
            debug_dump::tensor("ffn_norm", il, xn);
            prof::stop(&mut s.profile, OpKind::Norm, t0);
            let t0 = prof::start(&s.profile);
            let gate = grow(&mut s.gate, n * c.n_ff);
            let up = grow(&mut s.up, n * c.n_ff);
            backend.matmul_multi_grouped(
                &[lb.mat(&lw.gate)?, lb.mat(&lw.up)?],
                xn,
                &s.groups,
                &mut [&mut *gate, &mut *up],
            )?;
            prof::stop_split(&mut s.profile, &[parts(&lw.gate), parts(&lw.up)], t0);
            let t0 = prof::start(&s.profile);
            match c.activation {
                Activation::SiluGated => backend.swiglu(gate, up),
                Activation::GeluGated => ops::geglu(gate, up),
            }
            prof::stop(&mut s.profile, OpKind::Elementwise, t0);
            debug_dump::tensor("ffn_act", il, gate);
            let t0 = prof::start(&s.profile);
            let proj = grow(&mut s.proj, n * e);
            backend.matmul_multi_grouped(&[lb.mat(&lw.down)?], gate, &s.groups, &mut [proj])?;
            debug_dump::tensor("ffn_out", il, proj);
            prof::stop(&mut s.profile, OpKind::Matmul(lw.down.ty), t0);
            let t0 = prof::start(&s.profile);
            if let Some(pn) = &lw.post_ffn_norm {
                ops::rms_norm_rows(proj, pn, c.rms_eps);
            }
            add_into(grow(&mut s.x, n * e), proj);
            debug_dump::tensor("l_out", il, &s.x[..n * e]);
            prof::stop(&mut s.profile, OpKind::Norm, t0);
        }

        // Final norm and LM head, for the rows asked for (gathered in the last layer).
        let t0 = prof::start(&s.profile);
        let rows = n_rows;
        {
            let x = grow(&mut s.x, n * e);
            let xn = grow(&mut s.xn, n * e);
            xn[..rows * e].copy_from_slice(&x[..rows * e]);
            ops::rms_norm_rows(&mut xn[..rows * e], &self.weights.output_norm, c.rms_eps);
        }
        prof::stop(&mut s.profile, OpKind::Norm, t0);
        let t0 = prof::start(&s.profile);
        let xn = &s.xn[..rows * e];
        let logits = grow(&mut s.logits, rows * c.n_vocab);
        self.lm_head(backend, xn, &s.groups, logits, &mut s.head)?;
        prof::stop(&mut s.profile, OpKind::Output(self.weights.output.ty), t0);
        if c.final_logit_softcap > 0.0 {
            let cap = c.final_logit_softcap;
            logits
                .iter_mut()
                .for_each(|v| *v = crate::math::tanhf(*v / cap) * cap);
        }
        // Only now, with every fallible step behind us, do the caches take the new tokens.
        for (seq, g) in seqs.iter_mut().zip(&s.segs) {
            seq.cache.advance(g.n);
        }
        Ok(logits)
    }

    /// `logits = output · xn` for `groups.sum()` rows: one product over a resident file; over
    /// a streamed one, chunk by chunk of the head's rows (each row is its own dot product, so
    /// the result has the same bits).
    fn lm_head(
        &self,
        backend: &dyn Backend,
        xn: &[f32],
        groups: &[usize],
        logits: &mut [f32],
        tmp: &mut Vec<f32>,
    ) -> Result<()> {
        let w = &self.weights.output;
        let Some((n_chunks, rows_per)) = self.file.head_chunks()? else {
            let view = self.file.head_chunk(0)?;
            return backend.matmul_multi_grouped(&[view.mat(w)?], xn, groups, &mut [logits]);
        };
        let n: usize = groups.iter().sum();
        let row_bytes = w.row_bytes();
        for c in 0..n_chunks {
            let r0 = c * rows_per;
            let r1 = ((c + 1) * rows_per).min(w.rows);
            let view = self.file.head_chunk(c)?;
            let range = w.range.start + r0 * row_bytes..w.range.start + r1 * row_bytes;
            let m = crate::backend::MatRef {
                name: &w.name,
                ty: w.ty,
                rows: r1 - r0,
                cols: w.cols,
                data: view.slice(&w.name, &range)?,
            };
            if n == 1 {
                backend.matmul_multi_grouped(&[m], xn, groups, &mut [&mut logits[r0..r1]])?;
            } else {
                // Token-major output: compute the chunk's columns apart, then place them.
                let part = grow(tmp, n * (r1 - r0));
                backend.matmul_multi_grouped(&[m], xn, groups, &mut [&mut *part])?;
                for t in 0..n {
                    logits[t * w.rows + r0..t * w.rows + r1]
                        .copy_from_slice(&part[t * (r1 - r0)..(t + 1) * (r1 - r0)]);
                }
            }
        }
        Ok(())
    }

    /// Dequantizes the embedding rows of `tokens` into `x` (as ggml_get_rows); a streamed file
    /// reads just those rows.
    fn embed(&self, tokens: &[u32], x: &mut [f32]) -> Result<()> {
        let e = self.config.n_embd;
        let t = &self.weights.tok_embd;
        let row_bytes = t.row_bytes();
        for (i, &tok) in tokens.iter().enumerate() {
            let start = (t.range.start + tok as usize * row_bytes) as u64;
            let row = self.file.read(&t.name, start..start + row_bytes as u64)?;
            chord_quant::dequantize(t.ty, &row, &mut x[i * e..(i + 1) * e])
                .map_err(|err| ModelError::Backend(format!("{}: {err}", t.name)))?;
        }
        Ok(())
    }

    /// What the layer cache did, if the model is streamed.
    pub fn stream_stats(&self) -> Option<crate::stream::StreamStats> {
        self.file.stream_stats()
    }
}

/// A matrix's type and bytes, for splitting a shared dispatch's time in the profile.
fn parts(t: &TensorRef) -> (chord_gguf::GgmlType, usize) {
    (t.ty, t.range.len())
}

fn add_bias(x: &mut [f32], b: &[f32]) {
    for row in x.chunks_exact_mut(b.len()) {
        add_into(row, b);
    }
}

fn add_into(x: &mut [f32], y: &[f32]) {
    for (a, &b) in x.iter_mut().zip(y) {
        *a += b;
    }
}
