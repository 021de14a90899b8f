//! Relaxed-SIMD kernels of the 32-element formats (wasm32 built with `+relaxed-simd` too):
//! the products with `i16x8.relaxed_dot_i8x16_i7x16_s` (16 byte products summed in pairs into
//! an i16x8: one `pmaddubsw` in x86 V8) instead of widening both sides to i16 for
//! `i32x4.dot_i16x8`. The rest (four blocks at a time, the float terms, one or two rows) is
//! `super::legacy`'s loop, so the bits are the scalar kernel's.
//!
//! The instruction's second operand is "i7": an engine may read its bytes as signed or as
//! unsigned, and may saturate or wrap the i16 pair sums. Every call here passes bytes in 0..=127
//! there, so both readings agree, and a pair sum is at most 2·128·127 = 32512, so nothing
//! saturates: the result is exact on every engine. (Not the `i32x4` form with an accumulator:
//! Node 20's V8 with --experimental-wasm-relaxed-simd computes that one wrong, and in x86 V8 it
//! is the same `pmaddubsw` + `pmaddwd`, so the i16 form loses nothing.)
//! - Q4_0 / Q5_0: the unsigned quants (nibble 0..15, nibble | fifth bit << 4 0..31) as the i7
//!   operand, the activations as the i8 one; the offset's pair sums `off·(a[2k] + a[2k+1])` are
//!   made once per activation block and shared by the rows: Σ(q − off)·a. The four products a
//!   lane of the two halves gets sum to at most 4·16·128 in magnitude, so the i16 sum and
//!   difference are exact (wrapping i16 arithmetic is exact when the result fits).
//! - Q8_0: the weights are signed, so the activations take the i7 place, split as
//!   `a = a⁺ − a⁻` (`a⁺ = max(a, 0)`, `a⁻ = max(−a, 0)`, both 0..=127 for a ≥ −127), made once
//!   per activation block: a pair of w·a is `pair(w·a⁺) − pair(w·a⁻)`, at most 2·128·127 in
//!   magnitude. Every weight byte (−128 included) is exact this way. An activation block with a
//!   byte of −128 (which the Q8_0 quantizers never write: they scale to ±127) would make `a⁻`
//!   128, not 7-bit, so such a block takes the SIMD128 path (widened to i16).

use super::legacy::{bit_mask16, blocks4, comb_q4_0, comb_q5_0, comb_q8_0, dot32, widen};
use super::load16;
use crate::block::as_blocks;
use crate::legacy::{BlockQ4_0, BlockQ5_0, BlockQ8_0};
use core::arch::wasm32::*;

/// Pair sums of `a·b` as i16x8 (`b` must be 0..=127: see the module docs).
#[inline(always)]
fn dot(a: v128, b: v128) -> v128 {
    i16x8_relaxed_dot_i8x16_i7x16(a, b)
}

/// An activation block's two halves and the i16 pair sums of `off·a` over both halves.
#[inline(always)]
fn with_offset<const OFF: i8>(y: &BlockQ8_0) -> (v128, v128, v128) {
    let (y0, y1) = (load16(&y.qs, 0), load16(&y.qs, 16));
    let off = i8x16_splat(OFF);
    (y0, y1, i16x8_add(dot(y0, off), dot(y1, off)))
}

/// An unsigned weight block (two halves of quants 0..=31) against [`with_offset`]'s block:
/// Σ(q − off)·a as i32x4 partial sums.
#[inline(always)]
fn dot_unsigned(q: (v128, v128), y: &(v128, v128, v128)) -> v128 {
    let s = i16x8_sub(i16x8_add(dot(y.0, q.0), dot(y.1, q.1)), y.2);
    i32x4_extadd_pairwise_i16x8(s)
}

/// A Q8_0 activation block ready for [`dot_q8_0`]: `a⁺` and `a⁻` of both halves, or, if the
/// block has a byte of −128, the block widened to i16 for the SIMD128 path.
enum Act8 {
    Split([v128; 4]),
    Widened([v128; 4]),
}

