//! `GpuStep`: a whole forward step on the device in one command submission. It implements
//! chord-model's [`Step`] by recording every op into one `wgpu::CommandEncoder` (one compute
//! pass per dispatch; buffer copies for the KV write of an F32 cache and `keep_logit_rows`);
//! the activations live in device buffers, one per [`Act`] slot, the KV cache is the device
//! cache of `kv.rs`, and only the logits are read back, after the one `queue.submit`. Every
//! kernel has the host step's bits (exact.wgsl, the device quantizer, the matvec and attention
//! kernels that follow chord-cpu's scalar order), so the logits are the scalar CPU backend's.
//!
//! An op that changes a slot in place writes a spare buffer of the same size and swaps it in
//! (a binding may not be read and written in one dispatch, and the RoPE/GLU/norm kernels read
//! neighbours). A failed op records its error and the later ops do nothing; the step is then not
//! submitted, so the caches are unchanged.
//!
//! Covered: one or several sequences per step (decode and prefill, `Model::forward_batch`) of
//! a resident model whose caches live on this device, without logit soft-capping;
//! `device_step_fits` says which models (and batches over 65535 · 64 elements in the widest
//! slot are left out), otherwise the per-op path runs
//! (`Backend::forward_step` returns `None`).

use crate::backend::{check_attention, words, GpuBackend, State, WG};
use crate::error::{GpuError, Result};
use crate::kernels;
use crate::quantize::QuantKernel;
use chord_gguf::GgmlType;
use chord_model::config::Activation;
use chord_model::profile::Profile;
use chord_model::{Act, AttentionShape, Logits, MatRef, Model, Step};
use wgpu::BufferUsages as U;

const SLOTS: usize = 9;

fn slot_index(a: Act) -> usize {
    match a {
        Act::X => 0,
        Act::Xn => 1,
        Act::Q => 2,
        Act::K => 3,
        Act::V => 4,
        Act::Att => 5,
        Act::Proj => 6,
        Act::Gate => 7,
        Act::Up => 8,
    }
}

fn act_usage() -> U {
    U::STORAGE | U::COPY_SRC | U::COPY_DST
}

/// One sequence of a step: its rows of the batch, its positions and its device cache's
/// per-layer key and value buffers.
pub(crate) struct Seg {
    t0: usize,
    n: usize,
    pos0: usize,
    which: Logits,
    k: Vec<wgpu::Buffer>,
    v: Vec<wgpu::Buffer>,
}

pub(crate) struct GpuStep<'a> {
    be: &'a GpuBackend,
    st: &'a mut State,
    model: &'a Model,
    enc: wgpu::CommandEncoder,
    /// Pooled buffers the recorded commands use, given back after the submission.
    held: Vec<wgpu::Buffer>,
    slots: [wgpu::Buffer; SLOTS],
    spare: wgpu::Buffer,
    /// The batch's tokens, sequence after sequence.
    tokens: Vec<u32>,
    segs: Vec<Seg>,
    /// Rows of the batch (all tokens).
    n: usize,
    /// Rows the residual stream carries now.
    rows: usize,
    kv_f16: bool,
    rope: [Option<wgpu::Buffer>; 2],
    logits: Option<wgpu::Buffer>,
    err: Option<GpuError>,
    profile: Option<Profile>,
    kv_written: u64,
}

impl<'a> GpuStep<'a> {
    /// A step over the sequences `segs` (their tokens concatenated in `tokens`), whose device
    /// caches hold F16 elements if `kv_f16`, else F32.
    pub(crate) fn new(
        be: &'a GpuBackend,
        st: &'a mut State,
        model: &'a Model,
        tokens: Vec<u32>,
        segs: Vec<Seg>,
        kv_f16: bool,
    ) -> Self {
        let c = &model.config;
        let n = tokens.len();
        let width = c.n_embd.max(c.q_dim()).max(c.kv_dim()).max(c.n_ff);
        let bytes = (n * width * 4) as u64;
        let mut held = Vec::new();
        let mut take = |st: &mut State| {
            let b = st.pool.take(&be.gpu.device, act_usage(), bytes);
            held.push(b.clone());
            b
        };
        let slots = std::array::from_fn(|_| take(st));
        let spare = take(st);
        GpuStep {
            be,
            st,
            model,
            enc: be.gpu.device.create_command_encoder(&Default::default()),
            held,
            slots,
            spare,
            tokens,
            segs,
            n,
            rows: n,
            kv_f16,
            rope: [None, None],
            logits: None,
            err: None,
            profile: None,
            kv_written: 0,
        }
    }

