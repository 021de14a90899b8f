//! The legacy 32-element block formats: Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1
//! (`ggml-common.h`), their dequantization, reference quantization of Q4_0/Q8_0/Q8_1, and the
//! scalar dot products against Q8_0/Q8_1 activations (`ggml-cpu/quants.c`, `*_generic`).
//!
//! Float operation order follows llama.cpp's C code. Against `gguf.quants.dequantize`
//! (gguf-py 0.19) every type here is **bit-exact**: numpy computes the same single products
//! (`d * q`, and `d * q + m` for the `_1` types) in the same order. Q8_1 has no Python
//! implementation; its dequantization is `q * d` (the `s` field is only used by dot products).

#![allow(non_camel_case_types)]

use crate::block::{as_blocks, f16_to_f32, f32_to_f16, Block};
use std::mem::size_of;

/// Elements per legacy block.
pub const QK: usize = 32;

/// `block_q4_0`: scale, 32 × 4-bit quants (low nibbles: elements 0..16, high: 16..32).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockQ4_0 {
    pub d: [u8; 2],
    pub qs: [u8; QK / 2],
}

/// `block_q4_1`: scale, min, 32 × 4-bit quants.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockQ4_1 {
    pub d: [u8; 2],
    pub m: [u8; 2],
    pub qs: [u8; QK / 2],
}

/// `block_q5_0`: scale, the fifth bits (u32 LE), 32 × low 4 bits.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockQ5_0 {
    pub d: [u8; 2],
    pub qh: [u8; 4],
    pub qs: [u8; QK / 2],
}

/// `block_q5_1`: scale, min, the fifth bits (u32 LE), 32 × low 4 bits.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockQ5_1 {
    pub d: [u8; 2],
    pub m: [u8; 2],
    pub qh: [u8; 4],
    pub qs: [u8; QK / 2],
}

/// `block_q8_0`: scale, 32 × i8.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockQ8_0 {
    pub d: [u8; 2],
    pub qs: [u8; QK],
}

/// `block_q8_1`: scale, `s = d * sum(qs)`, 32 × i8. 36 bytes (gguf-py says 40; ggml is right).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockQ8_1 {
    pub d: [u8; 2],
    pub s: [u8; 2],
    pub qs: [u8; QK],
}

const _: () = assert!(size_of::<BlockQ4_0>() == 18 && std::mem::align_of::<BlockQ4_0>() == 1);
const _: () = assert!(size_of::<BlockQ4_1>() == 20 && std::mem::align_of::<BlockQ4_1>() == 1);
const _: () = assert!(size_of::<BlockQ5_0>() == 22 && std::mem::align_of::<BlockQ5_0>() == 1);
const _: () = assert!(size_of::<BlockQ5_1>() == 24 && std::mem::align_of::<BlockQ5_1>() == 1);
const _: () = assert!(size_of::<BlockQ8_0>() == 34 && std::mem::align_of::<BlockQ8_0>() == 1);
const _: () = assert!(size_of::<BlockQ8_1>() == 36 && std::mem::align_of::<BlockQ8_1>() == 1);

// SAFETY (all impls below): repr(C) structs of u8 arrays only.
unsafe impl Block for BlockQ4_0 {
    const ELEMS: usize = QK;
}
unsafe impl Block for BlockQ4_1 {
    const ELEMS: usize = QK;
}
unsafe impl Block for BlockQ5_0 {
    const ELEMS: usize = QK;
}
unsafe impl Block for BlockQ5_1 {
    const ELEMS: usize = QK;
}
unsafe impl Block for BlockQ8_0 {
    const ELEMS: usize = QK;
}
unsafe impl Block for BlockQ8_1 {
    const ELEMS: usize = QK;
}

#[inline(always)]
fn i8s(q: &[u8; QK]) -> [i8; QK] {
    q.map(|b| b as i8)
}

// ---------------------------------------------------------------- dequantization

