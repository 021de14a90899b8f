//! SIMD128 kernels of the 256-element k-quants. ggml's scalar kernels accumulate eight
//! interleaved i32 lanes (lane l: positions ≡ l mod 8, times the group's scale); an i16x8 of
//! products of 8 consecutive positions has exactly those lanes, so a group's products are summed
//! as i16x8 (no overflow for these value ranges), widened, scaled, and accumulated as two i32x4
//! (lanes 0–3 and 4–7). The float part then runs per lane as in `crate::k`.

use super::load16;
use crate::block::{as_blocks, f16_to_f32};
use crate::k::{k4_scales_mins, BlockQ4K, BlockQ6K, BlockQ8K};
use core::arch::wasm32::*;

const QK_K: usize = 256;

/// Adds `scale * (Σ of products of a·y per lane)` for one group of 16 positions to `acc`.
#[inline(always)]
fn group16(a: v128, y: v128, scale: i32, acc: &mut [v128; 2]) {
    // |a| <= 32 and |y| <= 128 for Q6_K, |a| <= 15 for Q4_K: two products fit i16.
    let s = i16x8_add(i16x8_extmul_low_i8x16(a, y), i16x8_extmul_high_i8x16(a, y));
    add_scaled(s, scale, acc);
}

#[inline(always)]
pub(super) fn add_scaled(s: v128, scale: i32, acc: &mut [v128; 2]) {
    let sc = i32x4_splat(scale);
    acc[0] = i32x4_add(acc[0], i32x4_mul(i32x4_extend_low_i16x8(s), sc));
    acc[1] = i32x4_add(acc[1], i32x4_mul(i32x4_extend_high_i16x8(s), sc));
}

/// `sums[l] += d * aux32[l] as f32` for the eight lanes.
#[inline(always)]
pub(super) fn add_lanes(sums: &mut [v128; 2], d: f32, aux: &[v128; 2]) {
    let dv = f32x4_splat(d);
    for h in 0..2 {
        sums[h] = f32x4_add(sums[h], f32x4_mul(dv, f32x4_convert_i32x4(aux[h])));
    }
}

/// `for s in sums { sumf += s }`, lanes in order 0..8.
#[inline(always)]
pub(super) fn add_in_order(mut sumf: f32, sums: &[v128; 2]) -> f32 {
    for v in sums {
        sumf += f32x4_extract_lane::<0>(*v);
        sumf += f32x4_extract_lane::<1>(*v);
        sumf += f32x4_extract_lane::<2>(*v);
        sumf += f32x4_extract_lane::<3>(*v);
    }
    sumf
}

/// `vec_dot_q4_K_q8_K`.
pub(super) fn vec_dot_q4_k_q8_k(n: usize, w: &[u8], act: &[u8]) -> f32 {
    let xs = as_blocks::<BlockQ4K>(w);
    let ys = as_blocks::<BlockQ8K>(act);
    let mask = u8x16_splat(0x0f);
    let mut sums = [f32x4_splat(0.0); 2];
    let mut sumf = 0.0f32;
    for (x, y) in xs.iter().zip(ys).take(n / QK_K) {
        let (sc, mins) = k4_scales_mins(&x.scales);
        let mut sumi = 0i32;
        for j in 0..QK_K / 16 {
            sumi += y.bsum(j) as i32 * mins[j / 2];
        }
        let mut aux = [i32x4_splat(0); 2];
        for j in 0..QK_K / 64 {
            // 64 positions: the low nibbles of 32 bytes (group 2j), then the high ones (2j + 1).
            let q0 = load16(&x.qs, 32 * j);
            let q1 = load16(&x.qs, 32 * j + 16);
            let base = 64 * j;
            for (g, (a0, a1)) in [
                (v128_and(q0, mask), v128_and(q1, mask)),
                (u8x16_shr(q0, 4), u8x16_shr(q1, 4)),
            ]
            .into_iter()
            .enumerate()
            {
                let p = base + 32 * g;
                let y0 = load16(&y.qs, p);
                let y1 = load16(&y.qs, p + 16);
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
                add_scaled(s, sc[2 * j + g], &mut aux);
            }
        }
        let d = f16_to_f32(x.d) * y.scale();
        add_lanes(&mut sums, d, &aux);
        let dmin = f16_to_f32(x.dmin) * y.scale();
        sumf -= dmin * sumi as f32;
    }
    add_in_order(sumf, &sums)
}

/// Sixteen quants (6-bit, minus 32) of a Q6_K block from each of its four quarters: those at
/// positions `128·half + 32·k + 16·h ..+16` for k = 0..4 (the scalar kernel's element order).
#[inline(always)]
pub(super) fn q6_k_quants(x: &BlockQ6K, half: usize, h: usize) -> [v128; 4] {
    let (m4, m2, off) = (u8x16_splat(0x0f), u8x16_splat(0x03), i8x16_splat(32));
    let l = 16 * h;
    let ql_a = load16(&x.ql, 64 * half + l);
    let ql_b = load16(&x.ql, 64 * half + 32 + l);
    let qh = load16(&x.qh, 32 * half + l);
    let hi = |shift: u32| i8x16_shl(v128_and(u8x16_shr(qh, shift), m2), 4);
    // Written out rather than `[..].map(..)`: array::map can stay a call in the wasm.
    [
        i8x16_sub(v128_or(v128_and(ql_a, m4), hi(0)), off),
        i8x16_sub(v128_or(v128_and(ql_b, m4), hi(2)), off),
        i8x16_sub(v128_or(u8x16_shr(ql_a, 4), hi(4)), off),
        i8x16_sub(v128_or(u8x16_shr(ql_b, 4), hi(6)), off),
    ]
}

/// `vec_dot_q6_K_q8_K`.
pub(super) fn vec_dot_q6_k_q8_k(n: usize, w: &[u8], act: &[u8]) -> f32 {
    let xs = as_blocks::<BlockQ6K>(w);
    let ys = as_blocks::<BlockQ8K>(act);
    let mut sums = [f32x4_splat(0.0); 2];
    for (x, y) in xs.iter().zip(ys).take(n / QK_K) {
        let mut aux = [i32x4_splat(0); 2];
        for half in 0..QK_K / 128 {
            for h in 0..2 {
                for (k, a) in q6_k_quants(x, half, h).into_iter().enumerate() {
                    let p = 128 * half + 32 * k + 16 * h;
                    group16(
                        a,
                        load16(&y.qs, p),
                        (x.scales[p / 16] as i8) as i32,
                        &mut aux,
                    );
                }
            }
        }
        let d = f16_to_f32(x.d) * y.scale();
        add_lanes(&mut sums, d, &aux);
    }
    add_in_order(0.0, &sums)
}
