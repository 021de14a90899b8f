//! Attention over an F32 KV cache in llama.cpp's own arithmetic, for the x86 flavours.
//!
//! With flash attention off and an F32 cache (the settings llama.cpp's reference outputs were
//! made with, and what `--kv-type f32` asks for), ggml-cpu computes attention as three ops:
//! `KQ = mul_mat(K, Q)`, `soft_max_ext`, `KQV = mul_mat(V, KQ)`. Each float result depends on
//! the order its sums are taken in, and one different last bit upstream of an 8-bit activation
//! quantization is enough to flip a quant and move the logits by ~1e-3 per layer. So this file
//! reproduces ggml's order exactly, per ISA build of ggml (16-lane AVX-512 or 8-lane AVX2):
//! - Q·K: `ggml_vec_dot_f32` (Q is a permuted, non-contiguous view, so llamafile's sgemm is
//!   skipped even for a batch): 4 vector accumulators over 4·W-element steps, FMA, reduced
//!   `x0+x2, x1+x3`, then `x0+x1`, then across lanes; a tail of fewer than 4·W elements is
//!   added one rounded product at a time.
//! - softmax: scores × scale, max, then per W-wide group `ggml_v_expf(s - max)` and the group's
//!   lane sum added into an f64 total; probabilities × (f32)(1/total). llama.cpp pads the cache
//!   view to a multiple of 256 cells with masked entries, so every group is whole and masked
//!   lanes are exact zeros.
//! - P·V: one token: `ggml_vec_dot_f32` over the padded cells (element `j` lands in lane
//!   `j mod 4W`); a batch of tokens: llamafile's tinyBLAS (element `j` in lane `j mod W`, one FMA
//!   chain per lane, then `hsum`). Masked cells carry probability 0 and add exactly nothing, so
//!   only visible cells are visited.
//!
//! The lane code is plain Rust on arrays, compiled inside `target_feature` functions so
//! `mul_add` is one FMA instruction (and the lane loops vectorise); float operations are never
//! reordered by the compiler, so the results are bit-identical to ggml's intrinsics.

use crate::pool::{SharedOut, ThreadPool};
use chord_model::AttentionShape;
use std::cell::RefCell;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Which ggml-cpu x86 build to reproduce.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Lanes {
    /// `__AVX512F__`: 16-lane vectors.
    W16,
    /// `__AVX512F__`'s arithmetic with AVX2 instructions (the `avx512emu` flavour): the lane
    /// code is the same Rust, only `ggml_v_expf` needs an AVX2 rendering of `vscalefps`.
    W16Emu,
    /// `__AVX2__` + FMA: 8-lane vectors.
    W8,
}

thread_local! {
    /// Per-thread scratch: one row of scores/probabilities, and the lane accumulators of P·V.
    static SCRATCH: RefCell<(Vec<f32>, Vec<f32>)> = const { RefCell::new((Vec::new(), Vec::new())) };
}

/// Runs every (token, head) pair of the call on the pool. `k`/`v` hold at least
/// `pos0 + n_tokens` rows of `n_head_kv × head_dim` (checked by the caller).
pub(crate) fn run(
    pool: &ThreadPool,
    lanes: Lanes,
    p: &AttentionShape,
    q: &[f32],
    k: &[f32],
    v: &[f32],
    out: SharedOut<f32>,
) {
    let n_items = p.n_tokens * p.n_head;
    let next = AtomicUsize::new(0);
    let work = |_: usize, _: usize| {
        SCRATCH.with(|cell| {
            let mut bufs = cell.borrow_mut();
            let (scores, acc) = &mut *bufs;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n_items {
                    break;
                }
                let hd = p.head_dim;
                // SAFETY: item i owns output row i, in bounds (checked by the caller).
                let o = unsafe { std::slice::from_raw_parts_mut(out.get().add(i * hd), hd) };
                let qi = &q[i * hd..(i + 1) * hd];
                // SAFETY: the backend's ISA was checked available when it was chosen (W16 is
                // only used for Isa::Avx512, W16Emu and W8 for Isa::Avx512Emu and Isa::Avx2,
                // which imply AVX2 and FMA).
                unsafe {
                    match lanes {
                        Lanes::W16 => head_w16(p, qi, k, v, i, o, scores, acc),
                        Lanes::W16Emu => head_w16_emu(p, qi, k, v, i, o, scores, acc),
                        Lanes::W8 => head_w8(p, qi, k, v, i, o, scores, acc),
                    }
                }
            }
        })
    };
    let keys = p.pos0 + p.n_tokens;
    if pool.n_threads() == 1 || n_items * keys * p.head_dim < crate::attention::PARALLEL_MIN {
        work(0, 1);
    } else {
        pool.run(&work);
    }
}

