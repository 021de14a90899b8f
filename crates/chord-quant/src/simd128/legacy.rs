//! SIMD128 kernels of the 32-element formats: the block's integer dot product in vectors, the
//! float part exactly as `crate::legacy`'s scalar kernels.

use super::{dot_i8x16, hsum_i32x4, load16};
use crate::block::{as_blocks, f16_to_f32};
use crate::legacy::{BlockQ4_0, BlockQ5_0, BlockQ8_0};
use core::arch::wasm32::*;

const QK: usize = 32;

/// Σ x·y over a block given as two i8x16 halves of each side.
#[inline(always)]
fn dot32(x0: v128, x1: v128, y: &[u8; QK]) -> i32 {
    hsum_i32x4(i32x4_add(
        dot_i8x16(x0, load16(y, 0)),
        dot_i8x16(x1, load16(y, 16)),
    ))
}

/// `vec_dot_q8_0_q8_0`: `sumf += sumi * (dx * dy)`.
pub(super) fn vec_dot_q8_0_q8_0(n: usize, w: &[u8], a: &[u8]) -> f32 {
    let xs = as_blocks::<BlockQ8_0>(w);
    let ys = as_blocks::<BlockQ8_0>(a);
    let mut sumf = 0.0f32;
    for (x, y) in xs.iter().zip(ys).take(n / QK) {
        let sumi = dot32(load16(&x.qs, 0), load16(&x.qs, 16), &y.qs);
        sumf += sumi as f32 * (f16_to_f32(x.d) * f16_to_f32(y.d));
    }
    sumf
}

/// `vec_dot_q4_0_q8_0`: quants are nibbles − 8 (low nibbles first); `sumf += sumi * dx * dy`.
pub(super) fn vec_dot_q4_0_q8_0(n: usize, w: &[u8], a: &[u8]) -> f32 {
    let xs = as_blocks::<BlockQ4_0>(w);
    let ys = as_blocks::<BlockQ8_0>(a);
    let mask = u8x16_splat(0x0f);
    let eight = i8x16_splat(8);
    let mut sumf = 0.0f32;
    for (x, y) in xs.iter().zip(ys).take(n / QK) {
        let q = load16(&x.qs, 0);
        let lo = i8x16_sub(v128_and(q, mask), eight);
        let hi = i8x16_sub(u8x16_shr(q, 4), eight);
        let sumi = dot32(lo, hi, &y.qs);
        sumf += sumi as f32 * f16_to_f32(x.d) * f16_to_f32(y.d);
    }
    sumf
}

/// Bit `j` of `qh` as 0x10 in byte `j` (j in 0..16) of the result, with `qh` shifted so that
/// its bytes 0 and 1 hold the 16 bits wanted.
#[inline(always)]
fn high_bits(qh: u32) -> v128 {
    let bytes = u32x4_splat(qh);
    // Byte i of the 16 lanes reads byte i / 8 of qh and tests bit i % 8.
    let spread = i8x16_swizzle(bytes, i8x16(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1));
    let bit = u8x16(1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128);
    v128_and(i8x16_eq(v128_and(spread, bit), bit), u8x16_splat(0x10))
}

/// `vec_dot_q5_0_q8_0`: quants are (nibble | fifth bit << 4) − 16; `sumf += (dx * dy) * sumi`.
pub(super) fn vec_dot_q5_0_q8_0(n: usize, w: &[u8], a: &[u8]) -> f32 {
    let xs = as_blocks::<BlockQ5_0>(w);
    let ys = as_blocks::<BlockQ8_0>(a);
    let mask = u8x16_splat(0x0f);
    let sixteen = i8x16_splat(16);
    let mut sumf = 0.0f32;
    for (x, y) in xs.iter().zip(ys).take(n / QK) {
        let qh = u32::from_le_bytes(x.qh);
        let q = load16(&x.qs, 0);
        let lo = i8x16_sub(v128_or(v128_and(q, mask), high_bits(qh)), sixteen);
        let hi = i8x16_sub(v128_or(u8x16_shr(q, 4), high_bits(qh >> 16)), sixteen);
        let sumi = dot32(lo, hi, &y.qs);
        sumf += (f16_to_f32(x.d) * f16_to_f32(y.d)) * sumi as f32;
    }
    sumf
}
