//! Element-wise and small ops of the forward pass, scalar, with llama.cpp's numerics: where the
//! float operation order decides the last bits, the order of ggml's CPU ops is followed (noted
//! per function), so our logits land as close to llama.cpp's as possible.

use crate::backend::{AttentionArgs, AttentionShape};
use crate::kv_cache::KvSlice;
use crate::math;
use half::f16;

/// RMS norm, then multiply by `w`, in place over every `w.len()`-long row of `x`.
/// ggml: the sum of squares is accumulated in f64, mean = sum / n in f64 then rounded to f32,
/// scale = 1 / sqrtf(mean + eps); y = x·scale, then y·w (two separate ops in ggml's graph).
pub fn rms_norm_rows(x: &mut [f32], w: &[f32], eps: f32) {
    let n = w.len();
    for row in x.chunks_exact_mut(n) {
        let sum: f64 = row.iter().map(|&v| (v * v) as f64).sum();
        let mean = (sum / n as f64) as f32;
        let scale = 1.0f32 / (mean + eps).sqrt();
        for (v, &g) in row.iter_mut().zip(w) {
            *v = (*v * scale) * g;
        }
    }
}

/// Like [`rms_norm_rows`] but writes into `out` (same shape as `x`).
pub fn rms_norm_into(x: &[f32], w: &[f32], eps: f32, out: &mut [f32]) {
    out.copy_from_slice(x);
    rms_norm_rows(out, w, eps);
}

/// RoPE cos/sin table for one position: `cache[2i] = cos θ_i`, `cache[2i+1] = sin θ_i`, with
/// θ_0 = pos and θ_{i+1} = θ_i · base^(-2/n_dims) accumulated in f32 as ggml's
/// `ggml_rope_cache_init` does (not `pos · base^(-2i/n)`, which rounds differently).
pub fn rope_cache(
    pos: usize,
    n_dims: usize,
    base: f32,
    freq_factors: Option<&[f32]>,
    cache: &mut [f32],
) {
    let theta_scale = math::powf(base, -2.0 / n_dims as f32);
    let mut theta = pos as f32;
    for i0 in (0..n_dims).step_by(2) {
        let ff = freq_factors.map_or(1.0, |f| f[i0 / 2]);
        let t = theta / ff;
        cache[i0] = math::cosf(t);
        cache[i0 + 1] = math::sinf(t);
        theta *= theta_scale;
    }
}

/// Rotates every head of one token's vector `x` (`n_heads × head_dim`) by the table.
/// ggml's build contracts `x0·cos − x1·sin` into `fma(x0, cos, −(x1·sin))` and
/// `x0·sin + x1·cos` into `fma(x0, sin, x1·cos)` (checked against llama.cpp's dumped
/// tensors), so the same operations are fused here.
pub fn rope_apply(x: &mut [f32], head_dim: usize, n_dims: usize, neox: bool, cache: &[f32]) {
    for head in x.chunks_exact_mut(head_dim) {
        if neox {
            let half = n_dims / 2;
            for i0 in (0..n_dims).step_by(2) {
                let (c, s) = (cache[i0], cache[i0 + 1]);
                let ic = i0 / 2;
                let (x0, x1) = (head[ic], head[ic + half]);
                head[ic] = x0.mul_add(c, -(x1 * s));
                head[ic + half] = x0.mul_add(s, x1 * c);
            }
        } else {
            for i0 in (0..n_dims).step_by(2) {
                let (c, s) = (cache[i0], cache[i0 + 1]);
                let (x0, x1) = (head[i0], head[i0 + 1]);
                head[i0] = x0.mul_add(c, -(x1 * s));
                head[i0 + 1] = x0.mul_add(s, x1 * c);
            }
        }
    }
}

/// silu(gate) · up into `gate`.
pub fn swiglu(gate: &mut [f32], up: &[f32]) {
    for (g, &u) in gate.iter_mut().zip(up) {
        let x = *g;
        *g = (x / (1.0 + math::expf(-x))) * u;
    }
}

/// gelu_tanh(gate) · up into `gate`, as ggml's `ggml_vec_geglu_f32` with `GGML_GELU_FP16`:
/// the input is rounded to f16, GELU is evaluated on that and the result rounded to f16 (ggml
/// reads a precomputed f16 table, and so do we: 64Ki entries built once); inputs beyond ±10
/// bypass the table.
///
/// The f16 conversions run on slices of 64 (F16C eight at a time where the CPU has it,
/// through `half`; the same round-to-nearest-even bits as one at a time, which took 3% of a
/// Gemma prefill).
pub fn geglu(gate: &mut [f32], up: &[f32]) {
    use half::slice::HalfFloatSliceExt;
    const CHUNK: usize = 64;
    let table = gelu_f16_table();
    let mut h = [f16::ZERO; CHUNK];
    let mut y = [0f32; CHUNK];
    for (g, u) in gate.chunks_mut(CHUNK).zip(up.chunks(CHUNK)) {
        let m = g.len().min(u.len());
        let (g, u, h, y) = (&mut g[..m], &u[..m], &mut h[..m], &mut y[..m]);
        h.convert_from_f32_slice(g);
        for hv in h.iter_mut() {
            *hv = f16::from_bits(table[hv.to_bits() as usize]);
        }
        h.convert_to_f32_slice(y);
        for ((g, &u), &y) in g.iter_mut().zip(u).zip(y.iter()) {
            let x = *g;
            *g = if x <= -10.0 {
                0.0
            } else if x >= 10.0 {
                x * u
            } else {
                y * u
            };
        }
    }
}