    fn width(&self, a: Act) -> usize {
        a.width(&self.model.config)
    }

    fn slot(&self, a: Act) -> wgpu::Buffer {
        self.slots[slot_index(a)].clone()
    }

    /// The spare buffer becomes slot `a` (which it was just written as), the old one spare.
    fn swap_in(&mut self, a: Act) {
        std::mem::swap(&mut self.slots[slot_index(a)], &mut self.spare);
    }

    fn fail(&mut self, e: GpuError) {
        if self.err.is_none() {
            self.err = Some(e);
        }
    }

    fn take(&mut self, usage: U, size: u64) -> wgpu::Buffer {
        let b = self.st.pool.take(&self.be.gpu.device, usage, size.max(4));
        self.held.push(b.clone());
        b
    }

    fn upload(&mut self, usage: U, bytes: &[u8]) -> wgpu::Buffer {
        let b = self.take(usage | U::COPY_DST, bytes.len() as u64);
        self.be.gpu.queue.write_buffer(&b, 0, bytes);
        b
    }

    /// A weight vector (norm, bias) on the device: uploaded at its first use and kept, keyed
    /// by host address and length and checked against the bytes (a vector freed and another
    /// allocated at its address is uploaded again).
    fn vector(&mut self, w: &[f32]) -> wgpu::Buffer {
        let key = (w.as_ptr() as usize, w.len());
        if let Some((have, b)) = self.st.vectors.get(&key) {
            if have.iter().zip(w).all(|(h, v)| *h == v.to_bits()) {
                return b.clone();
            }
        }
        let bits: Vec<u32> = w.iter().map(|v| v.to_bits()).collect();
        let bytes: Vec<u8> = words(&bits).collect();
        let b = self.be.gpu.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("chord-gpu weight vector"),
            size: bytes.len().max(4) as u64,
            usage: U::STORAGE | U::COPY_DST,
            mapped_at_creation: false,
        });
        self.be.gpu.queue.write_buffer(&b, 0, &bytes);
        self.st.vectors.insert(key, (bits, b.clone()));
        b
    }

    /// Records one dispatch of `name` over `binds` (bindings 0..) and a uniform block of
    /// `params` (the next binding).
    fn dispatch(
        &mut self,
        name: &'static str,
        source: impl FnOnce() -> String,
        binds: &[&wgpu::Buffer],
        params: &[u32],
        groups: (usize, usize),
    ) {
        if self.err.is_some() {
            return;
        }
        if groups.0 > 65535 || groups.1 > 65535 {
            return self.fail(GpuError::Shape(format!(
                "{name}: {groups:?} workgroups (at most 65535 per dimension)"
            )));
        }
        if groups.0 == 0 || groups.1 == 0 {
            return;
        }
        let pipe = match self.st.pipelines.get(&self.be.gpu, name, source) {
            Ok(p) => p,
            Err(e) => return self.fail(e),
        };
        let pb: Vec<u8> = words(params).collect();
        let ub = self.upload(U::UNIFORM, &pb);
        let mut entries: Vec<wgpu::BindGroupEntry> = binds
            .iter()
            .enumerate()
            .map(|(i, b)| wgpu::BindGroupEntry {
                binding: i as u32,
                resource: b.as_entire_binding(),
            })
            .collect();
        entries.push(wgpu::BindGroupEntry {
            binding: binds.len() as u32,
            resource: ub.as_entire_binding(),
        });
        let bg = self
            .be
            .gpu
            .device
            .create_bind_group(&wgpu::BindGroupDescriptor {
                label: None,
                layout: &pipe.get_bind_group_layout(0),
                entries: &entries,
            });
        let mut pass = self.enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some(name),
            timestamp_writes: None,
        });
        pass.set_pipeline(&pipe);
        pass.set_bind_group(0, &bg, &[]);
        pass.dispatch_workgroups(groups.0 as u32, groups.1 as u32, 1);
    }

    /// `op` of arith.wgsl over `len` elements of `a` (and `b`) into the spare buffer.
    fn arith(
        &mut self,
        a: &wgpu::Buffer,
        b: &wgpu::Buffer,
        len: usize,
        op: u32,
        blen: usize,
        f: f32,
    ) {
        let out = self.spare.clone();
        self.dispatch(
            "arith",
            || kernels::ARITH.to_string(),
            &[a, b, &out],
            &[len as u32, op, blen as u32, f.to_bits()],
            (len.div_ceil(WG), 1),
        );
    }

    /// RMSNorm of `len`-element rows of `src` (the step's rows × `width`) into `dst`.
    fn norm(&mut self, src: &wgpu::Buffer, w: &[f32], eps: f32, total: usize, dst: &wgpu::Buffer) {
        let n = w.len();
        if n == 0 || !total.is_multiple_of(n) {
            return self.fail(GpuError::Shape(
                "rms_norm: rows do not match the weight".into(),
            ));
        }
        let wb = self.vector(w);
        let rows = total / n;
        self.dispatch(
            "rms_norm",
            || kernels::RMS_NORM.to_string(),
            &[src, &wb, dst],
            &[n as u32, rows as u32, eps.to_bits(), 0],
            (rows.div_ceil(WG), 1),
        );
    }

    /// `outs[i] = ws[i] · src` for the step's rows (tokens-major, as the host), activations
    /// quantized on the device into each weight type's dot partner.
    fn products(
        &mut self,
        ws: &[MatRef<'_>],
        src: &wgpu::Buffer,
        outs: &[wgpu::Buffer],
    ) -> Result<()> {
        let rows = self.rows;
        // Quantized activations by (type, width): Q/K/V or gate/up share one.
        let mut acts: Vec<(GgmlType, usize, usize, wgpu::Buffer)> = Vec::new();
        for (w, out) in ws.iter().zip(outs) {
            let k = kernels::for_product(w.ty, rows).ok_or_else(|| GpuError::Unsupported {
                name: w.name.to_string(),
                ty: w.ty,
            })?;
            let m = self.st.weights.get_or_upload(&self.be.gpu, w)?;
            if m.parts.iter().any(|p| p.rows.div_ceil(WG) > 65535) {
                return Err(GpuError::Shape(format!(
                    "matmul {}: too many rows in one buffer",
                    w.name
                )));
            }
            crate::trace::matmul(&m, rows, k.name);
            *self.st.dispatches.entry(k.name).or_default() += 1;
            let (a_row, abuf) = match acts.iter().find(|a| a.0 == k.act_ty && a.1 == w.cols) {
                Some(a) => (a.2, a.3.clone()),
                None => {
                    let a_row = chord_quant::row_bytes(k.act_ty, w.cols)
                        .map_err(|e| GpuError::Shape(format!("matmul {}: {e}", w.name)))?;
                    let abuf = if k.act_ty == GgmlType::F32 {
                        src.clone()
                    } else {
                        let q = QuantKernel::for_type(k.act_ty).ok_or_else(|| {
                            GpuError::Unsupported {
                                name: format!("{} activations", w.name),
                                ty: k.act_ty,
                            }
                        })?;
                        let len = rows * w.cols;
                        if !q.fits(w.cols) {
                            return Err(GpuError::Shape(format!(
                                "matmul {}: {} columns are not whole {} blocks",
                                w.name, w.cols, k.act_ty
                            )));
                        }
                        let buf = self.take(U::STORAGE, (rows * a_row).div_ceil(4) as u64 * 4);
                        self.dispatch(
                            q.name,
                            || q.source.to_string(),
                            &[src, &buf],
                            &q.params(len),
                            (q.groups(len), 1),
                        );
                        buf
                    };
                    acts.push((k.act_ty, w.cols, a_row, abuf.clone()));
                    (a_row, abuf)
                }
            };
            let nb = m.cols / m.ty.block_size() as usize;
            let pipe_name = k.name;
            for part in &m.parts {
                let p = [
                    part.rows as u32,
                    m.cols as u32,
                    rows as u32,
                    part.row0 as u32,
                    m.row_bytes as u32,
                    a_row as u32,
                    m.rows as u32,
                    nb as u32,
                ];
                self.dispatch(
                    pipe_name,
                    || k.source(),
                    &[&part.buf, &abuf, out],
                    &p,
                    (part.rows.div_ceil(WG), rows.div_ceil(k.tokens)),
                );
            }
        }
        Ok(())
    }

    /// Submits the recorded step and reads the logits back into `out`; returns their rows.
    pub(crate) fn finish(mut self, out: &mut Vec<f32>) -> Result<usize> {
        let res = self.finish_inner(out);
        self.give_back();
        res
    }

    /// Drops the recorded commands unsubmitted (a graph op failed): nothing reaches the
    /// device, so the caches are unchanged.
    pub(crate) fn abandon(self) {
        self.give_back();
    }

    fn give_back(self) {
        let GpuStep { st, held, .. } = self;
        for b in held {
            st.pool.give(b);
        }
    }

    fn finish_inner(&mut self, out: &mut Vec<f32>) -> Result<usize> {
        if let Some(e) = self.err.take() {
            return Err(e);
        }
        let Some(lb) = self.logits.clone() else {
            return Err(GpuError::Shape(
                "device step: no logits were computed".into(),
            ));
        };
        let len = self.rows * self.model.config.n_vocab;
        let bytes = (len * 4) as u64;
        let staging = self.take(U::MAP_READ | U::COPY_DST, bytes);
        let enc = std::mem::replace(
            &mut self.enc,
            self.be
                .gpu
                .device
                .create_command_encoder(&Default::default()),
        );
        self.be.gpu.check()?;
        let mut host = vec![0u8; bytes as usize];
        self.be
            .gpu
            .submit_and_read(enc, &[(&lb, bytes)], &staging, &mut host)?;
        // Validation errors of the recorded commands surface at the submission.
        self.be.gpu.check()?;
        self.st.kv_bytes_written += self.kv_written;
        if out.len() < len {
            out.resize(len, 0.0);
        }
        for (d, c) in out.iter_mut().zip(host.chunks_exact(4)) {
            *d = f32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        }
        Ok(self.rows)
    }
}