/// Dequantizes Q4_0 blocks; `dst.len()` must be `32 * x.len()` (extra output is left as is).
pub fn dequantize_q4_0(x: &[BlockQ4_0], dst: &mut [f32]) {
    for (b, y) in x.iter().zip(dst.chunks_exact_mut(QK)) {
        let d = f16_to_f32(b.d);
        for j in 0..QK / 2 {
            let x0 = (b.qs[j] & 0x0f) as i32 - 8;
            let x1 = (b.qs[j] >> 4) as i32 - 8;
            y[j] = x0 as f32 * d;
            y[j + QK / 2] = x1 as f32 * d;
        }
    }
}

/// Dequantizes Q4_1 blocks: `q * d + m`.
pub fn dequantize_q4_1(x: &[BlockQ4_1], dst: &mut [f32]) {
    for (b, y) in x.iter().zip(dst.chunks_exact_mut(QK)) {
        let d = f16_to_f32(b.d);
        let m = f16_to_f32(b.m);
        for j in 0..QK / 2 {
            let x0 = (b.qs[j] & 0x0f) as i32;
            let x1 = (b.qs[j] >> 4) as i32;
            y[j] = x0 as f32 * d + m;
            y[j + QK / 2] = x1 as f32 * d + m;
        }
    }
}

#[inline(always)]
fn q5_values(qs: &[u8; QK / 2], qh: [u8; 4]) -> [i32; QK] {
    let qh = u32::from_le_bytes(qh);
    let mut v = [0i32; QK];
    for j in 0..QK / 2 {
        let h0 = ((qh >> j) << 4) & 0x10;
        let h1 = (qh >> (j + 12)) & 0x10;
        v[j] = ((qs[j] & 0x0f) as u32 | h0) as i32;
        v[j + QK / 2] = ((qs[j] >> 4) as u32 | h1) as i32;
    }
    v
}

/// Dequantizes Q5_0 blocks: `(q - 16) * d`.
pub fn dequantize_q5_0(x: &[BlockQ5_0], dst: &mut [f32]) {
    for (b, y) in x.iter().zip(dst.chunks_exact_mut(QK)) {
        let d = f16_to_f32(b.d);
        let v = q5_values(&b.qs, b.qh);
        for (o, &q) in y.iter_mut().zip(v.iter()) {
            *o = (q - 16) as f32 * d;
        }
    }
}

/// Dequantizes Q5_1 blocks: `q * d + m`.
pub fn dequantize_q5_1(x: &[BlockQ5_1], dst: &mut [f32]) {
    for (b, y) in x.iter().zip(dst.chunks_exact_mut(QK)) {
        let d = f16_to_f32(b.d);
        let m = f16_to_f32(b.m);
        let v = q5_values(&b.qs, b.qh);
        for (o, &q) in y.iter_mut().zip(v.iter()) {
            *o = q as f32 * d + m;
        }
    }
}

/// Dequantizes Q8_0 blocks: `q * d`.
pub fn dequantize_q8_0(x: &[BlockQ8_0], dst: &mut [f32]) {
    for (b, y) in x.iter().zip(dst.chunks_exact_mut(QK)) {
        let d = f16_to_f32(b.d);
        for (o, &q) in y.iter_mut().zip(b.qs.iter()) {
            *o = (q as i8) as f32 * d;
        }
    }
}

/// Dequantizes Q8_1 blocks: `q * d` (the sum field `s` is not needed).
pub fn dequantize_q8_1(x: &[BlockQ8_1], dst: &mut [f32]) {
    for (b, y) in x.iter().zip(dst.chunks_exact_mut(QK)) {
        let d = f16_to_f32(b.d);
        for (o, &q) in y.iter_mut().zip(b.qs.iter()) {
            *o = (q as i8) as f32 * d;
        }
    }
}

// ---------------------------------------------------------------- reference quantization

