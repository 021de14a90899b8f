//! The transformer forward pass, written once for every supported family; the per-family
//! differences are flags in [`Config`] (biases, q/k norms, post-norms, activation, RoPE mode,
//! sliding window). The pass is a sequence of ops on activation slots ([`Step`]); on the host
//! (`HostStep`) heavy ops go through the [`Backend`]; scratch lives in [`Scratch`] and is
//! reused between calls, so decoding allocates nothing once the buffers reached their size.

use crate::backend::Backend;
use crate::config::{Config, RopeMode};
use crate::error::{ModelError, Result};
use crate::host_step::HostStep;
use crate::kv_cache::{KvCache, KvType};
use crate::profile::{self as prof, OpKind, Profile};
use crate::step::{Act, Step};
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
pub(crate) struct Segment {
    /// First row of the batch.
    pub(crate) t0: usize,
    pub(crate) n: usize,
    /// Position of the first token in its sequence.
    pub(crate) pos0: usize,
}

/// Reusable buffers for forward passes (grown on demand, never shrunk).
#[derive(Default)]
pub struct Scratch {
    pub(crate) segs: Vec<Segment>,
    /// Rows per sequence of the matrix products (see `Backend::matmul_multi_grouped`).
    pub(crate) groups: Vec<usize>,
    pub(crate) profile: Option<Profile>,
    pub(crate) x: Vec<f32>,
    pub(crate) xn: Vec<f32>,
    pub(crate) q: Vec<f32>,
    pub(crate) k: Vec<f32>,
    pub(crate) v: Vec<f32>,
    pub(crate) att: Vec<f32>,
    pub(crate) proj: Vec<f32>,
    pub(crate) gate: Vec<f32>,
    pub(crate) up: Vec<f32>,
    pub(crate) scores: Vec<f32>,
    /// RoPE's cos/sin rows, one per batch row, for the step's two bases (global, sliding
    /// window): made at the first layer that uses a base, then shared by the later layers
    /// (the table depends only on position and base; building it per layer was 3% of a
    /// Gemma prefill, all in `sinf`/`cosf`).
    pub(crate) rope: [Vec<f32>; 2],
    pub(crate) rope_ready: [bool; 2],
    pub(crate) logits: Vec<f32>,
    /// A streamed LM head's chunk of logits for several rows.
    pub(crate) head: Vec<f32>,
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

pub(crate) fn grow(v: &mut Vec<f32>, n: usize) -> &mut [f32] {
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

    /// A KV cache made by `backend` (a device backend keeps it in device memory).
    pub fn new_cache_on(&self, backend: &dyn Backend, n_ctx: usize, ty: KvType) -> Result<KvCache> {
        backend.new_cache(&self.config, n_ctx, ty)
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
        // A device backend may run the whole step itself (one submission, logits read back);
        // not while profiling, which times each op on the host.
        let device = if s.profile.is_none() {
            backend.forward_step(self, seqs, &mut s.logits)
        } else {
            None
        };
        if let Some(res) = device {
            let rows = res?;
            for (seq, g) in seqs.iter_mut().zip(&s.segs) {
                seq.cache.advance(g.n);
            }
            return Ok(&s.logits[..rows * c.n_vocab]);
        }
        // The attention score row is sized for the largest cache's capacity, not the current
        // context, so it grows once rather than at every new position while decoding.
        let max_ctx = seqs.iter().map(|q| q.cache.n_ctx()).max().unwrap_or(0);
        let mut step = HostStep {
            model: self,
            backend,
            seqs: &mut *seqs,
            s: &mut *s,
            n,
            rows: n,
            max_ctx,
        };
        self.graph(&mut step)?;
        let rows = step.rows;
        // Only now, with every fallible step behind us, do the caches take the new tokens.
        for (seq, g) in seqs.iter_mut().zip(&s.segs) {
            seq.cache.advance(g.n);
        }
        Ok(&s.logits[..rows * c.n_vocab])
    }

    /// The forward pass on a device backend's own [`Step`] (see [`Backend::forward_step`]):
    /// the same ops in the same order as the host step runs.
    pub fn run_graph(&self, step: &mut dyn Step) -> Result<()> {
        self.graph(step)
    }

    /// The forward pass's operations, in order, on the step's activation slots (see
    /// `step.rs`): embeddings, per layer attention and FFN, final norm and LM head.
    fn graph<E: Step + ?Sized>(&self, e: &mut E) -> Result<()> {
        let c = &self.config;
        // Token embeddings (dequantized rows, as ggml_get_rows), scaled for Gemma.
        let t0 = prof::start(e.profile());
        e.embed(c.embed_scale)?;
        prof::stop(e.profile(), OpKind::Embed, t0);

        let n_layer = self.weights.layers.len();
        for (il, lw) in self.weights.layers.iter().enumerate() {
            // This layer's matrices: in place in a resident file, or its unit of a streamed one.
            let lb = self.file.layer(il)?;
            // --- attention
            let t0 = prof::start(e.profile());
            e.rms_norm(Act::X, &lw.attn_norm, c.rms_eps, Act::Xn);
            e.dump("attn_norm", il, Act::Xn);
            prof::stop(e.profile(), OpKind::Norm, t0);
            let t0 = prof::start(e.profile());
            e.matmul(
                &[lb.mat(&lw.wq)?, lb.mat(&lw.wk)?, lb.mat(&lw.wv)?],
                Act::Xn,
                &[Act::Q, Act::K, Act::V],
            )?;
            prof::stop_split(
                e.profile(),
                &[parts(&lw.wq), parts(&lw.wk), parts(&lw.wv)],
                t0,
            );
            let t0 = prof::start(e.profile());
            if let (Some(bq), Some(bk), Some(bv)) = (&lw.bq, &lw.bk, &lw.bv) {
                e.add_bias(Act::Q, bq);
                e.add_bias(Act::K, bk);
                e.add_bias(Act::V, bv);
            }
            prof::stop(e.profile(), OpKind::Elementwise, t0);
            let t0 = prof::start(e.profile());
            if let (Some(qn), Some(kn)) = (&lw.q_norm, &lw.k_norm) {
                e.rms_norm_pieces(Act::Q, qn, c.rms_eps);
                e.rms_norm_pieces(Act::K, kn, c.rms_eps);
            }
            prof::stop(e.profile(), OpKind::Norm, t0);
            let t0 = prof::start(e.profile());
            let (base, table) = if c.is_swa(il) {
                (c.rope_base_swa, 1)
            } else {
                (c.rope_base, 0)
            };
            e.rope(table, base, c.rope_mode == RopeMode::Neox);
            if c.q_prescale != 1.0 {
                e.scale(Act::Q, c.q_prescale);
            }
            prof::stop(e.profile(), OpKind::Rope, t0);
            e.dump("Qcur", il, Act::Q);
            e.dump("Kcur", il, Act::K);
            e.dump("Vcur", il, Act::V);
            let t0 = prof::start(e.profile());
            e.attention(il, if c.is_swa(il) { c.sliding_window } else { 0 })?;
            prof::stop(e.profile(), OpKind::Attention, t0);
            e.dump("kqv_out", il, Act::Att);
            let t0 = prof::start(e.profile());
            e.matmul(&[lb.mat(&lw.wo)?], Act::Att, &[Act::Proj])?;
            e.dump("attn_out", il, Act::Proj);
            if il + 1 == n_layer {
                // As llama.cpp does: after the last attention only the rows whose logits are
                // wanted go on (the FFN of a prompt's last layer runs on one row, which also
                // decides which kernel order its matmuls use).
                e.keep_logit_rows();
            }
            prof::stop(e.profile(), OpKind::Matmul(lw.wo.ty), t0);
            let t0 = prof::start(e.profile());
            if let Some(pn) = &lw.post_attn_norm {
                e.rms_norm_pieces(Act::Proj, pn, c.rms_eps);
            }
            e.add(Act::X, Act::Proj);
            e.dump("ffn_inp", il, Act::X);

            // --- feed-forward
            e.rms_norm(Act::X, &lw.ffn_norm, c.rms_eps, Act::Xn);
            e.dump("ffn_norm", il, Act::Xn);
            prof::stop(e.profile(), OpKind::Norm, t0);
            let t0 = prof::start(e.profile());
            e.matmul(
                &[lb.mat(&lw.gate)?, lb.mat(&lw.up)?],
                Act::Xn,
                &[Act::Gate, Act::Up],
            )?;
            prof::stop_split(e.profile(), &[parts(&lw.gate), parts(&lw.up)], t0);
            let t0 = prof::start(e.profile());
            e.glu(c.activation);
            prof::stop(e.profile(), OpKind::Elementwise, t0);
            e.dump("ffn_act", il, Act::Gate);
            let t0 = prof::start(e.profile());
            e.matmul(&[lb.mat(&lw.down)?], Act::Gate, &[Act::Proj])?;
            e.dump("ffn_out", il, Act::Proj);
            prof::stop(e.profile(), OpKind::Matmul(lw.down.ty), t0);
            let t0 = prof::start(e.profile());
            if let Some(pn) = &lw.post_ffn_norm {
                e.rms_norm_pieces(Act::Proj, pn, c.rms_eps);
            }
            e.add(Act::X, Act::Proj);
            e.dump("l_out", il, Act::X);
            prof::stop(e.profile(), OpKind::Norm, t0);
        }

        // Final norm and LM head, for the rows asked for (gathered in the last layer).
        let t0 = prof::start(e.profile());
        e.rms_norm(Act::X, &self.weights.output_norm, c.rms_eps, Act::Xn);
        prof::stop(e.profile(), OpKind::Norm, t0);
        let t0 = prof::start(e.profile());
        e.logits(c.final_logit_softcap)?;
        prof::stop(e.profile(), OpKind::Output(self.weights.output.ty), t0);
        Ok(())
    }

    /// `logits = output · xn` for `groups.sum()` rows: one product over a resident file; over
    /// a streamed one, chunk by chunk of the head's rows (each row is its own dot product, so
    /// the result has the same bits).
    pub(crate) fn lm_head(
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
    pub(crate) fn embed(&self, tokens: &[u32], x: &mut [f32]) -> Result<()> {
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
