//! The k-quants: 256-element super-blocks Q2_K, Q3_K, Q4_K, Q5_K, Q6_K and the activation format
//! Q8_K (`ggml-common.h`), their dequantization, Q8_K reference quantization, and the scalar dot
//! products against Q8_K (`ggml-cpu/quants.c`, `ggml_vec_dot_q*_K_q8_K_generic`).
//!
//! Float operation order follows llama.cpp's C code (`d * sc` first, then `* q`, then `- m`).
//! Against `gguf.quants.dequantize` (gguf-py 0.19) Q2_K..Q6_K are **bit-exact**: numpy forms the
//! same sub-block scale (`d * sc`, `dmin * m`) and then `scale * q - min` in the same order.
//! Q8_K has no Python implementation; its dequantization is `d * q` with an f32 `d`.

use crate::block::{as_blocks, f16_to_f32, nearest_int, Block};
use std::mem::{align_of, size_of};

/// Elements per super-block.
pub const QK_K: usize = 256;
/// Bytes of packed 6-bit scales/mins in Q4_K/Q5_K (and of Q3_K's packed scales).
pub const K_SCALE_SIZE: usize = 12;

/// `block_q2_K`: 16 × (4-bit scale | 4-bit min), 256 × 2-bit quants, `d`, `dmin`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockQ2K {
    pub scales: [u8; QK_K / 16],
    pub qs: [u8; QK_K / 4],
    pub d: [u8; 2],
    pub dmin: [u8; 2],
}

/// `block_q3_K`: high-bit mask, 256 × low 2 bits, 16 packed 6-bit scales, `d`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockQ3K {
    pub hmask: [u8; QK_K / 8],
    pub qs: [u8; QK_K / 4],
    pub scales: [u8; 12],
    pub d: [u8; 2],
}

/// `block_q4_K`: `d`, `dmin`, 8 packed 6-bit (scale, min) pairs, 256 × 4-bit quants.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockQ4K {
    pub d: [u8; 2],
    pub dmin: [u8; 2],
    pub scales: [u8; K_SCALE_SIZE],
    pub qs: [u8; QK_K / 2],
}

/// `block_q5_K`: as Q4_K plus a 256-bit mask of fifth bits.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockQ5K {
    pub d: [u8; 2],
    pub dmin: [u8; 2],
    pub scales: [u8; K_SCALE_SIZE],
    pub qh: [u8; QK_K / 8],
    pub qs: [u8; QK_K / 2],
}

/// `block_q6_K`: low 4 bits, high 2 bits, 16 × i8 scales, `d`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockQ6K {
    pub ql: [u8; QK_K / 2],
    pub qh: [u8; QK_K / 4],
    pub scales: [u8; QK_K / 16],
    pub d: [u8; 2],
}

/// `block_q8_K`: f32 `d` (LE bytes), 256 × i8, 16 × i16 group sums (LE bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockQ8K {
    pub d: [u8; 4],
    pub qs: [u8; QK_K],
    pub bsums: [u8; QK_K / 16 * 2],
}

const _: () = assert!(size_of::<BlockQ2K>() == 84 && align_of::<BlockQ2K>() == 1);
const _: () = assert!(size_of::<BlockQ3K>() == 110 && align_of::<BlockQ3K>() == 1);
const _: () = assert!(size_of::<BlockQ4K>() == 144 && align_of::<BlockQ4K>() == 1);
const _: () = assert!(size_of::<BlockQ5K>() == 176 && align_of::<BlockQ5K>() == 1);
const _: () = assert!(size_of::<BlockQ6K>() == 210 && align_of::<BlockQ6K>() == 1);
const _: () = assert!(size_of::<BlockQ8K>() == 292 && align_of::<BlockQ8K>() == 1);

// SAFETY (all impls below): repr(C) structs of u8 arrays only.
unsafe impl Block for BlockQ2K {
    const ELEMS: usize = QK_K;
}
unsafe impl Block for BlockQ3K {
    const ELEMS: usize = QK_K;
}
unsafe impl Block for BlockQ4K {
    const ELEMS: usize = QK_K;
}
unsafe impl Block for BlockQ5K {
    const ELEMS: usize = QK_K;
}
unsafe impl Block for BlockQ6K {
    const ELEMS: usize = QK_K;
}
unsafe impl Block for BlockQ8K {
    const ELEMS: usize = QK_K;
}