impl Step for GpuStep<'_> {
    fn profile(&mut self) -> &mut Option<Profile> {
        &mut self.profile
    }

    fn embed(&mut self, scale: f32) -> chord_model::Result<()> {
        let model = self.model;
        let w = model.file.mat(&model.weights.tok_embd)?;
        let Some((name, source)) = kernels::embed(w.ty) else {
            return Err(GpuError::Unsupported {
                name: w.name.to_string(),
                ty: w.ty,
            }
            .into());
        };
        let m = self.st.weights.get_or_upload(&self.be.gpu, &w)?;
        let tb: Vec<u8> = self.tokens.iter().flat_map(|t| t.to_le_bytes()).collect();
        let toks = self.upload(U::STORAGE, &tb);
        let x = self.slot(Act::X);
        for part in &m.parts {
            let p = [
                w.cols as u32,
                self.n as u32,
                part.row0 as u32,
                part.rows as u32,
                m.row_bytes as u32,
                0,
                0,
                0,
            ];
            let src = source.clone();
            self.dispatch(
                name,
                move || src,
                &[&part.buf, &toks, &x],
                &p,
                (w.cols.div_ceil(WG), self.n),
            );
        }
        if scale != 1.0 {
            let len = self.n * w.cols;
            self.arith(&x, &x, len, 2, 1, scale);
            self.swap_in(Act::X);
        }
        Ok(())
    }

    fn rms_norm(&mut self, src: Act, w: &[f32], eps: f32, dst: Act) {
        let total = self.rows * self.width(src);
        let s = self.slot(src);
        if src == dst {
            let out = self.spare.clone();
            self.norm(&s, w, eps, total, &out);
            self.swap_in(dst);
        } else {
            let out = self.slot(dst);
            self.norm(&s, w, eps, total, &out);
        }
    }

    fn rms_norm_pieces(&mut self, slot: Act, w: &[f32], eps: f32) {
        self.rms_norm(slot, w, eps, slot);
    }

    fn matmul(&mut self, ws: &[MatRef<'_>], src: Act, dsts: &[Act]) -> chord_model::Result<()> {
        if self.err.is_some() {
            return Ok(());
        }
        let s = self.slot(src);
        let outs: Vec<wgpu::Buffer> = dsts.iter().map(|&d| self.slot(d)).collect();
        self.products(ws, &s, &outs)?;
        Ok(())
    }

    fn add_bias(&mut self, slot: Act, b: &[f32]) {
        let len = self.rows * self.width(slot);
        let bb = self.vector(b);
        let s = self.slot(slot);
        self.arith(&s, &bb, len, 1, b.len().max(1), 0.0);
        self.swap_in(slot);
    }

    fn rope(&mut self, table: usize, base: f32, neox: bool) {
        let model = self.model;
        let c = &model.config;
        let (rd, hd) = (c.rope_dims, c.head_dim);
        let (n_head, n_head_kv) = (c.n_head, c.n_head_kv);
        let n = self.rows;
        let tb = match &self.rope[table] {
            Some(b) => b.clone(),
            None => {
                // The cos/sin rows of the step's positions, made on the host as the host step
                // makes them (`rope_cache`), once per base.
                let mut t = vec![0f32; n * rd];
                let freqs = model.weights.rope_freqs.as_deref();
                for g in &self.segs {
                    for i in 0..g.n {
                        let row = &mut t[(g.t0 + i) * rd..(g.t0 + i + 1) * rd];
                        chord_model::ops::rope_cache(g.pos0 + i, rd, base, freqs, row);
                    }
                }
                let bytes: Vec<u8> = t.iter().flat_map(|v| v.to_le_bytes()).collect();
                let b = self.upload(U::STORAGE, &bytes);
                self.rope[table] = Some(b.clone());
                b
            }
        };
        for (a, heads) in [(Act::Q, n_head), (Act::K, n_head_kv)] {
            let s = self.slot(a);
            let out = self.spare.clone();
            let len = n * heads * hd;
            self.dispatch(
                "rope",
                || kernels::ROPE.to_string(),
                &[&s, &tb, &out],
                &[
                    n as u32,
                    heads as u32,
                    hd as u32,
                    rd as u32,
                    neox as u32,
                    0,
                    0,
                    0,
                ],
                (len.div_ceil(WG), 1),
            );
            self.swap_in(a);
        }
    }

    fn scale(&mut self, slot: Act, f: f32) {
        let len = self.rows * self.width(slot);
        let s = self.slot(slot);
        self.arith(&s, &s, len, 2, 1, f);
        self.swap_in(slot);
    }

    fn attention(&mut self, layer: usize, window: usize) -> chord_model::Result<()> {
        if self.err.is_some() {
            return Ok(());
        }
        for i in 0..self.segs.len() {
            self.attend_seq(i, layer, window)?;
        }
        Ok(())
    }

    fn keep_logit_rows(&mut self) {
        if self.err.is_some() {
            return;
        }
        let e = (self.model.config.n_embd * 4) as u64;
        // (first row, rows) kept of each sequence, packed from row 0 on.
        let keep: Vec<(usize, usize)> = self
            .segs
            .iter()
            .map(|g| match g.which {
                Logits::Last => (g.t0 + g.n - 1, 1),
                Logits::All => (g.t0, g.n),
            })
            .collect();
        let kept: usize = keep.iter().map(|k| k.1).sum();
        if kept == self.n {
            return;
        }
        for a in [Act::X, Act::Proj] {
            let s = self.slot(a);
            let out = self.spare.clone();
            let mut at = 0u64;
            for &(first, count) in &keep {
                let len = count as u64 * e;
                self.enc
                    .copy_buffer_to_buffer(&s, first as u64 * e, &out, at, len);
                at += len;
            }
            self.swap_in(a);
        }
        self.rows = kept;
    }

    fn add(&mut self, dst: Act, src: Act) {
        let len = self.rows * self.width(dst);
        let (d, s) = (self.slot(dst), self.slot(src));
        self.arith(&d, &s, len, 0, 1, 0.0);
        self.swap_in(dst);
    }

    fn glu(&mut self, act: Activation) {
        let len = self.rows * self.model.config.n_ff;
        let (g, u) = (self.slot(Act::Gate), self.slot(Act::Up));
        let out = self.spare.clone();
        let p = [len as u32, 0, 0, 0];
        let groups = (len.div_ceil(WG), 1);
        match act {
            Activation::SiluGated => self.dispatch(
                "swiglu",
                || kernels::SWIGLU.to_string(),
                &[&g, &u, &out],
                &p,
                groups,
            ),
            Activation::GeluGated => {
                let table = self.gelu_table();
                self.dispatch(
                    "geglu",
                    || kernels::GEGLU.to_string(),
                    &[&g, &u, &table, &out],
                    &p,
                    groups,
                )
            }
        }
        self.swap_in(Act::Gate);
    }

    fn logits(&mut self, softcap: f32) -> chord_model::Result<()> {
        if softcap > 0.0 {
            return Err(GpuError::Shape("device step: logit soft-capping".into()).into());
        }
        if self.err.is_some() {
            return Ok(());
        }
        let model = self.model;
        let w = model.file.mat(&model.weights.output)?;
        let lb = self.take(U::STORAGE | U::COPY_SRC, (self.rows * w.rows * 4) as u64);
        let xn = self.slot(Act::Xn);
        self.products(&[w], &xn, std::slice::from_ref(&lb))?;
        self.logits = Some(lb);
        Ok(())
    }
}