/// `f16(gelu_tanh(f16 x))` for every f16 bit pattern `x`.
pub fn gelu_f16_table() -> &'static [u16] {
    static TABLE: std::sync::OnceLock<Vec<u16>> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        (0..=u16::MAX)
            .map(|b| f16::from_f32(gelu_tanh(f16::from_bits(b).to_f32())).to_bits())
            .collect()
    })
}

/// ggml's `ggml_gelu_f32` as its build computes the table: GCC contracts
/// `1 + GELU_COEF_A·x·x` into one fused multiply-add (entry 0xBFFF of llama.cpp's table
/// differs otherwise).
fn gelu_tanh(x: f32) -> f32 {
    const GELU_COEF_A: f32 = 0.044715;
    const SQRT_2_OVER_PI: f32 = 0.797_884_6;
    0.5 * x * (1.0 + math::tanhf(SQRT_2_OVER_PI * x * (GELU_COEF_A * x).mul_add(x, 1.0)))
}

/// In-place softmax of `x` (already scaled/masked), as ggml: max, exp(x - max) summed in f64,
/// then multiplied by (f32)(1/sum).
pub fn softmax(x: &mut [f32]) {
    let max = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0f64;
    for v in x.iter_mut() {
        let e = math::expf(*v - max);
        *v = e;
        sum += e as f64;
    }
    let inv = (1.0 / sum) as f32;
    for v in x.iter_mut() {
        *v *= inv;
    }
}

pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// A cache element read as f32.
pub trait KvElem: Copy + Send + Sync {
    fn to_f32(self) -> f32;
}
impl KvElem for f32 {
    #[inline(always)]
    fn to_f32(self) -> f32 {
        self
    }
}
impl KvElem for f16 {
    #[inline(always)]
    fn to_f32(self) -> f32 {
        f16::to_f32(self)
    }
}

/// Reference attention (single-threaded): for each query token and head, scores over the
/// visible keys, softmax, weighted sum of values.
pub fn attention(a: AttentionArgs<'_>) {
    let shape = a.shape();
    let AttentionArgs {
        q,
        k,
        v,
        out,
        scores,
        ..
    } = a;
    match (k, v) {
        (KvSlice::F32(k), KvSlice::F32(v)) => attention_typed(&shape, q, k, v, out, scores),
        (KvSlice::F16(k), KvSlice::F16(v)) => attention_typed(&shape, q, k, v, out, scores),
        // One cache stores keys and values in one type; a mixed pair is a caller bug, and the
        // output is left zeroed rather than computed from misread memory.
        _ => out.fill(0.0),
    }
}

fn attention_typed<T: KvElem>(
    sh: &AttentionShape,
    q: &[f32],
    k: &[T],
    v: &[T],
    out: &mut [f32],
    scores: &mut [f32],
) {
    let hd = sh.head_dim;
    let group = sh.n_head / sh.n_head_kv;
    let kv_stride = sh.n_head_kv * hd;
    for t in 0..sh.n_tokens {
        let pos = sh.pos0 + t;
        let first = if sh.window > 0 {
            (pos + 1).saturating_sub(sh.window)
        } else {
            0
        };
        for h in 0..sh.n_head {
            let g = h / group;
            let qh = &q[(t * sh.n_head + h) * hd..][..hd];
            let s = &mut scores[..pos + 1 - first];
            for (j, sj) in (first..=pos).zip(s.iter_mut()) {
                let kj = &k[j * kv_stride + g * hd..][..hd];
                *sj = qh.iter().zip(kj).map(|(x, y)| x * y.to_f32()).sum::<f32>() * sh.scale;
            }
            softmax(s);
            let o = &mut out[(t * sh.n_head + h) * hd..][..hd];
            o.fill(0.0);
            for (j, &p) in (first..=pos).zip(s.iter()) {
                let vj = &v[j * kv_stride + g * hd..][..hd];
                for (od, &vd) in o.iter_mut().zip(vj) {
                    *od += p * vd.to_f32();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table-driven GeGLU equals evaluating GELU on the f16-rounded input directly.
    #[test]
    fn geglu_table_equals_direct_evaluation() {
        // A length that is not a multiple of the 64-element chunks, and exact midpoints
        // between neighbouring halves (round-to-nearest-even ties) of both signs.
        let mut xs: Vec<f32> = (-12_000..12_013)
            .map(|i| i as f32 * 1e-3 + 1.7e-4)
            .collect();
        for b in (0x2000u16..0x4880).step_by(7) {
            let mid = (f16::from_bits(b).to_f32() + f16::from_bits(b + 1).to_f32()) / 2.0;
            xs.extend([mid, -mid]);
        }
        let up: Vec<f32> = xs.iter().map(|x| 0.5 + x.abs().sin()).collect();
        let mut got = xs.clone();
        geglu(&mut got, &up);
        for ((&x, &u), &g) in xs.iter().zip(&up).zip(&got) {
            let want = if x <= -10.0 {
                0.0
            } else if x >= 10.0 {
                x * u
            } else {
                let xh = f16::from_f32(x).to_f32();
                f16::from_f32(gelu_tanh(xh)).to_f32() * u
            };
            assert_eq!(g.to_bits(), want.to_bits(), "x = {x}");
        }
    }
}