impl BlockQ8K {
    /// The f32 scale.
    #[inline(always)]
    pub fn scale(&self) -> f32 {
        f32::from_le_bytes(self.d)
    }
    /// Group sum `j` (0..16) of the quants.
    #[inline(always)]
    pub fn bsum(&self, j: usize) -> i16 {
        i16::from_le_bytes([self.bsums[2 * j], self.bsums[2 * j + 1]])
    }
    #[inline(always)]
    fn quants(&self) -> [i8; QK_K] {
        self.qs.map(|b| b as i8)
    }
}

/// ggml's `get_scale_min_k4`: the 6-bit scale and min of sub-block `j` (0..8).
#[inline(always)]
pub fn get_scale_min_k4(j: usize, q: &[u8; K_SCALE_SIZE]) -> (u8, u8) {
    if j < 4 {
        (q[j] & 63, q[j + 4] & 63)
    } else {
        (
            (q[j + 4] & 0x0f) | ((q[j - 4] >> 6) << 4),
            (q[j + 4] >> 4) | ((q[j] >> 6) << 4),
        )
    }
}

/// Q3_K's 16 six-bit scales, unpacked as in ggml (values 0..64; the offset 32 is not removed).
#[inline(always)]
pub fn q3_k_scales(s: &[u8; 12]) -> [i8; 16] {
    const KMASK1: u32 = 0x0303_0303;
    const KMASK2: u32 = 0x0f0f_0f0f;
    let a0 = u32::from_le_bytes([s[0], s[1], s[2], s[3]]);
    let a1 = u32::from_le_bytes([s[4], s[5], s[6], s[7]]);
    let tmp = u32::from_le_bytes([s[8], s[9], s[10], s[11]]);
    let aux = [
        (a0 & KMASK2) | ((tmp & KMASK1) << 4),
        (a1 & KMASK2) | (((tmp >> 2) & KMASK1) << 4),
        ((a0 >> 4) & KMASK2) | (((tmp >> 4) & KMASK1) << 4),
        ((a1 >> 4) & KMASK2) | (((tmp >> 6) & KMASK1) << 4),
    ];
    let mut out = [0i8; 16];
    for (o, w) in out.chunks_exact_mut(4).zip(aux) {
        for (b, v) in o.iter_mut().zip(w.to_le_bytes()) {
            *b = v as i8;
        }
    }
    out
}

// ---------------------------------------------------------------- dequantization

/// Dequantizes Q2_K: `(d * sc) * q - (dmin * m)` per 16-element group.
pub fn dequantize_q2_k(x: &[BlockQ2K], dst: &mut [f32]) {
    for (b, y) in x.iter().zip(dst.chunks_exact_mut(QK_K)) {
        let d = f16_to_f32(b.d);
        let min = f16_to_f32(b.dmin);
        let mut out = 0;
        let mut is = 0;
        for n in 0..QK_K / 128 {
            let q = &b.qs[32 * n..32 * n + 32];
            for shift in [0u32, 2, 4, 6] {
                for half in 0..2 {
                    let sc = b.scales[is];
                    is += 1;
                    let dl = d * (sc & 0x0f) as f32;
                    let ml = min * (sc >> 4) as f32;
                    for &ql in &q[16 * half..16 * half + 16] {
                        y[out] = dl * ((ql >> shift) & 3) as f32 - ml;
                        out += 1;
                    }
                }
            }
        }
    }
}

/// Q3_K's 256 signed 3-bit quants (-4..4) in element order.
#[inline(always)]
fn q3_k_values(b: &BlockQ3K) -> [i8; QK_K] {
    let mut a = [0i8; QK_K];
    let mut m = 1u8;
    let mut out = 0;
    for n in 0..QK_K / 128 {
        let q = &b.qs[32 * n..32 * n + 32];
        for shift in [0u32, 2, 4, 6] {
            for l in 0..32 {
                let lo = ((q[l] >> shift) & 3) as i8;
                a[out + l] = lo - if b.hmask[l] & m != 0 { 0 } else { 4 };
            }
            out += 32;
            m = m.wrapping_shl(1);
        }
    }
    a
}