/// One [`head`] instantiation per ggml build, compiled with that build's features so the lane
/// loops vectorise and `mul_add` is one FMA; `$exp` is that build's `ggml_v_expf` over W lanes.
macro_rules! head_fn {
    ($name:ident, $feat:literal, $w:literal, $s:literal, $exp:path) => {
        #[allow(clippy::too_many_arguments)]
        #[target_feature(enable = $feat)]
        unsafe fn $name(
            p: &AttentionShape,
            q: &[f32],
            k: &[f32],
            v: &[f32],
            item: usize,
            out: &mut [f32],
            scores: &mut Vec<f32>,
            acc: &mut Vec<f32>,
        ) {
            // SAFETY: `$exp` needs at most the features enabled in this function.
            let exp = |g: &mut [f32; $w]| unsafe { $exp(g) };
            head::<$w, $s>(p, q, k, v, item, out, scores, acc, exp);
        }
    };
}

head_fn!(
    head_w16,
    "avx512f,avx2,fma",
    16,
    64,
    crate::simd::x86::expf_16
);
head_fn!(
    head_w16_emu,
    "avx2,fma",
    16,
    64,
    crate::simd::x86::expf_16_emu
);
head_fn!(head_w8, "avx2,fma", 8, 32, crate::simd::x86::expf_8);

/// One query row (`item` = token · n_head + head). `W` is the vector width, `S` = 4·W the
/// step of `ggml_vec_dot_f32`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn head<const W: usize, const S: usize>(
    p: &AttentionShape,
    q: &[f32],
    k: &[f32],
    v: &[f32],
    item: usize,
    out: &mut [f32],
    scores: &mut Vec<f32>,
    acc: &mut Vec<f32>,
    exp: impl Fn(&mut [f32; W]),
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
    // Scores of the W-aligned groups covering the visible cells; masked lanes are -inf.
    let g0 = first / W * W;
    let g1 = (pos / W + 1) * W;
    if scores.len() < g1 - g0 {
        // Sized for the whole cache at once, so a decode does not reallocate at each new group.
        let cells = k.len() / kv_stride;
        scores.resize((g1 - g0).max(cells.div_ceil(W) * W), 0.0);
    }
    let row = &mut scores[..g1 - g0];
    row.fill(f32::NEG_INFINITY);
    let mut max = f32::NEG_INFINITY;
    for j in first..=pos {
        let kj = &k[j * kv_stride + g * hd..][..hd];
        let w = vec_dot::<W, S>(kj, q) * p.scale;
        row[j - g0] = w;
        max = max.max(w);
    }
    let mut sum = 0f64;
    for grp in row.chunks_exact_mut(W) {
        let grp: &mut [f32; W] = grp.try_into().expect("chunks of W");
        for x in grp.iter_mut() {
            *x -= max;
        }
        exp(grp);
        sum += hsum::<W>(grp) as f64;
    }
    let inv = (1.0 / sum) as f32;
    for x in row.iter_mut() {
        *x *= inv;
    }

    // P·V: lane accumulators, one row of `hd` per lane.
    let batched = p.n_tokens >= 2 && hd.is_multiple_of(4);
    let n_lanes = if batched { W } else { S };
    if acc.len() < n_lanes * hd {
        // Room for either lane count, so a thread that first ran a batch does not grow it again
        // when it first serves a single token.
        acc.resize(W.max(S) * hd, 0.0);
    }
    let acc = &mut acc[..n_lanes * hd];
    acc.fill(0.0);
    for j in first..=pos {
        let pj = row[j - g0];
        let vj = &v[j * kv_stride + g * hd..][..hd];
        let lane = &mut acc[(j % n_lanes) * hd..][..hd];
        for (a, &x) in lane.iter_mut().zip(vj) {
            *a = x.mul_add(pj, *a);
        }
    }
    for (d, o) in out.iter_mut().enumerate() {
        if batched {
            // tinyBLAS: one W-lane accumulator, `hsum` at the end.
            let lanes: [f32; W] = std::array::from_fn(|l| acc[l * hd + d]);
            *o = hsum::<W>(&lanes);
        } else {
            // ggml_vec_dot_f32: four W-lane accumulators, reduced pairwise then across lanes.
            let s: [[f32; W]; 4] =
                std::array::from_fn(|r| std::array::from_fn(|l| acc[(r * W + l) * hd + d]));
            *o = reduce_arr::<W>(s);
        }
    }
}

