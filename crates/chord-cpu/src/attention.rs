//! Attention on the CPU: flash-attention style. Each (query token, head) pair walks its visible
//! keys in tiles of [`TILE`], keeping a running max, a running softmax denominator and a running
//! weighted sum of values (online softmax), so no score row or matrix is ever materialised and
//! memory stays flat however long the context. Pairs are dealt out to the pool's threads.
//! Keys and values are read in the cache's own type (F16 converted in registers).

use crate::pool::{SharedOut, ThreadPool};
use crate::simd;
use chord_model::math::expf;
use chord_model::{AttentionArgs, AttentionShape, KvSlice, ModelError, Result};
use chord_quant::Isa;
use half::f16;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Keys scored per tile.
const TILE: usize = 64;
/// Largest head size handled (the accumulator lives on the stack).
pub(crate) const MAX_HEAD_DIM: usize = 512;

/// Output rows: each (token, head) row is written by the one thread that took that pair.
type OutPtr = SharedOut<f32>;

/// Cache rows of one type.
trait Rows: Sync {
    fn dot(&self, fast: bool, q: &[f32], at: usize, n: usize) -> f32;
    fn axpy(&self, fast: bool, acc: &mut [f32], p: f32, at: usize, n: usize);
}
impl Rows for [f32] {
    #[inline]
    fn dot(&self, fast: bool, q: &[f32], at: usize, n: usize) -> f32 {
        simd::dot_f32(fast, q, &self[at..at + n])
    }
    #[inline]
    fn axpy(&self, fast: bool, acc: &mut [f32], p: f32, at: usize, n: usize) {
        simd::axpy_f32(fast, acc, p, &self[at..at + n])
    }
}
impl Rows for [f16] {
    #[inline]
    fn dot(&self, fast: bool, q: &[f32], at: usize, n: usize) -> f32 {
        simd::dot_f16(fast, q, &self[at..at + n])
    }
    #[inline]
    fn axpy(&self, fast: bool, acc: &mut [f32], p: f32, at: usize, n: usize) {
        simd::axpy_f16(fast, acc, p, &self[at..at + n])
    }
}

/// Per-thread buffers of the blocked F16 kernel (none elsewhere).
#[cfg(target_arch = "x86_64")]
pub(crate) use crate::attention_f16::Scratches;
#[cfg(not(target_arch = "x86_64"))]
pub(crate) struct Scratches;
#[cfg(not(target_arch = "x86_64"))]
impl Scratches {
    pub(crate) fn new(_: usize) -> Self {
        Scratches
    }
}

/// Multiply-adds (query rows × keys × head size) from which one attention call is spread over
/// the pool. A decode token's call (a few hundred keys) takes tens of microseconds on one
/// thread, less than a dispatch costs when other processes share the cores (a joined worker
/// that the OS preempts holds the caller up for a time slice): measured on Qwen2.5 0.5B at 2
/// threads and load ~4, attention went from 3.5 to 0.4 ms per decode step (24 calls) and from
/// 19 to 3 ms per batch-8 step (192 calls, one per sequence and layer). Which thread computes
/// a head does not change its bits.
pub(crate) const PARALLEL_MIN: usize = 256 * 1024;