/// Dequantizes Q3_K: `(d * (sc - 32)) * q`.
pub fn dequantize_q3_k(x: &[BlockQ3K], dst: &mut [f32]) {
    for (b, y) in x.iter().zip(dst.chunks_exact_mut(QK_K)) {
        let d_all = f16_to_f32(b.d);
        let scales = q3_k_scales(&b.scales);
        let a = q3_k_values(b);
        for (g, (yg, ag)) in y.chunks_exact_mut(16).zip(a.chunks_exact(16)).enumerate() {
            let dl = d_all * (scales[g] as i32 - 32) as f32;
            for (o, &q) in yg.iter_mut().zip(ag) {
                *o = dl * q as f32;
            }
        }
    }
}

/// Dequantizes Q4_K: `(d * sc) * q - (dmin * m)` per 32-element sub-block.
pub fn dequantize_q4_k(x: &[BlockQ4K], dst: &mut [f32]) {
    for (b, y) in x.iter().zip(dst.chunks_exact_mut(QK_K)) {
        let d = f16_to_f32(b.d);
        let min = f16_to_f32(b.dmin);
        for (j, y64) in y.chunks_exact_mut(64).enumerate() {
            let q = &b.qs[32 * j..32 * j + 32];
            let (sc1, m1) = get_scale_min_k4(2 * j, &b.scales);
            let (sc2, m2) = get_scale_min_k4(2 * j + 1, &b.scales);
            let (d1, m1) = (d * sc1 as f32, min * m1 as f32);
            let (d2, m2) = (d * sc2 as f32, min * m2 as f32);
            let (lo, hi) = y64.split_at_mut(32);
            for l in 0..32 {
                lo[l] = d1 * (q[l] & 0x0f) as f32 - m1;
                hi[l] = d2 * (q[l] >> 4) as f32 - m2;
            }
        }
    }
}

/// Dequantizes Q5_K: `(d * sc) * q - (dmin * m)` with the fifth bit from `qh`.
pub fn dequantize_q5_k(x: &[BlockQ5K], dst: &mut [f32]) {
    for (b, y) in x.iter().zip(dst.chunks_exact_mut(QK_K)) {
        let d = f16_to_f32(b.d);
        let min = f16_to_f32(b.dmin);
        let mut u1 = 1u8;
        let mut u2 = 2u8;
        for (j, y64) in y.chunks_exact_mut(64).enumerate() {
            let ql = &b.qs[32 * j..32 * j + 32];
            let (sc1, m1) = get_scale_min_k4(2 * j, &b.scales);
            let (sc2, m2) = get_scale_min_k4(2 * j + 1, &b.scales);
            let (d1, m1) = (d * sc1 as f32, min * m1 as f32);
            let (d2, m2) = (d * sc2 as f32, min * m2 as f32);
            let (lo, hi) = y64.split_at_mut(32);
            for l in 0..32 {
                let h1 = if b.qh[l] & u1 != 0 { 16 } else { 0 };
                let h2 = if b.qh[l] & u2 != 0 { 16 } else { 0 };
                lo[l] = d1 * ((ql[l] & 0x0f) + h1) as f32 - m1;
                hi[l] = d2 * ((ql[l] >> 4) + h2) as f32 - m2;
            }
            u1 = u1.wrapping_shl(2);
            u2 = u2.wrapping_shl(2);
        }
    }
}

/// Q6_K's 256 signed 6-bit quants (-32..32) in element order.
#[inline(always)]
fn q6_k_values(b: &BlockQ6K) -> [i8; QK_K] {
    let mut a = [0i8; QK_K];
    for n in 0..QK_K / 128 {
        let ql = &b.ql[64 * n..64 * n + 64];
        let qh = &b.qh[32 * n..32 * n + 32];
        let a = &mut a[128 * n..128 * n + 128];
        for l in 0..32 {
            a[l] = ((ql[l] & 0x0f) | ((qh[l] & 3) << 4)) as i8 - 32;
            a[l + 32] = ((ql[l + 32] & 0x0f) | (((qh[l] >> 2) & 3) << 4)) as i8 - 32;
            a[l + 64] = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) as i8 - 32;
            a[l + 96] = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) as i8 - 32;
        }
    }
    a
}