/// `ggml_vec_dot_f32` of one x86 build (see the module comment).
#[inline(always)]
fn vec_dot<const W: usize, const S: usize>(x: &[f32], y: &[f32]) -> f32 {
    let n = x.len().min(y.len());
    let np = n / S * S;
    let mut sum = [[0f32; W]; 4];
    let mut i = 0;
    while i < np {
        for (r, s) in sum.iter_mut().enumerate() {
            let (xs, ys) = (&x[i + r * W..][..W], &y[i + r * W..][..W]);
            for l in 0..W {
                s[l] = xs[l].mul_add(ys[l], s[l]);
            }
        }
        i += S;
    }
    let mut r = reduce_arr::<W>(sum);
    // The tail is `sumf += x[i]*y[i]` in float: a rounded product, then a rounded sum (ggml's
    // build does not contract it into an FMA; checked against llama.cpp's dumped KQ).
    for e in np..n {
        r += x[e] * y[e];
    }
    r
}

/// `GGML_F32_VEC_REDUCE` over ggml's four accumulators.
#[inline(always)]
fn reduce_arr<const W: usize>(s: [[f32; W]; 4]) -> f32 {
    let [s0, s1, s2, s3] = s;
    let x0: [f32; W] = std::array::from_fn(|l| s0[l] + s2[l]);
    let x1: [f32; W] = std::array::from_fn(|l| s1[l] + s3[l]);
    let a: &[f32; W] = &std::array::from_fn(|l| x0[l] + x1[l]);
    if W == 16 {
        reduce_add_16(a)
    } else {
        // AVX: (lo + hi), then two `hadd`s: (t0 + t1) + (t2 + t3).
        let t: [f32; 4] = std::array::from_fn(|i| a[i] + a[4 + i]);
        (t[0] + t[1]) + (t[2] + t[3])
    }
}

/// A lane sum as `_mm512_reduce_add_ps` (16 lanes) or the 8-lane `hsum` of tinyBLAS and
/// `ggml_vec_soft_max_f32`: (hi + lo), then `x + movehl(x)`, then lanes 0 + 1.
#[inline(always)]
fn hsum<const W: usize>(a: &[f32; W]) -> f32 {
    if W == 16 {
        reduce_add_16(a)
    } else {
        let t: [f32; 4] = std::array::from_fn(|i| a[4 + i] + a[i]);
        (t[0] + t[2]) + (t[1] + t[3])
    }
}

/// GCC's `_mm512_reduce_add_ps`: 256-bit halves, 128-bit halves, then (0+2, 1+3), then 0+1.
#[inline(always)]
fn reduce_add_16(a: &[f32]) -> f32 {
    let t3: [f32; 8] = std::array::from_fn(|i| a[8 + i] + a[i]);
    let t6: [f32; 4] = std::array::from_fn(|i| t3[4 + i] + t3[i]);
    (t6[0] + t6[2]) + (t6[1] + t6[3])
}
