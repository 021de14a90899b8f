//! `GpuBackend`: chord-model's `Backend` on a wgpu device. A whole forward step over device
//! caches runs as one submission (`Backend::forward_step`, `step.rs`). The per-op methods here
//! serve every other case: the trait hands them host slices, so each call uploads its inputs
//! (activations quantized on the host exactly as chord-cpu quantizes them; the used part of a
//! host KV cache), runs the kernels of the call in one submission and reads the outputs back.
//! Weights are uploaded once and stay on the device.

use crate::attention::AttentionKernel;
use crate::error::{GpuError, Result};
use crate::kernels::{self, Pipelines};
use crate::pool::BufferPool;
use crate::weights::{GpuMatrix, WeightCache};
use crate::Gpu;
use chord_gguf::GgmlType;
use chord_model::{AttentionArgs, AttentionShape, Backend, KvSlice, MatRef};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// Workgroup size of every kernel (`@workgroup_size(64)` in the WGSL).
pub(crate) const WG: usize = 64;
/// Largest head dimension the attention kernel's accumulator holds (`MAX_HEAD_DIM`).
pub const MAX_HEAD_DIM: usize = 256;

pub struct GpuBackend {
    pub(crate) gpu: Gpu,
    state: Mutex<State>,
    /// Whether `forward_step` runs whole steps on the device (on by default).
    device_step: AtomicBool,
    /// An attention kernel every call takes where it can (`None`: chosen by shape).
    attention_kernel: Mutex<Option<AttentionKernel>>,
}

#[derive(Default)]
pub(crate) struct State {
    pub(crate) pool: BufferPool,
    pub(crate) weights: WeightCache,
    pub(crate) pipelines: Pipelines,
    /// Matrix products per kernel name (what the dispatch trace prints, counted).
    pub(crate) dispatches: std::collections::BTreeMap<&'static str, usize>,
    /// Norm and bias vectors on the device (a device step's), by host address and length,
    /// with their bits to tell a reused address.
    pub(crate) vectors: std::collections::HashMap<(usize, usize), (Vec<u32>, wgpu::Buffer)>,
    /// chord-model's GELU f16 table on the device.
    pub(crate) gelu_table: Option<wgpu::Buffer>,
    /// Bytes of keys and values written into device caches so far.
    pub(crate) kv_bytes_written: u64,
}

/// A uniform block's bytes from 32-bit words.
pub(crate) fn words(v: &[u32]) -> impl Iterator<Item = u8> + '_ {
    v.iter().flat_map(|w| w.to_le_bytes())
}

fn pad4(v: &mut Vec<u8>) {
    v.resize(v.len().div_ceil(4) * 4, 0);
}

impl GpuBackend {
    /// Opens the adapter [`Gpu::new`] picks.
    pub fn new() -> Result<Self> {
        Ok(Self::with_gpu(Gpu::new()?))
    }

    pub fn with_gpu(gpu: Gpu) -> Self {
        Self {
            gpu,
            state: Mutex::new(State::default()),
            device_step: AtomicBool::new(true),
            attention_kernel: Mutex::new(None),
        }
    }

    pub fn gpu(&self) -> &Gpu {
        &self.gpu
    }

    pub(crate) fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Bytes of weights resident on the device.
    pub fn resident_weight_bytes(&self) -> usize {
        self.state().weights.bytes()
    }

    /// Device buffers the pool has created so far (weights excluded).
    pub fn pooled_buffers_created(&self) -> usize {
        self.state().pool.created()
    }

    /// Drops every uploaded weight matrix (e.g. before the host memory of a model is freed and
    /// another loaded with this backend).
    pub fn clear_weights(&self) {
        self.state().weights.clear();
    }

    /// How many matrix products ran on each kernel so far (e.g. `matvec_q4_K_q8_K`).
    pub fn dispatch_counts(&self) -> Vec<(&'static str, usize)> {
        self.state()
            .dispatches
            .iter()
            .map(|(k, n)| (*k, *n))
            .collect()
    }

    /// Turns whole-step recording (`Backend::forward_step`, one submission per forward step)
    /// on or off; off, every forward step takes the per-op path (a submission per product and
    /// attention call, the other ops on the host).
    pub fn set_device_step(&self, on: bool) {
        self.device_step.store(on, Ordering::Relaxed);
    }

    pub(crate) fn device_step_on(&self) -> bool {
        self.device_step.load(Ordering::Relaxed)
    }

    /// Command submissions so far (today every op that reads a result back is one).
    pub fn submissions(&self) -> usize {
        self.gpu.submissions()
    }