/// Dequantizes Q6_K: `(d * sc) * q` per 16-element group.
pub fn dequantize_q6_k(x: &[BlockQ6K], dst: &mut [f32]) {
    for (b, y) in x.iter().zip(dst.chunks_exact_mut(QK_K)) {
        let d = f16_to_f32(b.d);
        let a = q6_k_values(b);
        for (g, (yg, ag)) in y.chunks_exact_mut(16).zip(a.chunks_exact(16)).enumerate() {
            let ds = d * (b.scales[g] as i8) as f32;
            for (o, &q) in yg.iter_mut().zip(ag) {
                *o = ds * q as f32;
            }
        }
    }
}

/// Dequantizes Q8_K: `d * q`.
pub fn dequantize_q8_k(x: &[BlockQ8K], dst: &mut [f32]) {
    for (b, y) in x.iter().zip(dst.chunks_exact_mut(QK_K)) {
        let d = b.scale();
        for (o, &q) in y.iter_mut().zip(b.qs.iter()) {
            *o = d * (q as i8) as f32;
        }
    }
}

// ---------------------------------------------------------------- reference quantization

/// `quantize_row_q8_K_ref`: `iscale = -127 / max` (max = the value of largest magnitude),
/// quants `min(127, nearest_int(iscale * x))` (ties to even), `d = 1 / iscale`, plus the 16
/// group sums. An all-zero block gets `d = 0`, zero quants and zero sums.
pub fn quantize_q8_k(x: &[f32], y: &mut [BlockQ8K]) {
    for (xb, b) in x.chunks_exact(QK_K).zip(y.iter_mut()) {
        let mut max = 0.0f32;
        let mut amax = 0.0f32;
        for &v in xb {
            let ax = v.abs();
            if ax > amax {
                amax = ax;
                max = v;
            }
        }
        if amax == 0.0 {
            b.d = 0.0f32.to_le_bytes();
            b.qs = [0; QK_K];
            b.bsums = [0; QK_K / 16 * 2];
            continue;
        }
        let iscale = -127.0f32 / max;
        for (q, &v) in b.qs.iter_mut().zip(xb) {
            *q = (nearest_int(iscale * v).min(127) as i8) as u8;
        }
        for j in 0..QK_K / 16 {
            let sum: i32 = b.qs[16 * j..16 * j + 16]
                .iter()
                .map(|&q| (q as i8) as i32)
                .sum();
            let s = (sum as i16).to_le_bytes();
            b.bsums[2 * j] = s[0];
            b.bsums[2 * j + 1] = s[1];
        }
        b.d = (1.0 / iscale).to_le_bytes();
    }
}

// ---------------------------------------------------------------- dot products

/// The eight interleaved i32 lanes of ggml's k-quant dot products: lane `l` sums
/// `scale(group) * q8[p] * a[p]` over positions `p ≡ l (mod 8)`; `group_len` is 16 or 32.
#[inline(always)]
fn lanes8(a: &[i8; QK_K], q8: &[i8; QK_K], scales: &[i32], group_len: usize) -> [i32; 8] {
    let mut aux32 = [0i32; 8];
    for (p8, (a8, y8)) in a.chunks_exact(8).zip(q8.chunks_exact(8)).enumerate() {
        let s = scales[p8 * 8 / group_len];
        for l in 0..8 {
            aux32[l] += s * (y8[l] as i32 * a8[l] as i32);
        }
    }
    aux32
}

/// `ggml_vec_dot_q2_K_q8_K_generic`.
#[inline(always)]
pub(crate) fn vec_dot_q2_k_q8_k(n: usize, w: &[u8], act: &[u8]) -> f32 {
    let xs = as_blocks::<BlockQ2K>(w);
    let ys = as_blocks::<BlockQ8K>(act);
    let mut sumf = 0.0f32;
    for (x, y) in xs.iter().zip(ys).take(n / QK_K) {
        let q8 = y.quants();
        let mut summs = 0i32;
        for j in 0..16 {
            summs += y.bsum(j) as i32 * (x.scales[j] >> 4) as i32;
        }
        let dall = y.scale() * f16_to_f32(x.d);
        let dmin = y.scale() * f16_to_f32(x.dmin);
        let mut isum = 0i32;
        let mut is = 0;
        let mut off = 0;
        for k in 0..QK_K / 128 {
            let q2 = &x.qs[32 * k..32 * k + 32];
            for shift in [0u32, 2, 4, 6] {
                for half in 0..2 {
                    let d = (x.scales[is] & 0x0f) as i32;
                    is += 1;
                    let mut isuml = 0i32;
                    for l in 16 * half..16 * half + 16 {
                        isuml += q8[off + l] as i32 * ((q2[l] >> shift) & 3) as i32;
                    }
                    isum += d * isuml;
                }
                off += 32;
            }
        }
        sumf += dall * isum as f32 - dmin * summs as f32;
    }
    sumf
}