impl GpuStep<'_> {
    /// Sequence `i`'s new keys and values into its cache at `layer`, then its attention (rows
    /// `t0..t0 + n` of `Q` into the same rows of `Att`; with several sequences through
    /// buffers of their own, since a binding's offset must be aligned).
    fn attend_seq(&mut self, i: usize, layer: usize, window: usize) -> Result<()> {
        let model = self.model;
        let c = &model.config;
        let (qd, kvd) = (c.q_dim(), c.kv_dim());
        let g = &self.segs[i];
        let (t0, n, pos0) = (g.t0, g.n, g.pos0);
        let (Some(kc), Some(vc)) = (g.k.get(layer).cloned(), g.v.get(layer).cloned()) else {
            return Err(GpuError::Shape(format!(
                "attention: no cache for layer {layer}"
            )));
        };
        let sh = AttentionShape {
            n_tokens: n,
            pos0,
            n_head: c.n_head,
            n_head_kv: c.n_head_kv,
            head_dim: c.head_dim,
            scale: c.kq_scale,
            window,
        };
        check_attention(&sh, n * qd, n * qd)?;
        let n_new = n * kvd;
        for (a, cache) in [(Act::K, &kc), (Act::V, &vc)] {
            let s = self.slot(a);
            if self.kv_f16 {
                let n_words = n_new / 2;
                self.dispatch(
                    "kv_write_f16",
                    || kernels::KV_WRITE_F16.to_string(),
                    &[&s, cache],
                    &[
                        n_words as u32,
                        (pos0 * kvd / 2) as u32,
                        (t0 * kvd) as u32,
                        0,
                    ],
                    (n_words.div_ceil(WG), 1),
                );
                self.kv_written += (n_new * 2) as u64;
            } else {
                let (from, to) = ((t0 * kvd * 4) as u64, (pos0 * kvd * 4) as u64);
                self.enc
                    .copy_buffer_to_buffer(&s, from, cache, to, (n_new * 4) as u64);
                self.kv_written += (n_new * 4) as u64;
            }
        }
        let (q, att) = (self.slot(Act::Q), self.slot(Act::Att));
        let bytes = (n * qd * 4) as u64;
        let off = (t0 * qd * 4) as u64;
        let alone = self.segs.len() == 1;
        let (qb, ob) = if alone {
            (q.clone(), att.clone())
        } else {
            let qb = self.take(U::STORAGE | U::COPY_DST, bytes);
            let ob = self.take(U::STORAGE | U::COPY_SRC, bytes);
            self.enc.copy_buffer_to_buffer(&q, off, &qb, 0, bytes);
            (qb, ob)
        };
        let p = [
            sh.n_tokens as u32,
            sh.pos0 as u32,
            sh.n_head as u32,
            sh.n_head_kv as u32,
            sh.head_dim as u32,
            sh.window as u32,
            self.kv_f16 as u32,
            sh.scale.to_bits(),
        ];
        let kernel = self.be.attention_kernel_for(&sh);
        self.dispatch(
            kernel.name(),
            || kernel.source().to_string(),
            &[&qb, &kc, &vc, &ob],
            &p,
            kernel.groups(&sh),
        );
        if !alone {
            self.enc.copy_buffer_to_buffer(&ob, 0, &att, off, bytes);
        }
        Ok(())
    }

    /// chord-model's GELU f16 table on the device (uploaded once per backend).
    fn gelu_table(&mut self) -> wgpu::Buffer {
        if let Some(b) = &self.st.gelu_table {
            return b.clone();
        }
        let t = chord_model::ops::gelu_f16_table();
        let bytes: Vec<u8> = t.iter().flat_map(|h| h.to_le_bytes()).collect();
        let b = self.be.gpu.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("chord-gpu gelu table"),
            size: bytes.len() as u64,
            usage: U::STORAGE | U::COPY_DST,
            mapped_at_creation: false,
        });
        self.be.gpu.queue.write_buffer(&b, 0, &bytes);
        self.st.gelu_table = Some(b.clone());
        b
    }
}