/// `quantize_row_q4_0_ref`: scale from the value of largest magnitude (`d = max / -8`),
/// quants `min(15, trunc(x/d + 8.5))`. `x.len()` must be `32 * y.len()`.
pub fn quantize_q4_0(x: &[f32], y: &mut [BlockQ4_0]) {
    for (xb, b) in x.chunks_exact(QK).zip(y.iter_mut()) {
        let mut amax = 0.0f32;
        let mut max = 0.0f32;
        for &v in xb {
            if amax < v.abs() {
                amax = v.abs();
                max = v;
            }
        }
        let d = max / -8.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        b.d = f32_to_f16(d);
        for j in 0..QK / 2 {
            let x0 = xb[j] * id;
            let x1 = xb[j + QK / 2] * id;
            // C: MIN(15, (int8_t)(x + 8.5f)); the float-to-int conversion truncates.
            let q0 = ((x0 + 8.5) as i8).min(15) as u8;
            let q1 = ((x1 + 8.5) as i8).min(15) as u8;
            b.qs[j] = q0 | (q1 << 4);
        }
    }
}

#[inline(always)]
fn q8_scale(xb: &[f32]) -> (f32, f32) {
    let mut amax = 0.0f32;
    for &v in xb {
        let a = v.abs();
        // C: MAX(amax, fabsf(v)) == (amax > a ? amax : a)
        amax = if amax > a { amax } else { a };
    }
    let d = amax / 127.0;
    let id = if d != 0.0 { 1.0 / d } else { 0.0 };
    (d, id)
}

/// Q8_0/Q8_1 activation quantization as ggml-cpu's x86 build does it at run time
/// (`quantize_row_q8_0`/`quantize_row_q8_1` in ggml-cpu/arch/x86/quants.c, which the reference
/// outputs were made with): `id = 127 / amax` (not `1 / d`) and round half to even
/// (`_mm256_round_ps(.., _MM_ROUND_NEAREST)`), unlike the `_ref` routines' `roundf`. The two
/// disagree only at rounding ties, but a flipped quant changes logits visibly, so activations
/// follow the x86 kernels while [`quantize_q8_0`]/[`quantize_q8_1`] stay the file-format reference.
fn q8_act_block(xb: &[f32], qs: &mut [u8]) -> (f32, i32) {
    let amax = xb.iter().fold(0.0f32, |m, &v| m.max(v.abs()));
    let d = amax / 127.0;
    let id = if amax != 0.0 { 127.0 / amax } else { 0.0 };
    // Round half to even by adding and subtracting 1.5·2^23: exact for |v·id| < 2^22 (here
    // |v·id| <= 127) and the same integer as `round_ties_even`, which x86-64 without SSE4.1
    // compiles to a libm `rintf` call per element (measured: 2% of a prefill).
    const ROUND: f32 = 12_582_912.0;
    let mut sum = 0i32;
    for (q, &v) in qs.iter_mut().zip(xb) {
        let i = ((v * id + ROUND) - ROUND) as i32;
        sum += i;
        *q = i as i8 as u8;
    }
    (d, sum)
}

/// Q8_0 activations, x86 ggml-cpu rounding (see `q8_act_block`).
pub fn quantize_q8_0_act(x: &[f32], y: &mut [BlockQ8_0]) {
    for (xb, b) in x.chunks_exact(QK).zip(y.iter_mut()) {
        let (d, _) = q8_act_block(xb, &mut b.qs);
        b.d = f32_to_f16(d);
    }
}

/// Bytes of one Q8_0 activation block's side data for the x86 four-token kernels: its scale
/// as an f32 (4 bytes) and its sixteen pair sums `16·(q[2k] + q[2k+1])` as little-endian i16
/// (32 bytes).
///
/// Why: a four-token kernel is called once per weight row, so without this every weight row
/// converted every token's f16 scale again, and the Q4_0/Q5_0 kernels moved each weight
/// quant's sign onto the activations (`vpsignb`) per token. With the scale ready and the pair
/// sums at hand, those kernels multiply the unsigned quants (`q + 16` for Q5_0) directly and
/// subtract `16·Σ` once: the same integers, so the same bits.
pub const Q8_0_EXTRA: usize = 36;

