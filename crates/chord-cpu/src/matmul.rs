//! Quantized matrix products on the CPU: activations quantized once per input (shared by all
//! the matrices that read it, e.g. Q/K/V), then rows of weights dealt out to the pool's threads
//! in chunks from an atomic counter (a thread slowed by the OS takes fewer chunks).
//!
//! Decode (one token): each chunk is a run of weight rows, each row streamed once.
//! Prefill (many tokens): each chunk is a tile of weight rows; within it, tokens are the outer
//! loop and the tile's rows the inner one, so the tile (a few KiB) stays in L1 while every
//! token's activation row passes over it.

use crate::pool::{SharedOut, ThreadPool};
use chord_model::{Backend, MatRef, ModelError, Result};
use chord_quant::{
    Isa, TileKernels, VecDot4Fn, VecDotFn, VecDotKernel, VecDotRows2Fn, VecDotRows2x4Fn,
    VecDotRows8Fn,
};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// CPU backend: a persistent thread pool and a reusable buffer for quantized activations.
pub struct CpuBackend {
    pool: ThreadPool,
    act: Mutex<Vec<u8>>,
    /// Attention's per-thread buffers, grown by the calling thread before a job.
    attn: crate::attention::Scratches,
    isa: Isa,
}

impl CpuBackend {
    /// `n_threads` = 0 picks the number of available cores. On wasm32 without the `atomics`
    /// target feature there are no threads to spawn: always one, whatever is asked.
    pub fn new(n_threads: usize) -> Self {
        let n = if cfg!(all(target_arch = "wasm32", not(target_feature = "atomics"))) {
            1
        } else if n_threads == 0 {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        } else {
            n_threads
        };
        Self {
            pool: ThreadPool::new(n),
            act: Mutex::new(Vec::new()),
            attn: crate::attention::Scratches::new(n),
            isa: chord_quant::selected_isa(),
        }
    }

    /// A backend whose matrix products use kernel flavour `isa` rather than the process-wide
    /// choice (to test or compare every path in one process); an error if the CPU lacks it.
    pub fn with_isa(n_threads: usize, isa: Isa) -> Result<Self> {
        if !isa.is_available() {
            return Err(ModelError::Backend(format!(
                "ISA {} is not available on this CPU",
                isa.name()
            )));
        }
        Ok(Self {
            isa,
            ..Self::new(n_threads)
        })
    }

    /// The kernel flavour of the matrix products.
    pub fn isa(&self) -> Isa {
        self.isa
    }
    pub fn n_threads(&self) -> usize {
        self.pool.n_threads()
    }
}

/// Output of one matmul: each (token, row) element is written by exactly one thread (row chunks
/// are handed out once).
type OutPtr = SharedOut<f32>;

/// One matrix of a (multi-)matmul, checked and ready.
#[derive(Clone, Copy)]
struct Job<'a> {
    w: MatRef<'a>,
    dot: VecDotFn,
    /// Four tokens in any grouping (bit-identical to `dot` per token).
    dot4: Option<VecDot4Fn>,
    /// Four consecutive tokens of one sequence (llama.cpp's ubatch gemm order).
    dot4g: Option<VecDot4Fn>,
    /// Any tokens of a sequence with at least TILED_MIN_ROWS rows (llama.cpp's tiled order).
    dot4t: Option<VecDot4Fn>,
    /// Two rows against one token (per row bit-identical to `dot`; SIMD128 only so far).
    dot2: Option<VecDotRows2Fn>,
    /// Eight rows at once in `dot4g`'s / `dot4t`'s order (x86 Q4_K / Q6_K).
    rows8g: Option<VecDotRows8Fn>,
    rows8t: Option<VecDotRows8Fn>,
    /// Two rows against four tokens (per output bit-identical to `dot4` and `dot4g`; x86
    /// Q5_0/Q8_0): each token's block is loaded once for both rows.
    dot2x4: Option<VecDotRows2x4Fn>,
    /// Kernels over rows unpacked once per tile (x86 Q5_0), bit-identical to `dot2x4`.
    tile: Option<TileKernels>,
    w_row: usize,
    out: OutPtr,
}

/// Most matrices one `matmul_multi` dispatch takes (Q/K/V is three); more are run one by one.
const MAX_MULTI: usize = 4;

/// Tile height for prefill: rows whose weights stay in L1 while all tokens pass.
const TILE_ROWS: usize = 16;

/// Tokens per call of an eight-row kernel (its results go through a stack buffer this long).
const ROWS8_TOKENS: usize = 32;