    /// Bytes of keys and values written into device-resident caches so far (each position's
    /// once: attention reads the cache where it is).
    pub fn kv_bytes_written(&self) -> u64 {
        self.state().kv_bytes_written
    }

    /// Uploads a weight matrix ahead of its first product (e.g. at load, so the first token
    /// does not pay for it); returns how many buffers it was split into.
    pub fn upload(&self, w: &MatRef<'_>) -> Result<usize> {
        Ok(self
            .state()
            .weights
            .get_or_upload(&self.gpu, w)?
            .parts
            .len())
    }

    fn uniform_slot(&self) -> u64 {
        (self.gpu.limits().min_uniform_buffer_offset_alignment as u64).max(256)
    }

    /// `ys[i] = ws[i] · x` for `n_tokens` rows of `x`, every matrix in one submission.
    pub fn matmul_multi_gpu(
        &self,
        ws: &[MatRef<'_>],
        x: &[f32],
        n_tokens: usize,
        ys: &mut [&mut [f32]],
    ) -> Result<()> {
        if ws.len() != ys.len() {
            return Err(GpuError::Shape(
                "matmul: as many outputs as matrices needed".into(),
            ));
        }
        if n_tokens == 0 || ws.is_empty() {
            return Ok(());
        }
        if n_tokens > 65535 {
            return Err(GpuError::Shape(format!(
                "matmul: {n_tokens} tokens in one call (at most 65535)"
            )));
        }
        self.gpu.check()?;
        let mut guard = self.state();
        let st = &mut *guard;
        let gpu = &self.gpu;

        struct Item {
            m: Arc<GpuMatrix>,
            pipe: Arc<wgpu::ComputePipeline>,
            act: usize,
            /// Invocations along y: tokens, or groups of 4 for the tiled kernels.
            groups: usize,
        }
        // Quantized activations, one per distinct (type, width): Q/K/V or gate/up share one.
        let mut acts: Vec<(GgmlType, usize, usize, Vec<u8>)> = Vec::new();
        let mut items = Vec::with_capacity(ws.len());
        for (w, y) in ws.iter().zip(ys.iter()) {
            if x.len() < n_tokens * w.cols || y.len() < n_tokens * w.rows {
                return Err(GpuError::Shape(format!(
                    "matmul {}: buffer sizes do not match the shape",
                    w.name
                )));
            }
            let k = kernels::for_product(w.ty, n_tokens).ok_or_else(|| GpuError::Unsupported {
                name: w.name.to_string(),
                ty: w.ty,
            })?;
            let m = st.weights.get_or_upload(gpu, w)?;
            if m.parts.iter().any(|p| p.rows.div_ceil(WG) > 65535) {
                return Err(GpuError::Shape(format!(
                    "matmul {}: too many rows in one buffer",
                    w.name
                )));
            }
            let pipe = st.pipelines.get(gpu, k.name, || k.source())?;
            crate::trace::matmul(&m, n_tokens, k.name);
            *st.dispatches.entry(k.name).or_default() += 1;
            let act = match acts.iter().position(|a| a.0 == k.act_ty && a.1 == w.cols) {
                Some(i) => i,
                None => {
                    let a_row = chord_quant::row_bytes(k.act_ty, w.cols)
                        .map_err(|e| GpuError::Shape(format!("matmul {}: {e}", w.name)))?;
                    let mut bytes = vec![0u8; n_tokens * a_row];
                    for (xr, ar) in x
                        .chunks_exact(w.cols)
                        .zip(bytes.chunks_exact_mut(a_row))
                        .take(n_tokens)
                    {
                        chord_quant::quantize_activation(k.act_ty, xr, ar).map_err(|e| {
                            GpuError::Shape(format!("matmul {}: activations: {e}", w.name))
                        })?;
                    }
                    pad4(&mut bytes);
                    acts.push((k.act_ty, w.cols, a_row, bytes));
                    acts.len() - 1
                }
            };
            items.push(Item {
                m,
                pipe,
                act,
                groups: n_tokens.div_ceil(k.tokens),
            });
        }

        use wgpu::BufferUsages as U;
        let act_bufs: Vec<wgpu::Buffer> = acts
            .iter()
            .map(|a| {
                let b = st
                    .pool
                    .take(&gpu.device, U::STORAGE | U::COPY_DST, a.3.len() as u64);
                gpu.queue.write_buffer(&b, 0, &a.3);
                b
            })
            .collect();
        let slot = self.uniform_slot();
        let n_parts: usize = items.iter().map(|i| i.m.parts.len()).sum();
        let mut params = vec![0u8; n_parts * slot as usize];
        let out_len: Vec<u64> = items
            .iter()
            .map(|i| (n_tokens * i.m.rows * 4) as u64)
            .collect();
        let outs: Vec<wgpu::Buffer> = out_len
            .iter()
            .map(|&l| st.pool.take(&gpu.device, U::STORAGE | U::COPY_SRC, l))
            .collect();
        let total: u64 = out_len.iter().sum();
        let staging = st.pool.take(&gpu.device, U::MAP_READ | U::COPY_DST, total);
        let ubuf = st
            .pool
            .take(&gpu.device, U::UNIFORM | U::COPY_DST, params.len() as u64);

        let mut enc = gpu.device.create_command_encoder(&Default::default());
        {
            let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("chord-gpu matmul"),
                timestamp_writes: None,
            });
            let mut s = 0usize;
            for (it, out) in items.iter().zip(&outs) {
                let a = &acts[it.act];
                let nb = it.m.cols / it.m.ty.block_size() as usize;
                for part in &it.m.parts {
                    let off = s * slot as usize;
                    let p = [
                        part.rows as u32,
                        it.m.cols as u32,
                        n_tokens as u32,
                        part.row0 as u32,
                        it.m.row_bytes as u32,
                        a.2 as u32,
                        it.m.rows as u32,
                        nb as u32,
                    ];
                    for (d, b) in params[off..off + 32].iter_mut().zip(words(&p)) {
                        *d = b;
                    }
                    let bg = gpu.device.create_bind_group(&wgpu::BindGroupDescriptor {
                        label: None,
                        layout: &it.pipe.get_bind_group_layout(0),
                        entries: &[
                            wgpu::BindGroupEntry {
                                binding: 0,
                                resource: part.buf.as_entire_binding(),
                            },
                            wgpu::BindGroupEntry {
                                binding: 1,
                                resource: act_bufs[it.act].as_entire_binding(),
                            },
                            wgpu::BindGroupEntry {
                                binding: 2,
                                resource: out.as_entire_binding(),
                            },
                            wgpu::BindGroupEntry {
                                binding: 3,
                                resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                                    buffer: &ubuf,
                                    offset: off as u64,
                                    size: wgpu::BufferSize::new(32),
                                }),
                            },
                        ],
                    });
                    pass.set_pipeline(&it.pipe);
                    pass.set_bind_group(0, &bg, &[]);
                    pass.dispatch_workgroups(part.rows.div_ceil(WG) as u32, it.groups as u32, 1);
                    s += 1;
                }
            }
        }
        gpu.queue.write_buffer(&ubuf, 0, &params);
        let copies: Vec<(&wgpu::Buffer, u64)> = outs.iter().zip(out_len.iter().copied()).collect();
        let mut host = vec![0u8; total as usize];
        gpu.submit_and_read(enc, &copies, &staging, &mut host)?;
        let mut off = 0;
        for (y, &l) in ys.iter_mut().zip(&out_len) {
            let bytes = &host[off..off + l as usize];
            for (d, c) in y.iter_mut().zip(bytes.chunks_exact(4)) {
                *d = f32::from_le_bytes([c[0], c[1], c[2], c[3]]);
            }
            off += l as usize;
        }
        for b in act_bufs.into_iter().chain(outs).chain([staging, ubuf]) {
            st.pool.give(b);
        }
        Ok(())
    }

    /// Attention on the device (see [`Backend::attention`]): the used part of the host cache
    /// is uploaded for the call.
    pub fn attention_gpu(&self, a: AttentionArgs<'_>) -> Result<()> {
        let kernel = self.attention_kernel_for(&a.shape());
        self.attention_gpu_with(a, kernel)
    }

    /// Makes every attention call (per-op and device step) take `kernel` where it fits the
    /// shape, or (`None`, the default) choose by shape and adapter: per row for one token or on
    /// a CPU adapter, flash for more tokens on a GPU.
    /// Both have the same bits; this is for measuring them.
    pub fn set_attention_kernel(&self, kernel: Option<AttentionKernel>) {
        *self
            .attention_kernel
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = kernel;
    }

    /// The kernel an attention call of this shape runs.
    pub(crate) fn attention_kernel_for(&self, sh: &AttentionShape) -> AttentionKernel {
        let forced = *self
            .attention_kernel
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        match forced {
            Some(k) if k.fits(sh) => k,
            _ => AttentionKernel::for_shape(
                sh,
                self.gpu.adapter_info().device_type == wgpu::DeviceType::Cpu,
            ),
        }
    }

    /// [`GpuBackend::attention_gpu`] on a chosen kernel (both have the same bits; the tests
    /// compare them).
    pub fn attention_gpu_with(&self, a: AttentionArgs<'_>, kernel: AttentionKernel) -> Result<()> {
        let sh = a.shape();
        check_attention(&sh, a.q.len(), a.out.len())?;
        if !kernel.fits(&sh) {
            return Err(GpuError::Shape(format!(
                "attention: {kernel:?} kernel cannot run {} heads over {} KV heads, {} tokens",
                sh.n_head, sh.n_head_kv, sh.n_tokens
            )));
        }
        let used = (sh.pos0 + sh.n_tokens) * sh.n_head_kv * sh.head_dim;
        let kv_bytes = |s: KvSlice<'_>| -> Option<(bool, Vec<u8>)> {
            let mut v = match s {
                KvSlice::F32(x) => (
                    false,
                    x.get(..used)?
                        .iter()
                        .flat_map(|f| f.to_le_bytes())
                        .collect(),
                ),
                KvSlice::F16(x) => (
                    true,
                    x.get(..used)?
                        .iter()
                        .flat_map(|h| h.to_bits().to_le_bytes())
                        .collect(),
                ),
            };
            pad4(&mut v.1);
            Some(v)
        };
        let (Some((kf16, kb)), Some((vf16, vb))) = (kv_bytes(a.k), kv_bytes(a.v)) else {
            return Err(GpuError::Shape(
                "attention: the cache holds fewer positions than pos0 + n_tokens".into(),
            ));
        };
        if kf16 != vf16 {
            return Err(GpuError::Shape(
                "attention: keys and values of different types".into(),
            ));
        }
        self.gpu.check()?;
        let mut guard = self.state();
        let st = &mut *guard;
        use wgpu::BufferUsages as U;
        let kbuf = st
            .pool
            .take(&self.gpu.device, U::STORAGE | U::COPY_DST, kb.len() as u64);
        self.gpu.queue.write_buffer(&kbuf, 0, &kb);
        let vbuf = st
            .pool
            .take(&self.gpu.device, U::STORAGE | U::COPY_DST, vb.len() as u64);
        self.gpu.queue.write_buffer(&vbuf, 0, &vb);
        let res = self.attend(st, a.q, &kbuf, &vbuf, kf16, &sh, kernel, a.out);
        st.pool.give(kbuf);
        st.pool.give(vbuf);
        res
    }

    /// Runs an attention kernel over keys and values already on the device (`kf16`: their
    /// element type), in one submission, and reads the output back.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn attend(
        &self,
        st: &mut State,
        q: &[f32],
        kbuf: &wgpu::Buffer,
        vbuf: &wgpu::Buffer,
        kf16: bool,
        sh: &AttentionShape,
        kernel: AttentionKernel,
        out: &mut [f32],
    ) -> Result<()> {
        let hd = sh.head_dim;
        let nq = sh.n_tokens * sh.n_head * hd;
        let gpu = &self.gpu;
        let pipe = st
            .pipelines
            .get(gpu, kernel.name(), || kernel.source().to_string())?;
        use wgpu::BufferUsages as U;
        let qbytes: Vec<u8> = q[..nq].iter().flat_map(|f| f.to_le_bytes()).collect();
        let params: Vec<u8> = words(&[
            sh.n_tokens as u32,
            sh.pos0 as u32,
            sh.n_head as u32,
            sh.n_head_kv as u32,
            hd as u32,
            sh.window as u32,
            kf16 as u32,
            sh.scale.to_bits(),
        ])
        .collect();
        let upload = |st: &mut State, usage: U, data: &[u8]| {
            let b = st.pool.take(&gpu.device, usage, data.len() as u64);
            gpu.queue.write_buffer(&b, 0, data);
            b
        };
        let qb = upload(st, U::STORAGE | U::COPY_DST, &qbytes);
        let ub = upload(st, U::UNIFORM | U::COPY_DST, &params);
        let out_len = (nq * 4) as u64;
        let ob = st.pool.take(&gpu.device, U::STORAGE | U::COPY_SRC, out_len);
        let staging = st
            .pool
            .take(&gpu.device, U::MAP_READ | U::COPY_DST, out_len);
        let bg = gpu.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: None,
            layout: &pipe.get_bind_group_layout(0),
            entries: &[
                wgpu::BindGroupEntry {
                    binding: 0,
                    resource: qb.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 1,
                    resource: kbuf.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 2,
                    resource: vbuf.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 3,
                    resource: ob.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 4,
                    resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                        buffer: &ub,
                        offset: 0,
                        size: wgpu::BufferSize::new(32),
                    }),
                },
            ],
        });
        let mut enc = gpu.device.create_command_encoder(&Default::default());
        {
            let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("chord-gpu attention"),
                timestamp_writes: None,
            });
            pass.set_pipeline(&pipe);
            pass.set_bind_group(0, &bg, &[]);
            let (x, y) = kernel.groups(sh);
            pass.dispatch_workgroups(x as u32, y as u32, 1);
        }
        let mut host = vec![0u8; out_len as usize];
        let res = gpu.submit_and_read(enc, &[(&ob, out_len)], &staging, &mut host);
        if res.is_ok() {
            for (d, c) in out[..nq].iter_mut().zip(host.chunks_exact(4)) {
                *d = f32::from_le_bytes([c[0], c[1], c[2], c[3]]);
            }
        }
        for b in [qb, ub, ob, staging] {
            st.pool.give(b);
        }
        res
    }
}