/// Writes each block's [`Q8_0_EXTRA`] bytes of side data into `extra` (stops at the shorter).
pub fn fill_q8_0_extra(ys: &[BlockQ8_0], extra: &mut [u8]) {
    for (y, e) in ys.iter().zip(extra.chunks_exact_mut(Q8_0_EXTRA)) {
        let (d, sums) = e.split_at_mut(4);
        d.copy_from_slice(&f16_to_f32(y.d).to_le_bytes());
        for (pair, s) in y.qs.chunks_exact(2).zip(sums.chunks_exact_mut(2)) {
            let v = 16 * (pair[0] as i8 as i16 + pair[1] as i8 as i16);
            s.copy_from_slice(&v.to_le_bytes());
        }
    }
}

/// Q8_1 activations, x86 ggml-cpu rounding; `s = d * Σq` as `quantize_row_q8_1` (x86).
pub fn quantize_q8_1_act(x: &[f32], y: &mut [BlockQ8_1]) {
    for (xb, b) in x.chunks_exact(QK).zip(y.iter_mut()) {
        let (d, sum) = q8_act_block(xb, &mut b.qs);
        b.d = f32_to_f16(d);
        b.s = f32_to_f16(d * sum as f32);
    }
}

/// `quantize_row_q8_0_ref`: `d = amax / 127`, quants `roundf(x / d)` (ties away from zero).
pub fn quantize_q8_0(x: &[f32], y: &mut [BlockQ8_0]) {
    for (xb, b) in x.chunks_exact(QK).zip(y.iter_mut()) {
        let (d, id) = q8_scale(xb);
        b.d = f32_to_f16(d);
        for (q, &v) in b.qs.iter_mut().zip(xb) {
            *q = ((v * id).round() as i8) as u8;
        }
    }
}

/// `quantize_row_q8_1_ref`: as Q8_0, plus `s = f16(sum(q) * d)`.
pub fn quantize_q8_1(x: &[f32], y: &mut [BlockQ8_1]) {
    for (xb, b) in x.chunks_exact(QK).zip(y.iter_mut()) {
        let (d, id) = q8_scale(xb);
        b.d = f32_to_f16(d);
        let mut sum = 0i32;
        for j in 0..QK / 2 {
            let q0 = (xb[j] * id).round() as i8;
            let q1 = (xb[j + QK / 2] * id).round() as i8;
            b.qs[j] = q0 as u8;
            b.qs[j + QK / 2] = q1 as u8;
            sum += q0 as i32 + q1 as i32;
        }
        b.s = f32_to_f16(sum as f32 * d);
    }
}

// ---------------------------------------------------------------- dot products
//
// Each takes `n` (row length) and one row of weight and activation bytes. Blocks beyond what
// both slices hold are ignored; callers check lengths once per tensor.
//
// llama.cpp sums the two halves of a block separately (`sumi0 + sumi1`); integer addition is
// associative, so we sum all 32 products at once, in eight lanes that LLVM vectorises. Float
// operations are exactly llama.cpp's, in its order.

/// Σ a[j]·b[j] over a 32-element block, exact in i32. (Written as element-wise products then a
/// lane-wise sum: the shape LLVM's SLP vectoriser turns into a handful of SIMD instructions.)
#[inline(always)]
pub(crate) fn dot32(a: &[i8; QK], b: &[i8; QK]) -> i32 {
    let mut p = [0i16; QK];
    for j in 0..QK {
        // |i8 · i8| <= 16384: exact in i16.
        p[j] = a[j] as i16 * b[j] as i16;
    }
    let mut acc = [0i32; 8];
    for c in 0..QK / 8 {
        for l in 0..8 {
            acc[l] += p[8 * c + l] as i32;
        }
    }
    acc.iter().sum()
}

/// The 32 4-bit quants of a Q4 block (low nibbles, then high nibbles), minus `offset`.
#[inline(always)]
fn q4_unpack(qs: &[u8; QK / 2], offset: i8) -> [i8; QK] {
    let mut v = [0i8; QK];
    for j in 0..QK / 2 {
        v[j] = (qs[j] & 0x0f) as i8 - offset;
        v[j + QK / 2] = (qs[j] >> 4) as i8 - offset;
    }
    v
}

