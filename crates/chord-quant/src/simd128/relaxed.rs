//! Relaxed-SIMD kernels of the 32-element formats (wasm32 built with `+relaxed-simd` too):
//! the products with `i16x8.relaxed_dot_i8x16_i7x16_s` (16 byte products summed in pairs into
//! an i16x8: one `pmaddubsw` in x86 V8) instead of widening both sides to i16 for
//! `i32x4.dot_i16x8`. The rest (four blocks at a time, the float terms, one or two rows) is
//! `super::legacy`'s loop, and for four tokens (prefill) `super::tokens4`'s, so the bits are
//! the scalar kernel's.
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
//!
//! Where chord-cpu appends the activation row's side data ([`crate::act_extra_bytes`]; in this
//! build [`q8_0_extra_bytes`] in [`fill_q8_0_extra`]'s format, made once per matmul), Q8_0
//! needs one product per 16 bytes instead of two: the side data holds `|a|` (7-bit), the sign
//! mask `m` of `a` and `Σ_{a<0} |a|`, and Σw·a = Σ(w ^ m)·|a| + Σ_{a<0}|a| (`w ^ m` is `w`,
//! or `−w − 1` where a < 0, always an i8). Rows without side data, or with an activation byte
//! of −128 (flagged in its header), take the split path above; the bits are the same.

use super::legacy::{bit_mask16, blocks4, comb_q4_0, comb_q5_0, comb_q8_0, dot32, widen};
use super::load16;
use super::tokens4::tokens4_by;
use crate::block::as_blocks;
use crate::legacy::{BlockQ4_0, BlockQ5_0, BlockQ8_0};
use core::arch::wasm32::*;

/// Pair sums of `a·b` as i16x8 (`b` must be 0..=127: see the module docs).
#[inline(always)]
fn dot(a: v128, b: v128) -> v128 {
    i16x8_relaxed_dot_i8x16_i7x16(a, b)
}

/// The pair sums of an i16x8 as i32x4, as `i32x4.dot_i16x8_s` with ones (one `pmaddwd`, as
/// `i32x4.extadd_pairwise_i16x8_s` is): LLVM fuses extadd_pairwise of a relaxed dot plus an
/// add into `i32x4.relaxed_dot_i8x16_i7x16_add_s`, which Node 20's V8 computes wrong.
#[inline(always)]
fn widen_pairs(v: v128) -> v128 {
    i32x4_dot_i16x8(v, i16x8_splat(1))
}

/// The i16 pair sums of `off·a` over both halves of an activation block.
#[inline(always)]
fn offset_sums<const OFF: i8>(y: &BlockQ8_0) -> v128 {
    let off = i8x16_splat(OFF);
    i16x8_add(dot(load16(&y.qs, 0), off), dot(load16(&y.qs, 16), off))
}

/// An unsigned weight block (two halves of quants 0..=31) against activation block `y` with
/// its [`offset_sums`] `s`: Σ(q − off)·a as i32x4 partial sums. Each row loads the activation
/// quants itself: loaded once for all rows, LLVM hoists the loads of four blocks and V8
/// spills them (measured: up to twice as slow).
#[inline(always)]
fn dot_unsigned(q: (v128, v128), y: &BlockQ8_0, s: v128) -> v128 {
    let (y0, y1) = (load16(&y.qs, 0), load16(&y.qs, 16));
    let d = i16x8_sub(i16x8_add(dot(y0, q.0), dot(y1, q.1)), s);
    widen_pairs(d)
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
        Act8::Split(s) => dot_split(w0, w1, s),
        Act8::Widened(yw) => dot32((w0, w1), yw),
    }
}

/// Σ w·a of a Q8_0 weight block (halves `w0`, `w1`) against `[a⁺, a⁻]` of the activation
/// block's first half, then of its second, as i32x4 partial sums.
#[inline(always)]
fn dot_split(w0: v128, w1: v128, [p0, n0, p1, n1]: &[v128; 4]) -> v128 {
    i32x4_add(
        widen_pairs(i16x8_sub(dot(w0, *p0), dot(w0, *n0))),
        widen_pairs(i16x8_sub(dot(w1, *p1), dot(w1, *n1))),
    )
}

/// Header bytes of the Q8_0 side data: byte 0 is 1 when the row has no activation byte of −128
/// (then every block's split is valid), else 0 (then the kernels ignore the side data).
const EXTRA_HEADER: usize = 16;

