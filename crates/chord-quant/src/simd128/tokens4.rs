//! SIMD128 four-token kernels of the 32-element formats (prefill: one weight row against four
//! activation rows, [`crate::VecDot4Fn`]). Each weight block is unpacked and widened to i16 once
//! for the four tokens. Its four integer dot products (one per token) are reduced together to
//! one i32x4 whose lanes are the tokens, and the scalar kernel's float term is evaluated per
//! lane and added to a running f32x4 of the four tokens' sums, block by block in order: per
//! token, exactly the float operations of the single-row kernel (`legacy.rs`), in its order,
//! so the bits are the same (the integer sums are exact in any order). Unlike the single-row
//! kernel there is no tail: every block takes the same path.

use super::{f16x4_to_f32x4, hsum4_i32x4, legacy, load16};
use crate::block::{as_blocks, f16_to_f32};
use crate::legacy::{BlockQ4_0, BlockQ5_0, BlockQ8_0};
use core::arch::wasm32::*;

const QK: usize = 32;

/// 16 i8 lanes as two i16x8 (low, high).
#[inline(always)]
fn widen16(v: v128) -> [v128; 2] {
    [i16x8_extend_low_i8x16(v), i16x8_extend_high_i8x16(v)]
}

/// Σ x·y over one block as i32x4 partial sums (exact): the weight block widened once, the
/// activation block here.
#[inline(always)]
fn dot_block(x: &[v128; 4], y: &BlockQ8_0) -> v128 {
    let [y0, y1] = widen16(load16(&y.qs, 0));
    let [y2, y3] = widen16(load16(&y.qs, 16));
    i32x4_add(
        i32x4_add(i32x4_dot_i16x8(x[0], y0), i32x4_dot_i16x8(x[1], y1)),
        i32x4_add(i32x4_dot_i16x8(x[2], y2), i32x4_dot_i16x8(x[3], y3)),
    )
}

/// The shared loop: `unpack` gives a weight block's 32 quants as two i8x16, `xd` its f16
/// scale, `comb(sumi, dx, dy)` the scalar kernel's float term per lane. `None` when the four
/// rows do not all cover the same number of blocks (the caller then runs the single-row kernel
/// per token, which cuts each row on its own, as the length rules of `VecDotFn` say).
#[inline(always)]
fn tokens4<X>(
    n: usize,
    x: &[X],
    act: [&[u8]; 4],
    unpack: impl Fn(&X) -> (v128, v128),
    xd: impl Fn(&X) -> [u8; 2],
    comb: impl Fn(v128, v128, v128) -> v128,
) -> Option<[f32; 4]> {
    tokens4_by(
        n,
        x,
        act,
        |xb| {
            let (lo, hi) = unpack(xb);
            let [x0, x1] = widen16(lo);
            let [x2, x3] = widen16(hi);
            [x0, x1, x2, x3]
        },
        |xw, _, _, y| dot_block(xw, y),
        xd,
        comb,
    )
}

/// [`tokens4`] with the integer part given: `wprep` readies a weight block once for the four
/// tokens, `tdot(w, t, b, y)` gives its exact Σ x·y against block `b` (`y`) of token `t` as
/// i32x4 partial sums (the relaxed-SIMD build's kernels, `super::relaxed`).
#[inline(always)]
pub(super) fn tokens4_by<X, W>(
    n: usize,
    x: &[X],
    act: [&[u8]; 4],
    wprep: impl Fn(&X) -> W,
    tdot: impl Fn(&W, usize, usize, &BlockQ8_0) -> v128,
    xd: impl Fn(&X) -> [u8; 2],
    comb: impl Fn(v128, v128, v128) -> v128,
) -> Option<[f32; 4]> {
    let ys = act.map(as_blocks::<BlockQ8_0>);
    let nb_of = |y: &[BlockQ8_0]| (n / QK).min(x.len()).min(y.len());
    let nb = nb_of(ys[0]);
    if ys.iter().any(|y| nb_of(y) != nb) {
        return None;
    }
    let x = &x[..nb];
    let ys = ys.map(|y| &y[..nb]);
    let mut sumf = f32x4_splat(0.0);
    for (b, xb) in x.iter().enumerate() {
        let xw = wprep(xb);
        // Written out: `array::map` here stays a call to `try_map` in the wasm (a fifth of a
        // prefill in V8's profile).
        let sumi = hsum4_i32x4([
            tdot(&xw, 0, b, &ys[0][b]),
            tdot(&xw, 1, b, &ys[1][b]),
            tdot(&xw, 2, b, &ys[2][b]),
            tdot(&xw, 3, b, &ys[3][b]),
        ]);
        let dy = f16x4_to_f32x4(ys.map(|y| &y[b].d));
        // Exact (every half is an f32), as the single-row kernel's vector conversion.
        let dx = f32x4_splat(f16_to_f32(xd(xb)));
        sumf = f32x4_add(sumf, comb(f32x4_convert_i32x4(sumi), dx, dy));
    }
    Some([
        f32x4_extract_lane::<0>(sumf),
        f32x4_extract_lane::<1>(sumf),
        f32x4_extract_lane::<2>(sumf),
        f32x4_extract_lane::<3>(sumf),
    ])
}

/// Q8_0 for four tokens: `sumf += sumi * (dx * dy)`.
pub(super) fn q8_0_q8_0_x4(n: usize, w: &[u8], act: [&[u8]; 4]) -> [f32; 4] {
    tokens4(
        n,
        as_blocks::<BlockQ8_0>(w),
        act,
        |x| (load16(&x.qs, 0), load16(&x.qs, 16)),
        |x| x.d,
        |s, dx, dy| f32x4_mul(s, f32x4_mul(dx, dy)),
    )
    .unwrap_or_else(|| act.map(|a| legacy::vec_dot_q8_0_q8_0(n, w, a)))
}

/// Q4_0 for four tokens: nibbles − 8; `sumf += sumi * dx * dy`.
pub(super) fn q4_0_q8_0_x4(n: usize, w: &[u8], act: [&[u8]; 4]) -> [f32; 4] {
    let mask = u8x16_splat(0x0f);
    let eight = i8x16_splat(8);
    tokens4(
        n,
        as_blocks::<BlockQ4_0>(w),
        act,
        |x| {
            let q = load16(&x.qs, 0);
            (
                i8x16_sub(v128_and(q, mask), eight),
                i8x16_sub(u8x16_shr(q, 4), eight),
            )
        },
        |x| x.d,
        |s, dx, dy| f32x4_mul(f32x4_mul(s, dx), dy),
    )
    .unwrap_or_else(|| act.map(|a| legacy::vec_dot_q4_0_q8_0(n, w, a)))
}

/// Q5_0 for four tokens: (nibble | fifth bit << 4) − 16; `sumf += (dx * dy) * sumi`.
pub(super) fn q5_0_q8_0_x4(n: usize, w: &[u8], act: [&[u8]; 4]) -> [f32; 4] {
    let mask = u8x16_splat(0x0f);
    tokens4(
        n,
        as_blocks::<BlockQ5_0>(w),
        act,
        |x| {
            let qh = u32::from_le_bytes(x.qh);
            let q = load16(&x.qs, 0);
            (
                i8x16_sub(v128_and(q, mask), legacy::minus_bits(qh)),
                i8x16_sub(u8x16_shr(q, 4), legacy::minus_bits(qh >> 16)),
            )
        },
        |x| x.d,
        |s, dx, dy| f32x4_mul(f32x4_mul(dx, dy), s),
    )
    .unwrap_or_else(|| act.map(|a| legacy::vec_dot_q5_0_q8_0(n, w, a)))
}