/// Checks an attention call's shape against the kernel's limits and the buffers' lengths.
pub(crate) fn check_attention(sh: &AttentionShape, q_len: usize, out_len: usize) -> Result<()> {
    let hd = sh.head_dim;
    if sh.n_head == 0 || sh.n_head_kv == 0 || !sh.n_head.is_multiple_of(sh.n_head_kv) {
        return Err(GpuError::Shape(format!(
            "attention: {} heads over {} KV heads",
            sh.n_head, sh.n_head_kv
        )));
    }
    if hd == 0 || hd > MAX_HEAD_DIM {
        return Err(GpuError::Shape(format!(
            "attention: head dimension {hd} (the GPU kernel takes 1..={MAX_HEAD_DIM})"
        )));
    }
    let nq = sh.n_tokens * sh.n_head * hd;
    if q_len < nq || out_len < nq {
        return Err(GpuError::Shape(
            "attention: query or output shorter than n_tokens × n_head × head_dim".into(),
        ));
    }
    let n_inv = sh.n_tokens * sh.n_head;
    if n_inv.div_ceil(WG) > 65535 || nq == 0 {
        return Err(GpuError::Shape(format!(
            "attention: {n_inv} (token, head) pairs"
        )));
    }
    Ok(())
}

impl Backend for GpuBackend {
    fn name(&self) -> String {
        format!("gpu ({})", self.gpu.adapter_name())
    }

