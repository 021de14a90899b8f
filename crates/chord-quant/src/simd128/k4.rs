//! SIMD128 four-token kernels of the k-quants (prefill, [`crate::VecDot4Fn`]): each weight
//! block's scales are decoded and its quants unpacked once, then multiplied with the four
//! tokens' activations. Per token the integer lanes, float operations and their order are
//! those of the single-row kernels in `k.rs`, so the bits are the same.

use super::k::{
    add_in_order, add_lanes, add_scaled, q6_k_quants, vec_dot_q4_k_q8_k, vec_dot_q6_k_q8_k,
};
use super::load16;
use crate::block::{as_blocks, f16_to_f32};
use crate::k::{k4_scales_mins, BlockQ4K, BlockQ6K, BlockQ8K};
use core::arch::wasm32::*;

const QK_K: usize = 256;

/// The four activation rows as blocks, cut to the weight row's length, if all four cover the
/// same number of blocks (else the caller runs the single-row kernel per token, which cuts
/// each row on its own).
#[inline(always)]
fn rows4<'a, X>(
    n: usize,
    xs: &'a [X],
    act: [&'a [u8]; 4],
) -> Option<(&'a [X], [&'a [BlockQ8K]; 4])> {
    let ys = act.map(as_blocks::<BlockQ8K>);
    let nb_of = |y: &[BlockQ8K]| (n / QK_K).min(xs.len()).min(y.len());
    let nb = nb_of(ys[0]);
    if ys.iter().any(|y| nb_of(y) != nb) {
        return None;
    }
    Some((&xs[..nb], ys.map(|y| &y[..nb])))
}

/// `vec_dot_q4_K_q8_K` for four tokens.
pub(super) fn q4_k_q8_k_x4(n: usize, w: &[u8], act: [&[u8]; 4]) -> [f32; 4] {
    let Some((xs, ys)) = rows4(n, as_blocks::<BlockQ4K>(w), act) else {
        return act.map(|a| vec_dot_q4_k_q8_k(n, w, a));
    };
    let mask = u8x16_splat(0x0f);
    let mut sums = [[f32x4_splat(0.0); 2]; 4];
    let mut sumf = [0.0f32; 4];
    for (b, x) in xs.iter().enumerate() {
        let (sc, mins) = k4_scales_mins(&x.scales);
        let mut aux = [[i32x4_splat(0); 2]; 4];
        for j in 0..QK_K / 64 {
            // 64 positions: the low nibbles of 32 bytes (group 2j), then the high ones (2j + 1).
            let q0 = load16(&x.qs, 32 * j);
            let q1 = load16(&x.qs, 32 * j + 16);
            for (g, (a0, a1)) in [
                (v128_and(q0, mask), v128_and(q1, mask)),
                (u8x16_shr(q0, 4), u8x16_shr(q1, 4)),
            ]
            .into_iter()
            .enumerate()
            {
                let p = 64 * j + 32 * g;
                for (y, aux) in ys.iter().zip(aux.iter_mut()) {
                    let y0 = load16(&y[b].qs, p);
                    let y1 = load16(&y[b].qs, p + 16);
                    // Four products of <= 15 * 128 each: the i16 sum of a 32-group fits.
                    let s = i16x8_add(
                        i16x8_add(
                            i16x8_extmul_low_i8x16(a0, y0),
                            i16x8_extmul_high_i8x16(a0, y0),
                        ),
                        i16x8_add(
                            i16x8_extmul_low_i8x16(a1, y1),
                            i16x8_extmul_high_i8x16(a1, y1),
                        ),
                    );
                    add_scaled(s, sc[2 * j + g], aux);
                }
            }
        }
        let (xd, xdmin) = (f16_to_f32(x.d), f16_to_f32(x.dmin));
        for ((y, aux), (sums, sumf)) in ys
            .iter()
            .zip(&aux)
            .zip(sums.iter_mut().zip(sumf.iter_mut()))
        {
            let y = &y[b];
            let mut sumi = 0i32;
            for j in 0..QK_K / 16 {
                sumi += y.bsum(j) as i32 * mins[j / 2];
            }
            add_lanes(sums, xd * y.scale(), aux);
            *sumf -= (xdmin * y.scale()) * sumi as f32;
        }
    }
    [0, 1, 2, 3].map(|t| add_in_order(sumf[t], &sums[t]))
}

/// `vec_dot_q6_K_q8_K` for four tokens.
pub(super) fn q6_k_q8_k_x4(n: usize, w: &[u8], act: [&[u8]; 4]) -> [f32; 4] {
    let Some((xs, ys)) = rows4(n, as_blocks::<BlockQ6K>(w), act) else {
        return act.map(|a| vec_dot_q6_k_q8_k(n, w, a));
    };
    let mut sums = [[f32x4_splat(0.0); 2]; 4];
    for (b, x) in xs.iter().enumerate() {
        let mut aux = [[i32x4_splat(0); 2]; 4];
        for half in 0..QK_K / 128 {
            for h in 0..2 {
                for (k, a) in q6_k_quants(x, half, h).into_iter().enumerate() {
                    let p = 128 * half + 32 * k + 16 * h;
                    let scale = (x.scales[p / 16] as i8) as i32;
                    for (y, aux) in ys.iter().zip(aux.iter_mut()) {
                        let yv = load16(&y[b].qs, p);
                        // |a| <= 32, |y| <= 128: two products fit i16.
                        let s = i16x8_add(
                            i16x8_extmul_low_i8x16(a, yv),
                            i16x8_extmul_high_i8x16(a, yv),
                        );
                        add_scaled(s, scale, aux);
                    }
                }
            }
        }
        let xd = f16_to_f32(x.d);
        for ((y, aux), sums) in ys.iter().zip(&aux).zip(sums.iter_mut()) {
            add_lanes(sums, xd * y[b].scale(), aux);
        }
    }
    [0, 1, 2, 3].map(|t| add_in_order(0.0, &sums[t]))
}
