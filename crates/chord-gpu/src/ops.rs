//! The element-wise kernels (RMSNorm, RoPE, SwiGLU, GeGLU) and the embedding lookup, callable
//! on host slices (a device step, `step.rs`, records the same pipelines over its slots). Each
//! is tested bit for bit against chord-model's host op.
//! `expf`, `f64_ops` and `exact_ops` run the kernels' exact arithmetic on its own, for its
//! tests.

use crate::backend::{words, GpuBackend, WG};
use crate::error::{GpuError, Result};
use crate::kernels;
use chord_model::MatRef;

fn f32_bytes(x: &[f32]) -> Vec<u8> {
    x.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// chord-model's GELU f16 table, two entries per word (as floats: `run_simple` uploads the
/// bits as they are).
fn gelu_table_words() -> Vec<f32> {
    chord_model::ops::gelu_f16_table()
        .chunks(2)
        .map(|p| f32::from_bits(p[0] as u32 | (p.get(1).copied().unwrap_or(0) as u32) << 16))
        .collect()
}

fn read_f32(bytes: &[u8], out: &mut [f32]) {
    for (d, c) in out.iter_mut().zip(bytes.chunks_exact(4)) {
        *d = f32::from_le_bytes([c[0], c[1], c[2], c[3]]);
    }
}

impl GpuBackend {
    /// One kernel over uploaded inputs (bindings 0..n), an output of `out.len()` floats
    /// (binding n) and a uniform block (binding n + 1), in one submission.
    pub(crate) fn run_simple(
        &self,
        name: &'static str,
        source: &'static str,
        inputs: &[&[f32]],
        params: &[u32],
        groups: usize,
        out: &mut [f32],
    ) -> Result<()> {
        if out.is_empty() {
            return Ok(());
        }
        if groups > 65535 {
            return Err(GpuError::Shape(format!(
                "{name}: {groups} workgroups (at most 65535)"
            )));
        }
        self.gpu.check()?;
        let mut guard = self.state();
        let st = &mut *guard;
        let gpu = &self.gpu;
        let pipe = st.pipelines.get(gpu, name, || source.to_string())?;
        use wgpu::BufferUsages as U;
        let mut bufs = Vec::new();
        for x in inputs {
            let bytes = f32_bytes(x);
            let b = st.pool.take(
                &gpu.device,
                U::STORAGE | U::COPY_DST,
                bytes.len().max(4) as u64,
            );
            gpu.queue.write_buffer(&b, 0, &bytes);
            bufs.push(b);
        }
        let out_len = (out.len() * 4) as u64;
        let ob = st.pool.take(&gpu.device, U::STORAGE | U::COPY_SRC, out_len);
        let pbytes: Vec<u8> = words(params).collect();
        let ub = st
            .pool
            .take(&gpu.device, U::UNIFORM | U::COPY_DST, pbytes.len() as u64);
        gpu.queue.write_buffer(&ub, 0, &pbytes);
        let staging = st
            .pool
            .take(&gpu.device, U::MAP_READ | U::COPY_DST, out_len);
        let n = bufs.len() as u32;
        let mut entries: Vec<wgpu::BindGroupEntry> = bufs
            .iter()
            .enumerate()
            .map(|(i, b)| wgpu::BindGroupEntry {
                binding: i as u32,
                resource: b.as_entire_binding(),
            })
            .collect();
        entries.push(wgpu::BindGroupEntry {
            binding: n,
            resource: ob.as_entire_binding(),
        });
        entries.push(wgpu::BindGroupEntry {
            binding: n + 1,
            resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                buffer: &ub,
                offset: 0,
                size: wgpu::BufferSize::new(pbytes.len() as u64),
            }),
        });
        let bg = gpu.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: None,
            layout: &pipe.get_bind_group_layout(0),
            entries: &entries,
        });
        let mut enc = gpu.device.create_command_encoder(&Default::default());
        {
            let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some(name),
                timestamp_writes: None,
            });
            pass.set_pipeline(&pipe);
            pass.set_bind_group(0, &bg, &[]);
            pass.dispatch_workgroups(groups as u32, 1, 1);
        }
        let mut host = vec![0u8; out_len as usize];
        gpu.submit_and_read(enc, &[(&ob, out_len)], &staging, &mut host)?;
        read_f32(&host, out);
        for b in bufs.into_iter().chain([ob, ub, staging]) {
            st.pool.give(b);
        }
        Ok(())
    }

    /// RMSNorm of every `w.len()`-long row of `x`, times `w`, into `out`.
    pub fn rms_norm(&self, x: &[f32], w: &[f32], eps: f32, out: &mut [f32]) -> Result<()> {
        let n = w.len();
        if n == 0 || !x.len().is_multiple_of(n) || out.len() != x.len() {
            return Err(GpuError::Shape(
                "rms_norm: rows do not match the weight".into(),
            ));
        }
        let rows = x.len() / n;
        let p = [n as u32, rows as u32, eps.to_bits(), 0];
        self.run_simple(
            "rms_norm",
            kernels::RMS_NORM,
            &[x, w],
            &p,
            rows.div_ceil(WG),
            out,
        )
    }

    /// RoPE in place on `n_tokens` rows of `n_heads × head_dim`; `table` holds each token's
    /// cos/sin pairs (`n_tokens × n_dims`, from `chord_model::ops::rope_cache`).
    #[allow(clippy::too_many_arguments)]
    pub fn rope(
        &self,
        x: &mut [f32],
        n_tokens: usize,
        n_heads: usize,
        head_dim: usize,
        n_dims: usize,
        neox: bool,
        table: &[f32],
    ) -> Result<()> {
        if x.len() != n_tokens * n_heads * head_dim
            || table.len() != n_tokens * n_dims
            || n_dims > head_dim
            || !n_dims.is_multiple_of(2)
        {
            return Err(GpuError::Shape("rope: shapes do not match".into()));
        }
        let p = [
            n_tokens as u32,
            n_heads as u32,
            head_dim as u32,
            n_dims as u32,
            neox as u32,
            0,
            0,
            0,
        ];
        let input = x.to_vec();
        self.run_simple(
            "rope",
            kernels::ROPE,
            &[&input, table],
            &p,
            x.len().div_ceil(WG),
            x,
        )
    }

    /// `out = expf(x)` element-wise with the bits of chord-model's `math::expf` (libm's), the
    /// exp attention uses.
    pub fn expf(&self, x: &[f32], out: &mut [f32]) -> Result<()> {
        if x.len() != out.len() {
            return Err(GpuError::Shape(
                "expf: input and output differ in length".into(),
            ));
        }
        let p = [x.len() as u32, 0, 0, 0];
        self.run_simple("expf", kernels::EXPF, &[x], &p, x.len().div_ceil(WG), out)
    }

    /// The attention kernel's f64 emulation, element-wise: `(l + x, l * c, (1 / l) as f32)`,
    /// computed on the device. Only for testing it against the host's f64 (`l` positive
    /// normal or zero, `x` and `c` non-negative).
    #[doc(hidden)]
    pub fn f64_ops(&self, l: &[f64], x: &[f32], c: &[f32]) -> Result<Vec<(f64, f64, f32)>> {
        if x.len() != l.len() || c.len() != l.len() {
            return Err(GpuError::Shape("f64_ops: inputs differ in length".into()));
        }
        let lw: Vec<f32> = l
            .iter()
            .flat_map(|v| {
                let b = v.to_bits();
                [f32::from_bits(b as u32), f32::from_bits((b >> 32) as u32)]
            })
            .collect();
        let mut out = vec![0f32; 5 * l.len()];
        let p = [l.len() as u32, 0, 0, 0];
        self.run_simple(
            "f64_ops",
            kernels::F64_OPS,
            &[&lw, x, c],
            &p,
            l.len().div_ceil(WG),
            &mut out,
        )?;
        let w = |i: usize| out[i].to_bits() as u64;
        Ok((0..l.len())
            .map(|i| {
                let s = f64::from_bits(w(5 * i) | w(5 * i + 1) << 32);
                let m = f64::from_bits(w(5 * i + 2) | w(5 * i + 3) << 32);
                (s, m, out[5 * i + 4])
            })
            .collect())
    }

    /// `gate = silu(gate) · up`.
    pub fn swiglu(&self, gate: &mut [f32], up: &[f32]) -> Result<()> {
        self.glu("swiglu", kernels::SWIGLU, gate, up, None)
    }

    /// `gate = gelu_tanh(gate) · up` with ggml's f16 rounding (chord-model's f16 table).
    pub fn geglu(&self, gate: &mut [f32], up: &[f32]) -> Result<()> {
        let table = gelu_table_words();
        self.glu("geglu", kernels::GEGLU, gate, up, Some(&table))
    }

    fn glu(
        &self,
        name: &'static str,
        src: &'static str,
        gate: &mut [f32],
        up: &[f32],
        table: Option<&[f32]>,
    ) -> Result<()> {
        if gate.len() != up.len() {
            return Err(GpuError::Shape(format!(
                "{name}: gate and up differ in length"
            )));
        }
        let g = gate.to_vec();
        let p = [gate.len() as u32, 0, 0, 0];
        let mut inputs: Vec<&[f32]> = vec![&g, up];
        inputs.extend(table);
        self.run_simple(name, src, &inputs, &p, gate.len().div_ceil(WG), gate)
    }

    /// exact.wgsl's operations on the device, element-wise, as f32 bits: `a / b`,
    /// `sqrt(|a|)`, `fma(a, b, c)`, the f16 bits of `a`, the f32 of the f16 bits in `c`'s low
    /// half, and `((a² as f64 + b² as f64) / n) as f32` with `n` = `c`'s bits (below 2^24, 0
    /// read as 1). Only for testing them against the host.
    #[doc(hidden)]
    pub fn exact_ops(&self, a: &[f32], b: &[f32], c: &[f32]) -> Result<Vec<[u32; 6]>> {
        if b.len() != a.len() || c.len() != a.len() {
            return Err(GpuError::Shape("exact_ops: inputs differ in length".into()));
        }
        let mut out = vec![0f32; 6 * a.len()];
        let p = [a.len() as u32, 0, 0, 0];
        let groups = a.len().div_ceil(WG);
        self.run_simple(
            "exact_ops",
            kernels::EXACT_OPS,
            &[a, b, c],
            &p,
            groups,
            &mut out,
        )?;
        Ok(out
            .chunks_exact(6)
            .map(|w| std::array::from_fn(|i| w[i].to_bits()))
            .collect())
    }

    /// Rows `tokens` of the token matrix `w`, dequantized into `out` (`tokens.len() × w.cols`).
    pub fn embed(&self, w: &MatRef<'_>, tokens: &[u32], out: &mut [f32]) -> Result<()> {
        let (name, source) = kernels::embed(w.ty).ok_or_else(|| GpuError::Unsupported {
            name: w.name.to_string(),
            ty: w.ty,
        })?;
        if out.len() != tokens.len() * w.cols {
            return Err(GpuError::Shape("embed: output is not tokens × cols".into()));
        }
        if let Some(&bad) = tokens.iter().find(|&&t| t as usize >= w.rows) {
            return Err(GpuError::Shape(format!(
                "embed: token {bad} >= {} rows",
                w.rows
            )));
        }
        if tokens.is_empty() {
            return Ok(());
        }
        if tokens.len() > 65535 || w.cols.div_ceil(WG) > 65535 {
            return Err(GpuError::Shape("embed: too many tokens or columns".into()));
        }
        self.gpu.check()?;
        let mut guard = self.state();
        let st = &mut *guard;
        let gpu = &self.gpu;
        let m = st.weights.get_or_upload(gpu, w)?;
        let pipe = st.pipelines.get(gpu, name, || source)?;
        use wgpu::BufferUsages as U;
        let tb: Vec<u8> = tokens.iter().flat_map(|t| t.to_le_bytes()).collect();
        let tbuf = st
            .pool
            .take(&gpu.device, U::STORAGE | U::COPY_DST, tb.len() as u64);
        gpu.queue.write_buffer(&tbuf, 0, &tb);
        let out_len = (out.len() * 4) as u64;
        let ob = st.pool.take(&gpu.device, U::STORAGE | U::COPY_SRC, out_len);
        let staging = st
            .pool
            .take(&gpu.device, U::MAP_READ | U::COPY_DST, out_len);
        let slot = (gpu.limits().min_uniform_buffer_offset_alignment as usize).max(256);
        let mut params = vec![0u8; slot * m.parts.len()];
        let ub = st
            .pool
            .take(&gpu.device, U::UNIFORM | U::COPY_DST, params.len() as u64);
        let mut enc = gpu.device.create_command_encoder(&Default::default());
        {
            let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("chord-gpu embed"),
                timestamp_writes: None,
            });
            for (i, part) in m.parts.iter().enumerate() {
                let p = [
                    w.cols as u32,
                    tokens.len() as u32,
                    part.row0 as u32,
                    part.rows as u32,
                    m.row_bytes as u32,
                    0,
                    0,
                    0,
                ];
                for (d, b) in params[i * slot..i * slot + 32].iter_mut().zip(words(&p)) {
                    *d = b;
                }
                let bg = gpu.device.create_bind_group(&wgpu::BindGroupDescriptor {
                    label: None,
                    layout: &pipe.get_bind_group_layout(0),
                    entries: &[
                        wgpu::BindGroupEntry {
                            binding: 0,
                            resource: part.buf.as_entire_binding(),
                        },
                        wgpu::BindGroupEntry {
                            binding: 1,
                            resource: tbuf.as_entire_binding(),
                        },
                        wgpu::BindGroupEntry {
                            binding: 2,
                            resource: ob.as_entire_binding(),
                        },
                        wgpu::BindGroupEntry {
                            binding: 3,
                            resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                                buffer: &ub,
                                offset: (i * slot) as u64,
                                size: wgpu::BufferSize::new(32),
                            }),
                        },
                    ],
                });
                pass.set_pipeline(&pipe);
                pass.set_bind_group(0, &bg, &[]);
                pass.dispatch_workgroups(w.cols.div_ceil(WG) as u32, tokens.len() as u32, 1);
            }
        }
        gpu.queue.write_buffer(&ub, 0, &params);
        let mut host = vec![0u8; out_len as usize];
        gpu.submit_and_read(enc, &[(&ob, out_len)], &staging, &mut host)?;
        read_f32(&host, out);
        for b in [tbuf, ob, staging, ub] {
            st.pool.give(b);
        }
        Ok(())
    }
}
