//! [`Step`] on the host: every op runs at once on the `Scratch` vectors, matrix products and
//! attention through the [`Backend`], the rest with `ops.rs`. This is the forward pass's code
//! as it was before the Step seam, cut into methods (same calls in the same order, so the same
//! bits; `forward.rs` calls it through a generic, so the calls are static and inlined).

use crate::backend::{AttentionShape, Backend, CachedAttention, MatRef};
use crate::config::Activation;
use crate::debug_dump;
use crate::error::Result;
use crate::forward::{grow, Model, Scratch, SeqBatch};
use crate::ops;
use crate::profile::Profile;
use crate::step::{Act, Step};

pub(crate) struct HostStep<'a, 'b, 'c> {
    pub model: &'a Model,
    pub backend: &'a dyn Backend,
    pub seqs: &'a mut [SeqBatch<'b>],
    pub s: &'c mut Scratch,
    /// Rows of the batch (all tokens).
    pub n: usize,
    /// Rows the residual stream carries now.
    pub rows: usize,
    /// The largest cache capacity of the batch (attention's score row is sized for it once).
    pub max_ctx: usize,
}

impl HostStep<'_, '_, '_> {
    fn width(&self, a: Act) -> usize {
        a.width(&self.model.config)
    }
}

fn slot(s: &mut Scratch, a: Act) -> &mut Vec<f32> {
    match a {
        Act::X => &mut s.x,
        Act::Xn => &mut s.xn,
        Act::Q => &mut s.q,
        Act::K => &mut s.k,
        Act::V => &mut s.v,
        Act::Att => &mut s.att,
        Act::Proj => &mut s.proj,
        Act::Gate => &mut s.gate,
        Act::Up => &mut s.up,
    }
}

fn slot_ref(s: &Scratch, a: Act) -> &Vec<f32> {
    match a {
        Act::X => &s.x,
        Act::Xn => &s.xn,
        Act::Q => &s.q,
        Act::K => &s.k,
        Act::V => &s.v,
        Act::Att => &s.att,
        Act::Proj => &s.proj,
        Act::Gate => &s.gate,
        Act::Up => &s.up,
    }
}