/// The 32 5-bit quants of a Q5 block, minus `offset`.
#[inline(always)]
fn q5_unpack(qs: &[u8; QK / 2], qh: [u8; 4], offset: i8) -> [i8; QK] {
    let v = q5_values(qs, qh);
    let mut out = [0i8; QK];
    for (o, &q) in out.iter_mut().zip(v.iter()) {
        *o = q as i8 - offset;
    }
    out
}

/// `ggml_vec_dot_q4_0_q8_0_generic`.
#[inline(always)]
pub(crate) fn vec_dot_q4_0_q8_0(n: usize, w: &[u8], a: &[u8]) -> f32 {
    let xs = as_blocks::<BlockQ4_0>(w);
    let ys = as_blocks::<BlockQ8_0>(a);
    let mut sumf = 0.0f32;
    for (x, y) in xs.iter().zip(ys).take(n / QK) {
        let sumi = dot32(&q4_unpack(&x.qs, 8), &i8s(&y.qs));
        sumf += sumi as f32 * f16_to_f32(x.d) * f16_to_f32(y.d);
    }
    sumf
}

/// `ggml_vec_dot_q4_1_q8_1_generic`.
#[inline(always)]
pub(crate) fn vec_dot_q4_1_q8_1(n: usize, w: &[u8], a: &[u8]) -> f32 {
    let xs = as_blocks::<BlockQ4_1>(w);
    let ys = as_blocks::<BlockQ8_1>(a);
    let mut sumf = 0.0f32;
    for (x, y) in xs.iter().zip(ys).take(n / QK) {
        let sumi = dot32(&q4_unpack(&x.qs, 0), &i8s(&y.qs));
        sumf +=
            (f16_to_f32(x.d) * f16_to_f32(y.d)) * sumi as f32 + f16_to_f32(x.m) * f16_to_f32(y.s);
    }
    sumf
}

/// `ggml_vec_dot_q5_0_q8_0_generic`.
#[inline(always)]
pub(crate) fn vec_dot_q5_0_q8_0(n: usize, w: &[u8], a: &[u8]) -> f32 {
    let xs = as_blocks::<BlockQ5_0>(w);
    let ys = as_blocks::<BlockQ8_0>(a);
    let mut sumf = 0.0f32;
    for (x, y) in xs.iter().zip(ys).take(n / QK) {
        let sumi = dot32(&q5_unpack(&x.qs, x.qh, 16), &i8s(&y.qs));
        sumf += (f16_to_f32(x.d) * f16_to_f32(y.d)) * sumi as f32;
    }
    sumf
}

/// `ggml_vec_dot_q5_1_q8_1_generic`.
#[inline(always)]
pub(crate) fn vec_dot_q5_1_q8_1(n: usize, w: &[u8], a: &[u8]) -> f32 {
    let xs = as_blocks::<BlockQ5_1>(w);
    let ys = as_blocks::<BlockQ8_1>(a);
    let mut sumf = 0.0f32;
    for (x, y) in xs.iter().zip(ys).take(n / QK) {
        let sumi = dot32(&q5_unpack(&x.qs, x.qh, 0), &i8s(&y.qs));
        sumf +=
            (f16_to_f32(x.d) * f16_to_f32(y.d)) * sumi as f32 + f16_to_f32(x.m) * f16_to_f32(y.s);
    }
    sumf
}

/// `ggml_vec_dot_q8_0_q8_0_generic`.
#[inline(always)]
pub(crate) fn vec_dot_q8_0_q8_0(n: usize, w: &[u8], a: &[u8]) -> f32 {
    let xs = as_blocks::<BlockQ8_0>(w);
    let ys = as_blocks::<BlockQ8_0>(a);
    let mut sumf = 0.0f32;
    for (x, y) in xs.iter().zip(ys).take(n / QK) {
        let sumi = dot32(&i8s(&x.qs), &i8s(&y.qs));
        sumf += sumi as f32 * (f16_to_f32(x.d) * f16_to_f32(y.d));
    }
    sumf
}