impl GpuBackend {
    /// Whether a device step covers this model: resident, no logit soft-capping, every
    /// matrix with a kernel whose activation type has a device quantizer (or is F32) and
    /// whose width is whole blocks, the token matrix with an embedding kernel.
    pub(crate) fn device_step_fits(&self, model: &Model) -> bool {
        let c = &model.config;
        if model.file.is_streamed() || c.final_logit_softcap > 0.0 {
            return false;
        }
        let w = &model.weights;
        if kernels::embed(w.tok_embd.ty).is_none() {
            return false;
        }
        let product_ok = |t: &chord_model::TensorRef| {
            [1, crate::TILE_MIN_TOKENS].iter().all(|&n| {
                kernels::for_product(t.ty, n).is_some_and(|k| {
                    k.act_ty == GgmlType::F32
                        || QuantKernel::for_type(k.act_ty).is_some_and(|q| q.fits(t.cols))
                })
            })
        };
        product_ok(&w.output)
            && w.layers.iter().all(|l| {
                [&l.wq, &l.wk, &l.wv, &l.wo, &l.gate, &l.up, &l.down]
                    .into_iter()
                    .all(product_ok)
            })
    }

    /// [`chord_model::Backend::forward_step`]: sequences whose caches live on this device
    /// (all F16 or all F32), when device steps are on (see [`GpuBackend::set_device_step`]).
    pub(crate) fn forward_step_gpu(
        &self,
        model: &Model,
        seqs: &mut [chord_model::SeqBatch<'_>],
        logits: &mut Vec<f32>,
    ) -> Option<chord_model::Result<usize>> {
        if seqs.is_empty() || !self.device_step_on() || !self.device_step_fits(model) {
            return None;
        }
        // The element-wise dispatches are one-dimensional (at most 65535 workgroups of WG):
        // a longer batch takes the per-op path.
        let c = &model.config;
        let n_all: usize = seqs.iter().map(|q| q.tokens.len()).sum();
        let width = c.n_embd.max(c.q_dim()).max(c.kv_dim()).max(c.n_ff);
        if n_all * width > 65535 * WG {
            return None;
        }
        let mut tokens = Vec::new();
        let mut segs = Vec::with_capacity(seqs.len());
        let mut f16 = None;
        for seq in seqs.iter_mut() {
            let pos0 = seq.cache.len();
            let n = seq.tokens.len();
            // Every cache must be this device's (else the per-op path runs the batch).
            let kv = self.own_kv(seq.cache)?;
            if *f16.get_or_insert(kv.f16) != kv.f16 {
                return None;
            }
            if pos0 + n > kv.n_ctx || kv.kv_dim != model.config.kv_dim() {
                return Some(Err(GpuError::Shape(
                    "device step: the tokens do not fit the device KV cache".into(),
                )
                .into()));
            }
            segs.push(Seg {
                t0: tokens.len(),
                n,
                pos0,
                which: seq.logits,
                k: kv.k.clone(),
                v: kv.v.clone(),
            });
            tokens.extend_from_slice(seq.tokens);
        }
        if let Err(e) = self.gpu.check() {
            return Some(Err(e.into()));
        }
        let mut guard = self.state();
        let st = &mut *guard;
        let mut step = GpuStep::new(self, st, model, tokens, segs, f16.unwrap_or(true));
        Some(match model.run_graph(&mut step) {
            Ok(()) => step.finish(logits).map_err(Into::into),
            Err(e) => {
                step.abandon();
                Err(e)
            }
        })
    }
}