pub(crate) fn attention(
    pool: &ThreadPool,
    scratch: &Scratches,
    isa: Isa,
    a: AttentionArgs<'_>,
) -> Result<()> {
    #[cfg(not(target_arch = "x86_64"))]
    let _ = scratch;
    let fast = matches!(isa, Isa::Avx2 | Isa::Avx512Emu | Isa::Avx512);
    let hd = a.head_dim;
    if hd > MAX_HEAD_DIM || a.n_head_kv == 0 || !a.n_head.is_multiple_of(a.n_head_kv) {
        return Err(ModelError::Backend(format!(
            "attention: unsupported shape (head_dim {hd}, {} heads, {} kv heads)",
            a.n_head, a.n_head_kv
        )));
    }
    let kv_stride = a.n_head_kv * hd;
    let needed = (a.pos0 + a.n_tokens) * kv_stride;
    let q_needed = a.n_tokens * a.n_head * hd;
    if a.q.len() < q_needed || a.out.len() < q_needed {
        return Err(ModelError::Backend("attention: buffer sizes".into()));
    }
    let shape = a.shape();
    match (a.k, a.v) {
        (KvSlice::F32(k), KvSlice::F32(v)) if k.len() >= needed && v.len() >= needed => {
            // An F32 cache on x86 runs in llama.cpp's exact arithmetic (see attention_ggml).
            #[cfg(target_arch = "x86_64")]
            {
                use crate::attention_ggml::{run as run_ggml, Lanes};
                let lanes = match isa {
                    Isa::Avx512 => Some(Lanes::W16),
                    Isa::Avx512Emu => Some(Lanes::W16Emu),
                    Isa::Avx2 => Some(Lanes::W8),
                    _ => None,
                };
                if let Some(lanes) = lanes {
                    run_ggml(pool, lanes, &shape, a.q, k, v, OutPtr::new(a.out));
                    return Ok(());
                }
            }
            run(pool, fast, &shape, a.q, k, v, OutPtr::new(a.out));
        }
        (KvSlice::F16(k), KvSlice::F16(v)) if k.len() >= needed && v.len() >= needed => {
            // The x86 flavours (all with AVX2, FMA and F16C) take the blocked kernel.
            #[cfg(target_arch = "x86_64")]
            if fast && crate::attention_f16::supports(hd) {
                crate::attention_f16::run(pool, scratch, &shape, a.q, k, v, OutPtr::new(a.out));
                return Ok(());
            }
            run(pool, fast, &shape, a.q, k, v, OutPtr::new(a.out));
        }
        _ => {
            return Err(ModelError::Backend(
                "attention: cache too short or mixed types".into(),
            ))
        }
    }
    Ok(())
}

fn run<R: Rows + ?Sized>(
    pool: &ThreadPool,
    fast: bool,
    p: &AttentionShape,
    q: &[f32],
    k: &R,
    v: &R,
    out: OutPtr,
) {
    let n_items = p.n_tokens * p.n_head;
    let next = AtomicUsize::new(0);
    let work = |_: usize, _: usize| loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        if i >= n_items {
            break;
        }
        let hd = p.head_dim;
        // SAFETY: item i owns output row i (token i / n_head, head i % n_head), in bounds (checked by the caller).
        let o = unsafe { std::slice::from_raw_parts_mut(out.get().add(i * hd), hd) };
        one_head(p, fast, &q[i * hd..(i + 1) * hd], k, v, i, o);
    };
    let keys = p.pos0 + p.n_tokens;
    if pool.n_threads() == 1 || n_items * keys * p.head_dim < PARALLEL_MIN {
        work(0, 1);
    } else {
        pool.run(&work);
    }
}

/// One query row (`item` = token · n_head + head) against its visible keys, online softmax
/// over tiles.
fn one_head<R: Rows + ?Sized>(
    p: &AttentionShape,
    fast: bool,
    q: &[f32],
    k: &R,
    v: &R,
    item: usize,
    out: &mut [f32],
) {
    let (t, h) = (item / p.n_head, item % p.n_head);
    let hd = p.head_dim;
    let g = h / (p.n_head / p.n_head_kv);
    let kv_stride = p.n_head_kv * hd;
    let pos = p.pos0 + t;
    let first = if p.window > 0 {
        (pos + 1).saturating_sub(p.window)
    } else {
        0
    };
    let mut acc_buf = [0f32; MAX_HEAD_DIM];
    let acc = &mut acc_buf[..hd];
    let mut scores = [0f32; TILE];
    let mut m = f32::NEG_INFINITY;
    let mut l = 0f64;
    let mut j0 = first;
    while j0 <= pos {
        let j1 = (j0 + TILE).min(pos + 1);
        let s = &mut scores[..j1 - j0];
        let mut mt = f32::NEG_INFINITY;
        for (j, sj) in (j0..j1).zip(s.iter_mut()) {
            *sj = k.dot(fast, q, j * kv_stride + g * hd, hd) * p.scale;
            mt = mt.max(*sj);
        }
        if mt > m {
            // Rescale what was accumulated under the old max.
            let c = expf(m - mt);
            if l > 0.0 {
                acc.iter_mut().for_each(|x| *x *= c);
                l *= c as f64;
            }
            m = mt;
        }
        for (j, &sj) in (j0..j1).zip(s.iter()) {
            let e = expf(sj - m);
            l += e as f64;
            v.axpy(fast, acc, e, j * kv_stride + g * hd, hd);
        }
        j0 = j1;
    }
    let inv = if l > 0.0 { (1.0 / l) as f32 } else { 0.0 };
    for (o, &x) in out.iter_mut().zip(acc.iter()) {
        *o = x * inv;
    }
}
