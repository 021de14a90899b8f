//! SIMD128 kernels of the 32-element formats, for one weight row or two (decode: `matmul`
//! takes rows in pairs, so each activation block is loaded and widened to i16 once for both).
//! Four blocks at a time: their integer dot products in vectors, reduced together to one i32x4
//! (a sum per block), their f16 scales converted four at a time, and each block's float
//! expression of `crate::legacy`'s scalar kernel evaluated per lane; the four results are then
//! added to the running sum one by one, in block order. So every float operation is the scalar
//! kernel's, in its order (bit-identical), while the horizontal sums and f16 conversions are
//! shared by four blocks. (Four rows per call was slower in V8: 16 vector registers spill.)

use super::{f16x4_to_f32x4, hsum4_i32x4, load16};
use crate::block::as_blocks;
use crate::legacy::{BlockQ4_0, BlockQ5_0, BlockQ8_0};
use core::arch::wasm32::*;

const QK: usize = 32;

/// An activation block's 32 quants as four i16x8 (positions 0–7, 8–15, 16–23, 24–31): widened
/// once and shared by every weight row the kernel takes.
#[inline(always)]
pub(super) fn widen(y: &BlockQ8_0) -> [v128; 4] {
    let (y0, y1) = (load16(&y.qs, 0), load16(&y.qs, 16));
    [
        i16x8_extend_low_i8x16(y0),
        i16x8_extend_high_i8x16(y0),
        i16x8_extend_low_i8x16(y1),
        i16x8_extend_high_i8x16(y1),
    ]
}

/// Σ x·y over a block as i32x4 partial sums (exact), the weights given as two i8x16 halves
/// and the activations widened by [`widen`].
#[inline(always)]
pub(super) fn dot32(x: (v128, v128), y: &[v128; 4]) -> v128 {
    i32x4_add(
        i32x4_add(
            i32x4_dot_i16x8(i16x8_extend_low_i8x16(x.0), y[0]),
            i32x4_dot_i16x8(i16x8_extend_high_i8x16(x.0), y[1]),
        ),
        i32x4_add(
            i32x4_dot_i16x8(i16x8_extend_low_i8x16(x.1), y[2]),
            i32x4_dot_i16x8(i16x8_extend_high_i8x16(x.1), y[3]),
        ),
    )
}

/// The shared loop over `R` weight rows against one activation row. `prep(i, block)` readies
/// activation block `i` once for all rows (e.g. [`widen`]), `dot` gives a weight block's exact
/// Σ x·y as i32x4 partial sums against it, `xd` its f16 scale, and `comb(sumi, dx, dy)` the
/// scalar kernel's float term per lane (as f32x4). A tail of fewer than four blocks runs the same
/// vector code with one live lane, so it rounds exactly as the main loop (and as the scalar
/// kernel) does. Blocks beyond the shortest slice or beyond `n / 32` are ignored, as in the
/// scalar kernels (the rows are cut to a common length, so for R > 1 a short row shortens all:
/// the matmul gives every row the same length).
#[inline(always)]
pub(super) fn blocks4<X, P, const R: usize>(
    n: usize,
    xs: [&[X]; R],
    ys: &[BlockQ8_0],
    prep: impl Fn(usize, &BlockQ8_0) -> P,
    dot: impl Fn(&X, &P) -> v128,
    xd: impl Fn(&X) -> &[u8; 2],
    comb: impl Fn(v128, v128, v128) -> v128,
) -> [f32; R] {
    let nb = xs
        .iter()
        .fold((n / QK).min(ys.len()), |m, x| m.min(x.len()));
    let xs = xs.map(|x| &x[..nb]);
    let ys = &ys[..nb];
    let mut sumf = [0.0f32; R];
    let full = nb - nb % 4;
    let mut b = 0;
    while b < full {
        // Block by block, so only one activation block is live widened (16 vector registers
        // is all there is); the partial sums of all rows wait for one reduction.
        let mut part = [[i32x4_splat(0); 4]; R];
        for k in 0..4 {
            let yp = prep(b + k, &ys[b + k]);
            for (x, p) in xs.iter().zip(part.iter_mut()) {
                p[k] = dot(&x[b + k], &yp);
            }
        }
        let y = &ys[b..b + 4];
        let dy = f16x4_to_f32x4([&y[0].d, &y[1].d, &y[2].d, &y[3].d]);
        for ((x, p), s) in xs.iter().zip(part).zip(sumf.iter_mut()) {
            let x = &x[b..b + 4];
            let sumi = hsum4_i32x4(p);
            let dx = f16x4_to_f32x4([xd(&x[0]), xd(&x[1]), xd(&x[2]), xd(&x[3])]);
            let t = comb(f32x4_convert_i32x4(sumi), dx, dy);
            *s += f32x4_extract_lane::<0>(t);
            *s += f32x4_extract_lane::<1>(t);
            *s += f32x4_extract_lane::<2>(t);
            *s += f32x4_extract_lane::<3>(t);
        }
        b += 4;
    }
    let z = i32x4_splat(0);
    for (b, y) in ys.iter().enumerate().skip(full) {
        let yp = prep(b, y);
        let dy = f16x4_to_f32x4([&y.d, &[0; 2], &[0; 2], &[0; 2]]);
        for (x, s) in xs.iter().zip(sumf.iter_mut()) {
            let sumi = hsum4_i32x4([dot(&x[b], &yp), z, z, z]);
            let dx = f16x4_to_f32x4([xd(&x[b]), &[0; 2], &[0; 2], &[0; 2]]);
            *s += f32x4_extract_lane::<0>(comb(f32x4_convert_i32x4(sumi), dx, dy));
        }
    }
    sumf
}