/// `ggml_vec_dot_q3_K_q8_K_generic`.
#[inline(always)]
pub(crate) fn vec_dot_q3_k_q8_k(n: usize, w: &[u8], act: &[u8]) -> f32 {
    let xs = as_blocks::<BlockQ3K>(w);
    let ys = as_blocks::<BlockQ8K>(act);
    let mut sums = [0.0f32; 8];
    for (x, y) in xs.iter().zip(ys).take(n / QK_K) {
        let a = q3_k_values(x);
        let sc = q3_k_scales(&x.scales);
        let mut scales = [0i32; 16];
        for (s, &v) in scales.iter_mut().zip(sc.iter()) {
            *s = v as i32 - 32;
        }
        let aux32 = lanes8(&a, &y.quants(), &scales, 16);
        let d = f16_to_f32(x.d) * y.scale();
        for l in 0..8 {
            sums[l] += d * aux32[l] as f32;
        }
    }
    let mut sumf = 0.0f32;
    for s in sums {
        sumf += s;
    }
    sumf
}

/// Q4_K/Q5_K sub-block scales and mins as i32.
#[inline(always)]
pub(crate) fn k4_scales_mins(s: &[u8; K_SCALE_SIZE]) -> ([i32; 8], [i32; 8]) {
    let mut sc = [0i32; 8];
    let mut m = [0i32; 8];
    for j in 0..8 {
        let (a, b) = get_scale_min_k4(j, s);
        sc[j] = a as i32;
        m[j] = b as i32;
    }
    (sc, m)
}

/// Shared tail of the Q4_K and Q5_K dot products.
#[inline(always)]
fn dot_k4_block(
    a: &[i8; QK_K],
    d: [u8; 2],
    dmin: [u8; 2],
    scales: &[u8; K_SCALE_SIZE],
    y: &BlockQ8K,
    sums: &mut [f32; 8],
    sumf: &mut f32,
) {
    let (sc, mins) = k4_scales_mins(scales);
    let mut sumi = 0i32;
    for j in 0..QK_K / 16 {
        sumi += y.bsum(j) as i32 * mins[j / 2];
    }
    let aux32 = lanes8(a, &y.quants(), &sc, 32);
    let d = f16_to_f32(d) * y.scale();
    for l in 0..8 {
        sums[l] += d * aux32[l] as f32;
    }
    let dmin = f16_to_f32(dmin) * y.scale();
    *sumf -= dmin * sumi as f32;
}

/// `ggml_vec_dot_q4_K_q8_K_generic`.
#[inline(always)]
pub(crate) fn vec_dot_q4_k_q8_k(n: usize, w: &[u8], act: &[u8]) -> f32 {
    let xs = as_blocks::<BlockQ4K>(w);
    let ys = as_blocks::<BlockQ8K>(act);
    let mut sums = [0.0f32; 8];
    let mut sumf = 0.0f32;
    for (x, y) in xs.iter().zip(ys).take(n / QK_K) {
        let mut a = [0i8; QK_K];
        for (j, a64) in a.chunks_exact_mut(64).enumerate() {
            let q4 = &x.qs[32 * j..32 * j + 32];
            for l in 0..32 {
                a64[l] = (q4[l] & 0x0f) as i8;
                a64[l + 32] = (q4[l] >> 4) as i8;
            }
        }
        dot_k4_block(&a, x.d, x.dmin, &x.scales, y, &mut sums, &mut sumf);
    }
    for s in sums {
        sumf += s;
    }
    sumf
}