/// Bytes of one block's side data: `|a|` (32 bytes), the sign mask `m` (32 bytes: 0xff where
/// `a < 0`) and an i32x4 whose lanes sum to `Σ_{a<0} |a|` (16 bytes).
const EXTRA_BLOCK: usize = 80;

/// Bytes of the side data of a Q8_0 activation row of length `n` in this build: the header,
/// then [`EXTRA_BLOCK`] bytes per block.
pub(crate) fn q8_0_extra_bytes(n: usize) -> usize {
    match n / 32 {
        0 => 0,
        nb => EXTRA_HEADER + nb * EXTRA_BLOCK,
    }
}

/// Writes the side data of the Q8_0 row `ys` into `extra` ([`q8_0_extra_bytes`] long; stops
/// at the shorter).
pub(crate) fn fill_q8_0_extra(ys: &[BlockQ8_0], extra: &mut [u8]) {
    let Some((head, blocks)) = extra.split_at_mut_checked(EXTRA_HEADER) else {
        return;
    };
    head.fill(0);
    head[0] = ys.iter().all(|y| !y.qs.contains(&0x80)) as u8;
    for (y, e) in ys.iter().zip(blocks.chunks_exact_mut(EXTRA_BLOCK)) {
        let (abs, rest) = e.split_at_mut(32);
        let (sign, corr) = rest.split_at_mut(32);
        let mut neg = 0i32;
        for ((&q, v), m) in y.qs.iter().zip(abs).zip(sign) {
            let a = q as i8 as i32;
            *v = a.unsigned_abs() as u8;
            *m = if a < 0 { 0xff } else { 0 };
            neg += if a < 0 { -a } else { 0 };
        }
        corr.fill(0);
        corr[..4].copy_from_slice(&neg.to_le_bytes());
    }
}

/// The split blocks of the side data after the Q8_0 row of length `n` in `a`, if `a` carries
/// valid side data.
#[inline(always)]
fn q8_0_side(n: usize, a: &[u8]) -> Option<&[u8]> {
    let row = n / 32 * core::mem::size_of::<BlockQ8_0>();
    let side = a.get(row..row + q8_0_extra_bytes(n))?;
    (side.first() == Some(&1)).then(|| &side[EXTRA_HEADER..])
}

#[inline(always)]
fn xd(x: &BlockQ8_0) -> &[u8; 2] {
    &x.d
}

#[inline(always)]
fn q8_0<const R: usize>(n: usize, w: [&[u8]; R], a: &[u8]) -> [f32; R] {
    let xs = w.map(as_blocks::<BlockQ8_0>);
    let ys = as_blocks::<BlockQ8_0>(a);
    match q8_0_side(n, a) {
        Some(es) => blocks4(
            n,
            xs,
            ys,
            // Σ w·a = Σ (w ^ m)·|a| + Σ_{a<0} |a|, as `w ^ m` is `w` where a ≥ 0 and
            // `−w − 1` where a < 0 (never out of i8, unlike −w), and |a| is 7-bit: one product
            // instruction per 16 bytes. Each row loads the block's |a| and m itself: loaded
            // once for both rows, LLVM hoists the loads of four blocks and V8 spills them.
            |i, _| (load16(es, EXTRA_BLOCK * i + 64), EXTRA_BLOCK * i),
            |x, &(corr, e)| {
                let (w0, w1) = (load16(&x.qs, 0), load16(&x.qs, 16));
                // blocks4 takes at most n / 32 blocks, and `es` holds EXTRA_BLOCK bytes each.
                let p0 = dot(v128_xor(w0, load16(es, e + 32)), load16(es, e));
                let p1 = dot(v128_xor(w1, load16(es, e + 48)), load16(es, e + 16));
                i32x4_add(corr, i32x4_add(widen_pairs(p0), widen_pairs(p1)))
            },
            xd,
            comb_q8_0,
        ),
        None => blocks4(n, xs, ys, |_, y| split(y), dot_q8_0, xd, comb_q8_0),
    }
}

#[inline(always)]
fn q4_0<const R: usize>(n: usize, w: [&[u8]; R], a: &[u8]) -> [f32; R] {
    let ys = as_blocks::<BlockQ8_0>(a);
    blocks4(
        n,
        w.map(as_blocks::<BlockQ4_0>),
        ys,
        |i, y| (offset_sums::<8>(y), i),
        |x, &(s, i)| dot_unsigned(unsigned_q4_0(x), &ys[i], s),
        |x| &x.d,
        comb_q4_0,
    )
}