impl Step for HostStep<'_, '_, '_> {
    fn profile(&mut self) -> &mut Option<Profile> {
        &mut self.s.profile
    }

    fn embed(&mut self, scale: f32) -> Result<()> {
        let e = self.model.config.n_embd;
        let x = grow(&mut self.s.x, self.n * e);
        for (seq, g) in self.seqs.iter().zip(&self.s.segs) {
            self.model
                .embed(seq.tokens, &mut x[g.t0 * e..(g.t0 + g.n) * e])?;
        }
        if scale != 1.0 {
            x.iter_mut().for_each(|v| *v *= scale);
        }
        Ok(())
    }

    fn rms_norm(&mut self, src: Act, w: &[f32], eps: f32, dst: Act) {
        let len = self.rows * self.width(src);
        if src == dst {
            ops::rms_norm_rows(grow(slot(self.s, src), len), w, eps);
            return;
        }
        // Both slots borrowed at once: take the destination out (no allocation) and put it back.
        let mut out = std::mem::take(slot(self.s, dst));
        ops::rms_norm_into(grow(slot(self.s, src), len), w, eps, grow(&mut out, len));
        *slot(self.s, dst) = out;
    }

    fn rms_norm_pieces(&mut self, a: Act, w: &[f32], eps: f32) {
        let len = self.rows * self.width(a);
        ops::rms_norm_rows(grow(slot(self.s, a), len), w, eps);
    }

    fn matmul(&mut self, ws: &[MatRef<'_>], src: Act, dsts: &[Act]) -> Result<()> {
        let rows = self.rows;
        let mut outs: [Vec<f32>; 3] = Default::default();
        for (o, &d) in outs.iter_mut().zip(dsts) {
            *o = std::mem::take(slot(self.s, d));
        }
        let len = rows * self.width(src);
        let res = {
            // A source slot was written by an earlier op of this step, so it holds `len`.
            let x = &slot_ref(self.s, src)[..len];
            let dim = |i: usize| ws.get(i).map_or(0, |w| rows * w.rows);
            let [a, b, c] = &mut outs;
            let mut ys = [grow(a, dim(0)), grow(b, dim(1)), grow(c, dim(2))];
            let k = ws.len().min(3);
            self.backend
                .matmul_multi_grouped(ws, x, &self.s.groups, &mut ys[..k])
        };
        for (o, &d) in outs.into_iter().zip(dsts) {
            *slot(self.s, d) = o;
        }
        res
    }

    fn add_bias(&mut self, a: Act, b: &[f32]) {
        let len = self.rows * self.width(a);
        for row in grow(slot(self.s, a), len).chunks_exact_mut(b.len()) {
            add_into(row, b);
        }
    }

    fn rope(&mut self, table: usize, base: f32, neox: bool) {
        let c = &self.model.config;
        let (n, rd, hd) = (self.rows, c.rope_dims, c.head_dim);
        let (qd, kvd) = (c.q_dim(), c.kv_dim());
        let s = &mut *self.s;
        let rope = grow(&mut s.rope[table], n * rd);
        if !s.rope_ready[table] {
            for g in &s.segs {
                for i in 0..g.n {
                    let t = g.t0 + i;
                    let row = &mut rope[t * rd..(t + 1) * rd];
                    let freqs = self.model.weights.rope_freqs.as_deref();
                    ops::rope_cache(g.pos0 + i, rd, base, freqs, row);
                }
            }
            s.rope_ready[table] = true;
        }
        let q = grow(&mut s.q, n * qd);
        let k = grow(&mut s.k, n * kvd);
        for t in 0..n {
            let row = &rope[t * rd..(t + 1) * rd];
            ops::rope_apply(&mut q[t * qd..(t + 1) * qd], hd, rd, neox, row);
            ops::rope_apply(&mut k[t * kvd..(t + 1) * kvd], hd, rd, neox, row);
        }
    }

    fn scale(&mut self, a: Act, f: f32) {
        let len = self.rows * self.width(a);
        grow(slot(self.s, a), len).iter_mut().for_each(|v| *v *= f);
    }

    fn attention(&mut self, il: usize, window: usize) -> Result<()> {
        let c = &self.model.config;
        let (n, qd, kvd) = (self.rows, c.q_dim(), c.kv_dim());
        let s = &mut *self.s;
        let q = grow(&mut s.q, n * qd);
        let k = grow(&mut s.k, n * kvd);
        let v = grow(&mut s.v, n * kvd);
        let att = grow(&mut s.att, n * qd);
        let scores = grow(&mut s.scores, self.max_ctx);
        for (seq, g) in self.seqs.iter_mut().zip(&s.segs) {
            let (t0, t1) = (g.t0, g.t0 + g.n);
            self.backend.attention_cached(CachedAttention {
                cache: &mut *seq.cache,
                layer: il,
                k_new: &k[t0 * kvd..t1 * kvd],
                v_new: &v[t0 * kvd..t1 * kvd],
                q: &q[t0 * qd..t1 * qd],
                out: &mut att[t0 * qd..t1 * qd],
                shape: AttentionShape {
                    n_tokens: g.n,
                    pos0: g.pos0,
                    n_head: c.n_head,
                    n_head_kv: c.n_head_kv,
                    head_dim: c.head_dim,
                    scale: c.kq_scale,
                    window,
                },
                scores: &mut scores[..g.pos0 + g.n],
            })?;
        }
        Ok(())
    }

    fn keep_logit_rows(&mut self) {
        let (n, e) = (self.n, self.model.config.n_embd);
        let s = &mut *self.s;
        let x = grow(&mut s.x, n * e);
        let proj = grow(&mut s.proj, n * e);
        let mut n_rows = 0;
        s.groups.clear();
        for (seq, g) in self.seqs.iter().zip(&s.segs) {
            let (first, count) = match seq.logits {
                crate::Logits::Last => (g.t0 + g.n - 1, 1),
                crate::Logits::All => (g.t0, g.n),
            };
            if first != n_rows {
                x.copy_within(first * e..(first + count) * e, n_rows * e);
                proj.copy_within(first * e..(first + count) * e, n_rows * e);
            }
            n_rows += count;
            s.groups.push(count);
        }
        self.rows = n_rows;
    }

    fn add(&mut self, dst: Act, src: Act) {
        let len = self.rows * self.width(dst);
        let mut d = std::mem::take(slot(self.s, dst));
        add_into(grow(&mut d, len), grow(slot(self.s, src), len));
        *slot(self.s, dst) = d;
    }

    fn glu(&mut self, act: Activation) {
        let len = self.rows * self.model.config.n_ff;
        let s = &mut *self.s;
        let gate = grow(&mut s.gate, len);
        let up = grow(&mut s.up, len);
        match act {
            Activation::SiluGated => self.backend.swiglu(gate, up),
            Activation::GeluGated => ops::geglu(gate, up),
        }
    }

    fn logits(&mut self, softcap: f32) -> Result<()> {
        let (rows, e) = (self.rows, self.model.config.n_embd);
        let s = &mut *self.s;
        let xn = &s.xn[..rows * e];
        let logits = grow(&mut s.logits, rows * self.model.config.n_vocab);
        self.model
            .lm_head(self.backend, xn, &s.groups, logits, &mut s.head)?;
        if softcap > 0.0 {
            logits
                .iter_mut()
                .for_each(|v| *v = crate::math::tanhf(*v / softcap) * softcap);
        }
        Ok(())
    }

    fn dump(&mut self, name: &str, layer: usize, a: Act) {
        let len = self.rows * self.width(a);
        debug_dump::tensor(name, layer, grow(slot(self.s, a), len));
    }
}

fn add_into(x: &mut [f32], y: &[f32]) {
    for (a, &b) in x.iter_mut().zip(y) {
        *a += b;
    }
}