/// `ggml_vec_dot_q5_K_q8_K_generic`.
#[inline(always)]
pub(crate) fn vec_dot_q5_k_q8_k(n: usize, w: &[u8], act: &[u8]) -> f32 {
    let xs = as_blocks::<BlockQ5K>(w);
    let ys = as_blocks::<BlockQ8K>(act);
    let mut sums = [0.0f32; 8];
    let mut sumf = 0.0f32;
    for (x, y) in xs.iter().zip(ys).take(n / QK_K) {
        let mut a = [0i8; QK_K];
        let mut m = 1u8;
        for (j, a64) in a.chunks_exact_mut(64).enumerate() {
            let q4 = &x.qs[32 * j..32 * j + 32];
            for l in 0..32 {
                let h1 = if x.qh[l] & m != 0 { 16 } else { 0 };
                let h2 = if x.qh[l] & (m << 1) != 0 { 16 } else { 0 };
                a64[l] = ((q4[l] & 0x0f) + h1) as i8;
                a64[l + 32] = ((q4[l] >> 4) + h2) as i8;
            }
            m = m.wrapping_shl(2);
        }
        dot_k4_block(&a, x.d, x.dmin, &x.scales, y, &mut sums, &mut sumf);
    }
    for s in sums {
        sumf += s;
    }
    sumf
}

/// `ggml_vec_dot_q6_K_q8_K_generic`.
#[inline(always)]
pub(crate) fn vec_dot_q6_k_q8_k(n: usize, w: &[u8], act: &[u8]) -> f32 {
    let xs = as_blocks::<BlockQ6K>(w);
    let ys = as_blocks::<BlockQ8K>(act);
    let mut sums = [0.0f32; 8];
    for (x, y) in xs.iter().zip(ys).take(n / QK_K) {
        let a = q6_k_values(x);
        let mut scales = [0i32; 16];
        for (s, &v) in scales.iter_mut().zip(x.scales.iter()) {
            *s = (v as i8) as i32;
        }
        let aux32 = lanes8(&a, &y.quants(), &scales, 16);
        let d = f16_to_f32(x.d) * y.scale();
        for l in 0..8 {
            sums[l] += d * aux32[l] as f32;
        }
    }
    let mut sumf = 0.0f32;
    for s in sums {
        sumf += s;
    }
    sumf
}

/// Per 128-value half of a Q2_K block against one Q8_K block: (Σ scale·dot, Σ min·bsum), exact.
#[inline(always)]
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))] // used by the x86 flavours only
fn q2_k_halves(x: &BlockQ2K, y: &BlockQ8K) -> [(i32, i32); 2] {
    let q8 = y.quants();
    let mut out = [(0i32, 0i32); 2];
    for (h, o) in out.iter_mut().enumerate() {
        let q2 = &x.qs[32 * h..32 * h + 32];
        for (s, shift) in [0u32, 2, 4, 6].into_iter().enumerate() {
            for half in 0..2 {
                let j = 8 * h + 2 * s + half; // sub-block of 16 values
                let mut dot = 0i32;
                for l in 16 * half..16 * half + 16 {
                    dot += q8[128 * h + 32 * s + l] as i32 * ((q2[l] >> shift) & 3) as i32;
                }
                o.0 += (x.scales[j] & 0x0f) as i32 * dot;
                o.1 += (x.scales[j] >> 4) as i32 * y.bsum(j) as i32;
            }
        }
    }
    out
}

/// Q2_K in the order of llama.cpp's repacked `q2_K_8x8` kernels (its AVX-512 build repacks Q2_K
/// matrices of 8k rows): exact integer sums, then one FMA by (scale × activation scale) per
/// super-block (`GEMM` false: its gemv, single rows) or per 128-value half (`GEMM` true: its
/// gemm, quads of one ubatch); the mins likewise in their own sum, subtracted at the end.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))] // used by the x86 flavours only
pub(crate) fn q2_k_q8_k_repacked<const GEMM: bool>(n: usize, w: &[u8], act: &[u8]) -> f32 {
    let xs = as_blocks::<BlockQ2K>(w);
    let ys = as_blocks::<BlockQ8K>(act);
    let (mut acc, mut acc_m) = (0f32, 0f32);
    for (x, y) in xs.iter().zip(ys).take(n / QK_K) {
        let d = f16_to_f32(x.d) * y.scale();
        let dmin = f16_to_f32(x.dmin) * y.scale();
        let halves = q2_k_halves(x, y);
        if GEMM {
            for (isum, imin) in halves {
                acc = (isum as f32).mul_add(d, acc);
                acc_m = (imin as f32).mul_add(dmin, acc_m);
            }
        } else {
            let isum = halves[0].0 + halves[1].0;
            let imin = halves[0].1 + halves[1].1;
            acc = (isum as f32).mul_add(d, acc);
            acc_m = (imin as f32).mul_add(dmin, acc_m);
        }
    }
    acc - acc_m
}