/// A Q5_0 block's unsigned quants `nibble | fifth bit << 4` (0..=31), positions 0–15 and
/// 16–31.
#[inline(always)]
fn unsigned_q5_0(x: &BlockQ5_0) -> (v128, v128) {
    let (mask, five) = (u8x16_splat(0x0f), u8x16_splat(0x10));
    let qh = u32::from_le_bytes(x.qh);
    let q = load16(&x.qs, 0);
    (
        v128_or(v128_and(q, mask), v128_and(bit_mask16(qh), five)),
        v128_or(u8x16_shr(q, 4), v128_and(bit_mask16(qh >> 16), five)),
    )
}

/// A Q4_0 block's nibbles (0..=15), positions 0–15 and 16–31.
#[inline(always)]
fn unsigned_q4_0(x: &BlockQ4_0) -> (v128, v128) {
    let q = load16(&x.qs, 0);
    (v128_and(q, u8x16_splat(0x0f)), u8x16_shr(q, 4))
}

#[inline(always)]
fn q5_0<const R: usize>(n: usize, w: [&[u8]; R], a: &[u8]) -> [f32; R] {
    let ys = as_blocks::<BlockQ8_0>(a);
    blocks4(
        n,
        w.map(as_blocks::<BlockQ5_0>),
        ys,
        |i, y| (offset_sums::<16>(y), i),
        |x, &(s, i)| dot_unsigned(unsigned_q5_0(x), &ys[i], s),
        |x| &x.d,
        comb_q5_0,
    )
}

row_entry_points! {
    vec_dot_q8_0_q8_0, vec_dot2_q8_0_q8_0 => q8_0;
    vec_dot_q4_0_q8_0, vec_dot2_q4_0_q8_0 => q4_0;
    vec_dot_q5_0_q8_0, vec_dot2_q5_0_q8_0 => q5_0;
}

/// Four tokens (prefill) of Q4_0: the nibbles unpacked once, per token the offset sums of its
/// block and two products; per token the bits of the single-row kernel.
pub(super) fn q4_0_q8_0_x4(n: usize, w: &[u8], act: [&[u8]; 4]) -> [f32; 4] {
    tokens4_by(
        n,
        as_blocks::<BlockQ4_0>(w),
        act,
        unsigned_q4_0,
        |&q, _, _, y| dot_unsigned(q, y, offset_sums::<8>(y)),
        |x| x.d,
        comb_q4_0,
    )
    .unwrap_or_else(|| act.map(|a| vec_dot_q4_0_q8_0(n, w, a)))
}

/// Four tokens of Q5_0.
pub(super) fn q5_0_q8_0_x4(n: usize, w: &[u8], act: [&[u8]; 4]) -> [f32; 4] {
    tokens4_by(
        n,
        as_blocks::<BlockQ5_0>(w),
        act,
        unsigned_q5_0,
        |&q, _, _, y| dot_unsigned(q, y, offset_sums::<16>(y)),
        |x| x.d,
        comb_q5_0,
    )
    .unwrap_or_else(|| act.map(|a| vec_dot_q5_0_q8_0(n, w, a)))
}

/// Four tokens of Q8_0: with every token's side data, one product per 16 bytes as in
/// [`q8_0`]; otherwise the SIMD128 four-token kernel.
pub(super) fn q8_0_q8_0_x4(n: usize, w: &[u8], act: [&[u8]; 4]) -> [f32; 4] {
    let side = act.map(|a| q8_0_side(n, a));
    let [Some(s0), Some(s1), Some(s2), Some(s3)] = side else {
        return super::tokens4::q8_0_q8_0_x4(n, w, act);
    };
    let es = [s0, s1, s2, s3];
    tokens4_by(
        n,
        as_blocks::<BlockQ8_0>(w),
        act,
        |x| (load16(&x.qs, 0), load16(&x.qs, 16)),
        // tokens4_by takes at most n / 32 blocks, and each `es[t]` holds EXTRA_BLOCK bytes
        // for each.
        |&(w0, w1), t, b, _| {
            let (es, e) = (es[t], EXTRA_BLOCK * b);
            let p0 = dot(v128_xor(w0, load16(es, e + 32)), load16(es, e));
            let p1 = dot(v128_xor(w1, load16(es, e + 48)), load16(es, e + 16));
            i32x4_add(
                load16(es, e + 64),
                i32x4_add(widen_pairs(p0), widen_pairs(p1)),
            )
        },
        |x| x.d,
        comb_q8_0,
    )
    .unwrap_or_else(|| act.map(|a| vec_dot_q8_0_q8_0(n, w, a)))
}