    fn matmul(
        &self,
        w: MatRef<'_>,
        x: &[f32],
        n_tokens: usize,
        y: &mut [f32],
    ) -> chord_model::Result<()> {
        Ok(self.matmul_multi_gpu(&[w], x, n_tokens, &mut [y])?)
    }

    fn matmul_multi(
        &self,
        ws: &[MatRef<'_>],
        x: &[f32],
        n_tokens: usize,
        ys: &mut [&mut [f32]],
    ) -> chord_model::Result<()> {
        Ok(self.matmul_multi_gpu(ws, x, n_tokens, ys)?)
    }

    fn attention(&self, a: AttentionArgs<'_>) -> chord_model::Result<()> {
        Ok(self.attention_gpu(a)?)
    }

    /// The cache lives on the device (see `kv.rs`).
    fn new_cache(
        &self,
        cfg: &chord_model::Config,
        n_ctx: usize,
        ty: chord_model::KvType,
    ) -> chord_model::Result<chord_model::KvCache> {
        Ok(self.new_device_cache(cfg, n_ctx, ty)?)
    }

    /// A device cache of this backend is written and read in place; a host cache (made by
    /// `Model::new_cache`) takes the per-call upload of [`GpuBackend::attention_gpu`].
    fn attention_cached(&self, a: chord_model::CachedAttention<'_>) -> chord_model::Result<()> {
        if self.owns(a.cache) {
            Ok(self.attention_device(a)?)
        } else {
            chord_model::backend::attention_cached_host(self, a)
        }
    }

    /// One sequence over a device cache runs as one recorded submission (`step.rs`); other
    /// batches (several sequences, a host cache, a streamed model...) take the per-op path.
    fn forward_step(
        &self,
        model: &chord_model::Model,
        seqs: &mut [chord_model::SeqBatch<'_>],
        logits: &mut Vec<f32>,
    ) -> Option<chord_model::Result<usize>> {
        self.forward_step_gpu(model, seqs, logits)
    }
}