/// Q8_0: the quants as they are; `sumf += sumi * (dx * dy)`.
#[inline(always)]
fn q8_0<const R: usize>(n: usize, w: [&[u8]; R], a: &[u8]) -> [f32; R] {
    blocks4(
        n,
        w.map(as_blocks::<BlockQ8_0>),
        as_blocks::<BlockQ8_0>(a),
        |_, y| widen(y),
        |x, yw| dot32((load16(&x.qs, 0), load16(&x.qs, 16)), yw),
        |x| &x.d,
        comb_q8_0,
    )
}

/// Q4_0: quants are nibbles − 8 (low nibbles first); `sumf += sumi * dx * dy`.
#[inline(always)]
fn q4_0<const R: usize>(n: usize, w: [&[u8]; R], a: &[u8]) -> [f32; R] {
    let mask = u8x16_splat(0x0f);
    let eight = i8x16_splat(8);
    blocks4(
        n,
        w.map(as_blocks::<BlockQ4_0>),
        as_blocks::<BlockQ8_0>(a),
        |_, y| widen(y),
        |x, yw| {
            let q = load16(&x.qs, 0);
            let x = (
                i8x16_sub(v128_and(q, mask), eight),
                i8x16_sub(u8x16_shr(q, 4), eight),
            );
            dot32(x, yw)
        },
        |x| &x.d,
        comb_q4_0,
    )
}

/// 0xff where bit `j` of `qh` is set, 0 where it is clear, in byte `j` (j in 0..16) of the
/// result, with `qh` shifted so that its bytes 0 and 1 hold the 16 bits wanted (Q5_0's fifth
/// bits of 16 quants).
#[inline(always)]
pub(super) fn bit_mask16(qh: u32) -> v128 {
    let bytes = u32x4_splat(qh);
    // Byte i of the 16 lanes reads byte i / 8 of qh and tests bit i % 8.
    let spread = i8x16_swizzle(bytes, i8x16(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1));
    let bit = u8x16(1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128);
    i8x16_eq(v128_and(spread, bit), bit)
}

/// 16 where the fifth bit is clear, 0 where it is set (see [`bit_mask16`]): what Q5_0
/// subtracts from a nibble to get its quant, `(nibble | bit << 4) - 16 = nibble - (16 if the
/// bit is clear)`.
#[inline(always)]
pub(super) fn minus_bits(qh: u32) -> v128 {
    v128_andnot(u8x16_splat(0x10), bit_mask16(qh))
}

/// The scalar kernels' float term per block, per lane: Q8_0 `sumi * (dx * dy)`, Q4_0
/// `sumi * dx * dy`, Q5_0 `(dx * dy) * sumi` (each as `crate::legacy` writes it).
#[inline(always)]
pub(super) fn comb_q8_0(s: v128, dx: v128, dy: v128) -> v128 {
    f32x4_mul(s, f32x4_mul(dx, dy))
}

#[inline(always)]
pub(super) fn comb_q4_0(s: v128, dx: v128, dy: v128) -> v128 {
    f32x4_mul(f32x4_mul(s, dx), dy)
}

#[inline(always)]
pub(super) fn comb_q5_0(s: v128, dx: v128, dy: v128) -> v128 {
    f32x4_mul(f32x4_mul(dx, dy), s)
}

/// Q5_0: quants are (nibble | fifth bit << 4) − 16; `sumf += (dx * dy) * sumi`.
#[inline(always)]
fn q5_0<const R: usize>(n: usize, w: [&[u8]; R], a: &[u8]) -> [f32; R] {
    let mask = u8x16_splat(0x0f);
    blocks4(
        n,
        w.map(as_blocks::<BlockQ5_0>),
        as_blocks::<BlockQ8_0>(a),
        |_, y| widen(y),
        |x, yw| {
            let qh = u32::from_le_bytes(x.qh);
            let q = load16(&x.qs, 0);
            let x = (
                i8x16_sub(v128_and(q, mask), minus_bits(qh)),
                i8x16_sub(u8x16_shr(q, 4), minus_bits(qh >> 16)),
            );
            dot32(x, yw)
        },
        |x| &x.d,
        comb_q5_0,
    )
}

row_entry_points! {
    vec_dot_q8_0_q8_0, vec_dot2_q8_0_q8_0 => q8_0;
    vec_dot_q4_0_q8_0, vec_dot2_q4_0_q8_0 => q4_0;
    vec_dot_q5_0_q8_0, vec_dot2_q5_0_q8_0 => q5_0;
}