impl CpuBackend {
    fn check<'a>(
        &self,
        w: MatRef<'a>,
        x_len: usize,
        n_tokens: usize,
        y: &mut [f32],
    ) -> Result<(VecDotKernel, Job<'a>, usize)> {
        let qerr =
            |e: chord_quant::QuantError| ModelError::Backend(format!("matmul {}: {e}", w.name));
        if x_len < n_tokens * w.cols || y.len() < n_tokens * w.rows {
            return Err(ModelError::Backend(format!(
                "matmul {}: buffer sizes do not match the shape",
                w.name
            )));
        }
        let kernel = VecDotKernel::with_isa(w.ty, self.isa).map_err(qerr)?;
        let (w_row, a_row) = kernel.row_bytes(w.cols).map_err(qerr)?;
        if w.data.len() != w_row * w.rows {
            return Err(ModelError::Backend(format!(
                "matmul {}: {} bytes for {} rows of {w_row}",
                w.name,
                w.data.len(),
                w.rows
            )));
        }
        trace_dispatch(&w, n_tokens, kernel.name);
        let job = Job {
            w,
            dot: kernel.func(),
            dot4: kernel.func4(),
            dot4g: kernel.func4_grouped(),
            dot4t: kernel.func4_tiled(),
            dot2: chord_quant::vec_dot_rows2(w.ty, self.isa),
            rows8g: kernel.rows8_grouped(),
            rows8t: kernel.rows8_tiled(),
            dot2x4: chord_quant::vec_dot_rows2x4(w.ty, self.isa),
            tile: chord_quant::tile_kernels(w.ty, self.isa),
            w_row,
            out: OutPtr::new(y),
        };
        Ok((kernel, job, a_row))
    }
}

fn trace_dispatch(w: &MatRef<'_>, n_tokens: usize, kernel: &str) {
    tracing::trace!(target: "chord_cpu", weight = w.name, ty = %w.ty, rows = w.rows, cols = w.cols, n_tokens, kernel, "matmul");
    if crate::trace::enabled() {
        crate::trace::line(w, n_tokens, kernel);
    }
}

impl Backend for CpuBackend {
    fn name(&self) -> String {
        format!("cpu ({} threads, {})", self.n_threads(), self.isa.name())
    }

    fn matmul(&self, w: MatRef<'_>, x: &[f32], n_tokens: usize, y: &mut [f32]) -> Result<()> {
        self.matmul_multi(&[w], x, n_tokens, &mut [y])
    }

    fn swiglu(&self, gate: &mut [f32], up: &[f32]) {
        crate::simd::swiglu(self.isa, gate, up)
    }

    fn attention(&self, a: chord_model::AttentionArgs<'_>) -> Result<()> {
        crate::attention::attention(&self.pool, &self.attn, self.isa, a)
    }

