//! The float storage types F32, F16 and BF16 (one element per "block"), conversion to and from
//! f32, and the scalar dot products llama.cpp uses for them without SIMD (`ggml_vec_dot_f32`,
//! `ggml_vec_dot_f16`, `ggml_vec_dot_bf16` generic branches in `ggml-cpu/vec.cpp`): each product
//! is formed in f32, the sum is accumulated in f64 (`ggml_float`) and rounded to f32 at the end.
//!
//! Dequantization is exact (every f16/bf16 is an f32), hence **bit-exact** vs gguf-py.

use crate::block::{bf16_to_f32, f16_to_f32, f32_to_bf16, f32_to_f16};

/// Little-endian f32 bytes to values; `dst.len()` must be `src.len() / 4`.
pub fn dequantize_f32(src: &[u8], dst: &mut [f32]) {
    for (o, b) in dst.iter_mut().zip(src.chunks_exact(4)) {
        *o = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    }
}

/// Little-endian IEEE half bytes to f32.
pub fn dequantize_f16(src: &[u8], dst: &mut [f32]) {
    for (o, b) in dst.iter_mut().zip(src.chunks_exact(2)) {
        *o = f16_to_f32([b[0], b[1]]);
    }
}

/// Little-endian bfloat16 bytes to f32.
pub fn dequantize_bf16(src: &[u8], dst: &mut [f32]) {
    for (o, b) in dst.iter_mut().zip(src.chunks_exact(2)) {
        *o = bf16_to_f32([b[0], b[1]]);
    }
}

/// f32 values to little-endian f32 bytes.
pub fn quantize_f32(x: &[f32], dst: &mut [u8]) {
    for (b, &v) in dst.chunks_exact_mut(4).zip(x) {
        b.copy_from_slice(&v.to_le_bytes());
    }
}

/// f32 values to IEEE half, round to nearest even.
pub fn quantize_f16(x: &[f32], dst: &mut [u8]) {
    for (b, &v) in dst.chunks_exact_mut(2).zip(x) {
        b.copy_from_slice(&f32_to_f16(v));
    }
}

/// f32 values to bfloat16 as `ggml_compute_fp32_to_bf16` (nearest even, NaN kept quiet).
pub fn quantize_bf16(x: &[f32], dst: &mut [u8]) {
    for (b, &v) in dst.chunks_exact_mut(2).zip(x) {
        b.copy_from_slice(&f32_to_bf16(v));
    }
}

/// `ggml_vec_dot_f32` (non-SIMD branch).
#[inline(always)]
pub(crate) fn vec_dot_f32(n: usize, w: &[u8], a: &[u8]) -> f32 {
    let mut sumf = 0.0f64;
    for (x, y) in w.chunks_exact(4).zip(a.chunks_exact(4)).take(n) {
        let x = f32::from_le_bytes([x[0], x[1], x[2], x[3]]);
        let y = f32::from_le_bytes([y[0], y[1], y[2], y[3]]);
        sumf += (x * y) as f64;
    }
    sumf as f32
}

/// `ggml_vec_dot_f16` (non-SIMD branch).
#[inline(always)]
pub(crate) fn vec_dot_f16(n: usize, w: &[u8], a: &[u8]) -> f32 {
    let mut sumf = 0.0f64;
    for (x, y) in w.chunks_exact(2).zip(a.chunks_exact(2)).take(n) {
        sumf += (f16_to_f32([x[0], x[1]]) * f16_to_f32([y[0], y[1]])) as f64;
    }
    sumf as f32
}

/// `ggml_vec_dot_bf16` (non-SIMD branch).
#[inline(always)]
pub(crate) fn vec_dot_bf16(n: usize, w: &[u8], a: &[u8]) -> f32 {
    let mut sumf = 0.0f64;
    for (x, y) in w.chunks_exact(2).zip(a.chunks_exact(2)).take(n) {
        sumf += (bf16_to_f32([x[0], x[1]]) * bf16_to_f32([y[0], y[1]])) as f64;
    }
    sumf as f32
}