#[inline(always)]
fn split(y: &BlockQ8_0) -> Act8 {
    let (y0, y1) = (load16(&y.qs, 0), load16(&y.qs, 16));
    let min = i8x16_splat(i8::MIN);
    if v128_any_true(v128_or(i8x16_eq(y0, min), i8x16_eq(y1, min))) {
        return Act8::Widened(widen(y));
    }
    let z = i8x16_splat(0);
    Act8::Split([
        i8x16_max(y0, z),
        i8x16_max(i8x16_neg(y0), z),
        i8x16_max(y1, z),
        i8x16_max(i8x16_neg(y1), z),
    ])
}

#[inline(always)]
fn dot_q8_0(x: &BlockQ8_0, y: &Act8) -> v128 {
    let (w0, w1) = (load16(&x.qs, 0), load16(&x.qs, 16));
    match y {
        Act8::Split([p0, n0, p1, n1]) => i32x4_add(
            i32x4_extadd_pairwise_i16x8(i16x8_sub(dot(w0, *p0), dot(w0, *n0))),
            i32x4_extadd_pairwise_i16x8(i16x8_sub(dot(w1, *p1), dot(w1, *n1))),
        ),
        Act8::Widened(yw) => dot32((w0, w1), yw),
    }
}

#[inline(always)]
fn q8_0<const R: usize>(n: usize, w: [&[u8]; R], a: &[u8]) -> [f32; R] {
    blocks4(
        n,
        w.map(as_blocks::<BlockQ8_0>),
        as_blocks::<BlockQ8_0>(a),
        split,
        dot_q8_0,
        |x| &x.d,
        comb_q8_0,
    )
}

#[inline(always)]
fn q4_0<const R: usize>(n: usize, w: [&[u8]; R], a: &[u8]) -> [f32; R] {
    let mask = u8x16_splat(0x0f);
    blocks4(
        n,
        w.map(as_blocks::<BlockQ4_0>),
        as_blocks::<BlockQ8_0>(a),
        with_offset::<8>,
        |x, y| {
            let q = load16(&x.qs, 0);
            dot_unsigned((v128_and(q, mask), u8x16_shr(q, 4)), y)
        },
        |x| &x.d,
        comb_q4_0,
    )
}

#[inline(always)]
fn q5_0<const R: usize>(n: usize, w: [&[u8]; R], a: &[u8]) -> [f32; R] {
    let mask = u8x16_splat(0x0f);
    let five = u8x16_splat(0x10);
    blocks4(
        n,
        w.map(as_blocks::<BlockQ5_0>),
        as_blocks::<BlockQ8_0>(a),
        with_offset::<16>,
        |x, y| {
            let qh = u32::from_le_bytes(x.qh);
            let q = load16(&x.qs, 0);
            let lo = v128_or(v128_and(q, mask), v128_and(bit_mask16(qh), five));
            let hi = v128_or(u8x16_shr(q, 4), v128_and(bit_mask16(qh >> 16), five));
            dot_unsigned((lo, hi), y)
        },
        |x| &x.d,
        comb_q5_0,
    )
}

/// `vec_dot_q8_0_q8_0`.
pub(super) fn vec_dot_q8_0_q8_0(n: usize, w: &[u8], a: &[u8]) -> f32 {
    q8_0(n, [w], a)[0]
}

/// `vec_dot_q4_0_q8_0`.
pub(super) fn vec_dot_q4_0_q8_0(n: usize, w: &[u8], a: &[u8]) -> f32 {
    q4_0(n, [w], a)[0]
}

/// `vec_dot_q5_0_q8_0`.
pub(super) fn vec_dot_q5_0_q8_0(n: usize, w: &[u8], a: &[u8]) -> f32 {
    q5_0(n, [w], a)[0]
}

/// Two weight rows of Q8_0 against one activation row.
pub(super) fn vec_dot2_q8_0_q8_0(n: usize, w: [&[u8]; 2], a: &[u8]) -> [f32; 2] {
    q8_0(n, w, a)
}

/// Two weight rows of Q4_0 (the activation block's offset sum shared by both).
pub(super) fn vec_dot2_q4_0_q8_0(n: usize, w: [&[u8]; 2], a: &[u8]) -> [f32; 2] {
    q4_0(n, w, a)
}

/// Two weight rows of Q5_0.
pub(super) fn vec_dot2_q5_0_q8_0(n: usize, w: [&[u8]; 2], a: &[u8]) -> [f32; 2] {
    q5_0(n, w, a)
}