    fn matmul_multi(
        &self,
        ws: &[MatRef<'_>],
        x: &[f32],
        n_tokens: usize,
        ys: &mut [&mut [f32]],
    ) -> Result<()> {
        self.matmul_multi_grouped(ws, x, &[n_tokens], ys)
    }

    fn matmul_multi_grouped(
        &self,
        ws: &[MatRef<'_>],
        x: &[f32],
        groups: &[usize],
        ys: &mut [&mut [f32]],
    ) -> Result<()> {
        let n_tokens: usize = groups.iter().sum();
        if ws.len() != ys.len() || ws.is_empty() {
            return Err(ModelError::Backend(
                "matmul: as many outputs as matrices needed".into(),
            ));
        }
        let cols = ws[0].cols;
        // One quantized input serves all matrices only if they read it the same way.
        let same_input = ws.iter().all(|w| {
            w.cols == cols
                && chord_quant::vec_dot_type(w.ty).ok() == chord_quant::vec_dot_type(ws[0].ty).ok()
        });
        if !same_input || ws.len() > MAX_MULTI {
            for (w, y) in ws.iter().zip(ys.iter_mut()) {
                self.matmul_multi_grouped(
                    std::slice::from_ref(w),
                    x,
                    groups,
                    std::slice::from_mut(y),
                )?;
            }
            return Ok(());
        }
        // A fixed array, not a Vec: this runs for every matmul of every token.
        let mut slots: [Option<Job>; MAX_MULTI] = [None; MAX_MULTI];
        let mut act_ty = None;
        let mut a_row = 0;
        for ((w, y), slot) in ws.iter().zip(ys.iter_mut()).zip(slots.iter_mut()) {
            let (kernel, job, ar) = self.check(*w, x.len(), n_tokens, y)?;
            act_ty = Some(kernel.act_ty);
            a_row = ar;
            *slot = Some(job);
        }
        let jobs = &slots[..ws.len()];
        let Some(act_ty) = act_ty else {
            return Ok(());
        };

        // Each row is followed by the side data some kernels read (Q8_0 rows: scales as f32,
        // pair sums), made once here rather than once per weight row inside them.
        let a_stride = a_row + chord_quant::act_extra_bytes(act_ty, cols);
        let mut act = self.act.lock().unwrap_or_else(|p| p.into_inner());
        if act.len() < n_tokens * a_stride {
            act.resize(n_tokens * a_stride, 0);
        }
        quantize_rows(
            &self.pool,
            act_ty,
            &x[..n_tokens * cols],
            cols,
            &mut act[..n_tokens * a_stride],
            a_row,
            a_stride,
        )?;
        let act = &act[..n_tokens * a_stride];

        // Chunks of the concatenated row space of all matrices.
        let total_rows: usize = jobs.iter().flatten().map(|j| j.w.rows).sum();
        let n_threads = self.n_threads();
        let chunk = if n_tokens == 1 {
            (total_rows / (n_threads * 8)).clamp(16, 512)
        } else {
            TILE_ROWS
        };
        let n_chunks = total_rows.div_ceil(chunk);
        let next = AtomicUsize::new(0);
        let work = |_: usize, _: usize| loop {
            let c = next.fetch_add(1, Ordering::Relaxed);
            if c >= n_chunks {
                break;
            }
            let (mut r0, r1) = (c * chunk, ((c + 1) * chunk).min(total_rows));
            // Map the global range onto the matrices it spans.
            let mut base = 0;
            for j in jobs.iter().flatten() {
                let (lo, hi) = (base, base + j.w.rows);
                base = hi;
                if r0 >= hi || r0 >= r1 {
                    continue;
                }
                let end = r1.min(hi);
                run_rows_unpacked(j, r0 - lo, end - lo, groups, act, a_stride);
                r0 = end;
            }
        };
        if n_chunks == 1 || total_rows * cols * n_tokens < 32 * 1024 {
            work(0, 1);
        } else {
            self.pool.run(&work);
        }
        Ok(())
    }
}

/// Tokens from which a tile's rows are unpacked once for all its token quads (two quads: below,
/// unpacking costs about what it saves).
const UNPACK_MIN_TOKENS: usize = 8;

/// The stack buffer rows are unpacked into: a 16-row tile of 640-column Q5_0 rows takes 11.5
/// KiB; longer rows go in sub-tiles of as many rows as fit. On the stack so that the token loop
/// never allocates (a thread-local buffer would grow whenever a worker first meets a wider
/// matrix, possibly in a decode step).
const TILE_BYTES: usize = 32 * 1024;

/// [`run_rows`], with the rows unpacked first where the weight type has tile kernels and the
/// batch is big enough.
fn run_rows_unpacked(
    j: &Job<'_>,
    r0: usize,
    r1: usize,
    groups: &[usize],
    act: &[u8],
    a_stride: usize,
) {
    let n_tokens: usize = groups.iter().sum();
    let Some(tk) = j.tile.filter(|_| n_tokens >= UNPACK_MIN_TOKENS) else {
        return run_rows(j, r0, r1, groups, act, a_stride, None);
    };
    let ub = (tk.row_bytes)(j.w.cols);
    // Whole row pairs per sub-tile.
    let fit = TILE_BYTES / ub.max(1) / 2 * 2;
    if fit == 0 {
        return run_rows(j, r0, r1, groups, act, a_stride, None);
    }
    let mut buf = [0u8; TILE_BYTES];
    let mut r = r0;
    while r < r1 {
        let e = (r + fit).min(r1);
        for (row, out) in (r..e).zip(buf.chunks_exact_mut(ub)) {
            (tk.unpack)(j.w.cols, &j.w.data[row * j.w_row..(row + 1) * j.w_row], out);
        }
        run_rows(
            j,
            r,
            e,
            groups,
            act,
            a_stride,
            Some((tk, &buf[..(e - r) * ub], ub)),
        );
        r = e;
    }
}

/// Rows `r0..r1` unpacked by a tile kernel: the kernels, the rows, and the bytes of one.
type Unpacked<'b> = (TileKernels, &'b [u8], usize);

/// Rows `r0..r1` of one matrix against every token, reproducing which kernel order llama.cpp's
/// x86 build gives each token (`groups`: tokens per sequence, in order; each is one ubatch):
/// a sequence of at least TILED_MIN_ROWS tokens takes the tiled order where the weight type
/// has one; otherwise whole groups of four tokens of one sequence take the grouped kernel, as
/// llama.cpp's repacked gemm takes each ubatch's quads; the rest are pooled across sequences
/// four at a time into the kernel that is bit-identical to the one-token one, then one by one.
/// Where an eight-row kernel computes the tiled or grouped order, it takes the rows in eights
/// (same bits) and the four-token kernel only the rows left over; where a two-row kernel
/// reproduces the four-token one, it takes the rows in pairs, from `unpacked` rows if given.
fn run_rows(
    j: &Job<'_>,
    r0: usize,
    r1: usize,
    groups: &[usize],
    act: &[u8],
    a_stride: usize,
    unpacked: Option<Unpacked<'_>>,
) {
    let (w, w_row, out) = (&j.w, j.w_row, j.out);
    let a = |t: usize| &act[t * a_stride..(t + 1) * a_stride];
    // `pairs`: whether `f` is the kernel the two-row and tile kernels reproduce (same bits);
    // `rs`: the first row not already taken by an eight-row kernel.
    let quad = |f: VecDot4Fn, pairs: bool, ts: [usize; 4], rs: usize| {
        let acts = ts.map(a);
        let mut r = rs;
        if let (Some((tk, buf, ub)), true) = (unpacked, pairs) {
            // The buffer starts at this call's first row.
            let urow = |r: usize| &buf[(r - r0) * ub..(r - r0 + 1) * ub];
            while r < r1 {
                // An odd last row goes with itself.
                let v = (tk.dot2x4)(w.cols, [urow(r), urow((r + 1).min(r1 - 1))], acts);
                for (rr, vr) in (r..r1.min(r + 2)).zip(&v) {
                    for (&t, &vk) in ts.iter().zip(vr) {
                        // SAFETY: as below.
                        unsafe { *out.get().add(t * w.rows + rr) = vk };
                    }
                }
                r += 2;
            }
            return;
        }
        if let (Some(f2), true) = (j.dot2x4, pairs) {
            let row = |r: usize| &w.data[r * w_row..(r + 1) * w_row];
            while r + 2 <= r1 {
                let v = f2(w.cols, [row(r), row(r + 1)], acts);
                for (rr, vr) in (r..).zip(&v) {
                    for (&t, &vk) in ts.iter().zip(vr) {
                        // SAFETY: as below.
                        unsafe { *out.get().add(t * w.rows + rr) = vk };
                    }
                }
                r += 2;
            }
        }
        for r in r..r1 {
            let v = f(w.cols, &w.data[r * w_row..(r + 1) * w_row], acts);
            for (&t, &vk) in ts.iter().zip(&v) {
                // SAFETY: as below.
                unsafe { *out.get().add(t * w.rows + r) = vk };
            }
        }
    };
    let single = |t: usize| {
        let at = a(t);
        let mut r0 = r0;
        if let Some(f) = j.dot2 {
            let row = |r: usize| &w.data[r * w_row..(r + 1) * w_row];
            while r0 + 2 <= r1 {
                let v = f(w.cols, [row(r0), row(r0 + 1)], at);
                for (r, vk) in (r0..).zip(v) {
                    // SAFETY: as below.
                    unsafe { *out.get().add(t * w.rows + r) = vk };
                }
                r0 += 2;
            }
        }
        for r in r0..r1 {
            let v = (j.dot)(w.cols, &w.data[r * w_row..(r + 1) * w_row], at);
            // SAFETY: r < rows and t < n_tokens, checked against the output's length in
            // `check`; each (t, r) belongs to one chunk, handed to one thread.
            unsafe { *out.get().add(t * w.rows + r) = v };
        }
    };
    // Tokens t0..t1 over rows r0.. in eights; returns the first row left for other kernels.
    let rows8 = |f8: Option<VecDotRows8Fn>, t0: usize, t1: usize| {
        let Some(f8) = f8 else { return r0 };
        let mut buf = [[0f32; 8]; ROWS8_TOKENS];
        let mut r = r0;
        while r + 8 <= r1 {
            let w8 = &w.data[r * w_row..(r + 8) * w_row];
            let mut t = t0;
            while t < t1 {
                let te = (t + ROWS8_TOKENS).min(t1);
                let res = &mut buf[..te - t];
                f8(
                    w.cols,
                    w8,
                    w_row,
                    &act[t * a_stride..te * a_stride],
                    a_stride,
                    res,
                );
                for (tt, v) in (t..).zip(res.iter()) {
                    // SAFETY: as above; rows r..r + 8 lie in this chunk (r + 8 <= r1).
                    let o = unsafe { out.get().add(tt * w.rows + r) };
                    for (k, &vk) in v.iter().enumerate() {
                        // SAFETY: as above.
                        unsafe { *o.add(k) = vk };
                    }
                }
                t = te;
            }
            r += 8;
        }
        r
    };
    let mut pending = [0usize; 4];
    let mut n_pending = 0;
    let mut t = 0;
    for &len in groups {
        let end = t + len;
        if let (Some(f), true) = (j.dot4t, len >= chord_quant::TILED_MIN_ROWS) {
            // llama.cpp's tiled matmul takes every row of such a ubatch, the tail included
            // (a lone token goes through the four-token kernel with its row repeated).
            let rest = rows8(j.rows8t, t, end);
            while t + 4 <= end {
                quad(f, false, [t, t + 1, t + 2, t + 3], rest);
                t += 4;
            }
            while t < end {
                let at = a(t);
                for r in rest..r1 {
                    let v = f(w.cols, &w.data[r * w_row..(r + 1) * w_row], [at; 4])[0];
                    // SAFETY: as below.
                    unsafe { *out.get().add(t * w.rows + r) = v };
                }
                t += 1;
            }
            continue;
        }
        if let Some(f) = j.dot4g {
            let quads_end = t + (end - t) / 4 * 4;
            if quads_end > t {
                let rest = rows8(j.rows8g, t, quads_end);
                while t < quads_end {
                    quad(f, true, [t, t + 1, t + 2, t + 3], rest);
                    t += 4;
                }
            }
        }
        while t < end {
            pending[n_pending] = t;
            n_pending += 1;
            t += 1;
            if n_pending == 4 {
                match j.dot4 {
                    Some(f) => quad(f, true, pending, r0),
                    None => pending.iter().for_each(|&p| single(p)),
                }
                n_pending = 0;
            }
        }
    }
    pending[..n_pending].iter().for_each(|&p| single(p));
}

/// Input elements from which activations are quantized on the pool (64 rows of 1024).
const QUANTIZE_PARALLEL_MIN: usize = 64 * 1024;

/// Quantizes `n` rows of `cols` floats into rows of `a_row` bytes every `a_stride` bytes, each
/// followed by its side data for the four-token kernels when the stride leaves room for it
/// (`chord_quant::act_extra_bytes`), in parallel for big batches.
fn quantize_rows(
    pool: &ThreadPool,
    act_ty: chord_gguf::GgmlType,
    x: &[f32],
    cols: usize,
    act: &mut [u8],
    a_row: usize,
    a_stride: usize,
) -> Result<()> {
    let n = x.len() / cols;
    let qerr =
        |e: chord_quant::QuantError| ModelError::Backend(format!("quantize activations: {e}"));
    let one = |xr: &[f32], ar: &mut [u8]| {
        let (row, extra) = ar.split_at_mut(a_row);
        chord_quant::quantize_activation(act_ty, xr, row)?;
        if !extra.is_empty() {
            chord_quant::fill_act_extra(act_ty, cols, row, extra)?;
        }
        Ok(())
    };
    // A batched decode step quantizes a few rows per matmul (microseconds of work): a pool
    // dispatch costs more than that on a busy machine, so small inputs stay on this thread.
    if n < 4 || n * cols < QUANTIZE_PARALLEL_MIN || pool.n_threads() == 1 {
        for (xr, ar) in x.chunks_exact(cols).zip(act.chunks_exact_mut(a_stride)) {
            one(xr, ar).map_err(qerr)?;
        }
        return Ok(());
    }
    let out = SharedOut::new(act);
    let failed = Mutex::new(None);
    let next = AtomicUsize::new(0);
    pool.run(&|_, _| loop {
        let t = next.fetch_add(1, Ordering::Relaxed);
        if t >= n {
            break;
        }
        {
            // SAFETY: token rows are disjoint between threads and inside `act`.
            let ar =
                unsafe { std::slice::from_raw_parts_mut(out.get().add(t * a_stride), a_stride) };
            if let Err(e) = one(&x[t * cols..(t + 1) * cols], ar) {
                *failed.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
            }
        }
    });
    match failed.into_inner().unwrap_or_else(|p| p.into_inner()) {
        Some(e) => Err(qerr(e)),
        None => Ok(()),
    }
}
