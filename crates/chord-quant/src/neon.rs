//! aarch64 NEON vec-dot kernels for the weight types of the real models (Q4_0, Q5_0, Q8_0, Q4_K,
//! Q6_K); other types use the generic code. Baseline NEON only (no `dotprod`): 8×8→16-bit
//! widening multiplies with pairwise widening adds, so the integer work is exact. Per block the
//! float accumulation is `acc += d · Σ`, in 4 lanes, summed at the end; results differ from the
//! scalar kernels only by float rounding (property-tested against them under qemu-aarch64).
//!
//! Safe entry points: NEON is part of the aarch64 baseline, so these run on every aarch64 CPU.

use crate::block::{as_blocks, f16_to_f32};
use crate::k::{get_scale_min_k4, BlockQ4K, BlockQ6K, BlockQ8K, QK_K};
use crate::legacy::{BlockQ4_0, BlockQ5_0, BlockQ8_0};
use core::arch::aarch64::*;

const QK: usize = 32;

/// Σ a[i]·b[i] over 16 signed bytes, as 4 i32 lanes (exact).
#[inline(always)]
unsafe fn dot16(a: int8x16_t, b: int8x16_t) -> int32x4_t {
    let lo = vmull_s8(vget_low_s8(a), vget_low_s8(b));
    let hi = vmull_high_s8(a, b);
    vpaddq_s32(vpaddlq_s16(lo), vpaddlq_s16(hi))
}

#[inline(always)]
unsafe fn load16(b: &[u8]) -> int8x16_t {
    debug_assert!(b.len() >= 16);
    vld1q_s8(b.as_ptr() as *const i8)
}

/// 16 bytes of 0x10 where bit `i` of `bits` is set, 0 elsewhere.
#[inline(always)]
unsafe fn bits_to_0x10(bits: u16) -> uint8x16_t {
    // Each byte lane i tests bit i: broadcast the two bytes, AND with per-lane masks.
    let lo = vdup_n_u8(bits as u8);
    let hi = vdup_n_u8((bits >> 8) as u8);
    let v = vcombine_u8(lo, hi);
    const MASK: [u8; 16] = [1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128];
    let m = vld1q_u8(MASK.as_ptr());
    let set = vtstq_u8(v, m);
    vandq_u8(set, vdupq_n_u8(0x10))
}

fn legacy<X: crate::block::Block>(
    n: usize,
    w: &[u8],
    a: &[u8],
    unpack: impl Fn(&X) -> (f32, int8x16_t, int8x16_t),
) -> f32 {
    let xs = as_blocks::<X>(w);
    let ys = as_blocks::<BlockQ8_0>(a);
    // SAFETY: NEON is baseline on aarch64; loads stay inside the blocks' arrays.
    unsafe {
        let mut acc = vdupq_n_f32(0.0);
        for (x, y) in xs.iter().zip(ys).take(n / QK) {
            let (dx, lo, hi) = unpack(x);
            let s = vaddq_s32(dot16(lo, load16(&y.qs)), dot16(hi, load16(&y.qs[16..])));
            acc = vmlaq_n_f32(acc, vcvtq_f32_s32(s), dx * f16_to_f32(y.d));
        }
        vaddvq_f32(acc)
    }
}

pub(crate) fn q8_0_q8_0(n: usize, w: &[u8], a: &[u8]) -> f32 {
    // SAFETY (closure): NEON baseline; loads inside the 32-byte array.
    legacy::<BlockQ8_0>(n, w, a, |x| unsafe {
        (f16_to_f32(x.d), load16(&x.qs), load16(&x.qs[16..]))
    })
}

pub(crate) fn q4_0_q8_0(n: usize, w: &[u8], a: &[u8]) -> f32 {
    // SAFETY (closure): NEON baseline; one 16-byte load of the 16-byte array.
    legacy::<BlockQ4_0>(n, w, a, |x| unsafe {
        let v = vld1q_u8(x.qs.as_ptr());
        let eight = vdupq_n_s8(8);
        let lo = vsubq_s8(vreinterpretq_s8_u8(vandq_u8(v, vdupq_n_u8(0x0f))), eight);
        let hi = vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8::<4>(v)), eight);
        (f16_to_f32(x.d), lo, hi)
    })
}

pub(crate) fn q5_0_q8_0(n: usize, w: &[u8], a: &[u8]) -> f32 {
    // SAFETY (closure): NEON baseline; one 16-byte load of the 16-byte array.
    legacy::<BlockQ5_0>(n, w, a, |x| unsafe {
        let qh = u32::from_le_bytes(x.qh);
        let v = vld1q_u8(x.qs.as_ptr());
        let sixteen = vdupq_n_s8(16);
        let lo = vorrq_u8(vandq_u8(v, vdupq_n_u8(0x0f)), bits_to_0x10(qh as u16));
        let hi = vorrq_u8(vshrq_n_u8::<4>(v), bits_to_0x10((qh >> 16) as u16));
        (
            f16_to_f32(x.d),
            vsubq_s8(vreinterpretq_s8_u8(lo), sixteen),
            vsubq_s8(vreinterpretq_s8_u8(hi), sixteen),
        )
    })
}

pub(crate) fn q4_k_q8_k(n: usize, w: &[u8], a: &[u8]) -> f32 {
    let xs = as_blocks::<BlockQ4K>(w);
    let ys = as_blocks::<BlockQ8K>(a);
    let mut sumf = 0f32;
    // SAFETY: NEON baseline; every load is 16 bytes inside a block array.
    unsafe {
        for (x, y) in xs.iter().zip(ys).take(n / QK_K) {
            let d = f32::from_le_bytes(y.d) * f16_to_f32(x.d);
            let dmin = f32::from_le_bytes(y.d) * f16_to_f32(x.dmin);
            let mut sumi = 0i32;
            let mut summ = 0i32;
            for j in 0..QK_K / 64 {
                let (sc_lo, m_lo) = get_scale_min_k4(2 * j, &x.scales);
                let (sc_hi, m_hi) = get_scale_min_k4(2 * j + 1, &x.scales);
                let mut lo = vdupq_n_s32(0);
                let mut hi = vdupq_n_s32(0);
                for half in 0..2 {
                    let v = vld1q_u8(x.qs[32 * j + 16 * half..].as_ptr());
                    let l = vreinterpretq_s8_u8(vandq_u8(v, vdupq_n_u8(0x0f)));
                    let h = vreinterpretq_s8_u8(vshrq_n_u8::<4>(v));
                    lo = vaddq_s32(lo, dot16(l, load16(&y.qs[64 * j + 16 * half..])));
                    hi = vaddq_s32(hi, dot16(h, load16(&y.qs[64 * j + 32 + 16 * half..])));
                }
                sumi += vaddvq_s32(lo) * sc_lo as i32 + vaddvq_s32(hi) * sc_hi as i32;
                summ += m_lo as i32 * (y.bsum(4 * j) as i32 + y.bsum(4 * j + 1) as i32)
                    + m_hi as i32 * (y.bsum(4 * j + 2) as i32 + y.bsum(4 * j + 3) as i32);
            }
            sumf += d * sumi as f32 - dmin * summ as f32;
        }
    }
    sumf
}

pub(crate) fn q6_k_q8_k(n: usize, w: &[u8], a: &[u8]) -> f32 {
    let xs = as_blocks::<BlockQ6K>(w);
    let ys = as_blocks::<BlockQ8K>(a);
    let mut sumf = 0f32;
    // SAFETY: NEON baseline; every load is 16 bytes inside a block array.
    unsafe {
        let m4 = vdupq_n_u8(0x0f);
        let m2 = vdupq_n_u8(0x03);
        let thirty_two = vdupq_n_s8(32);
        for (x, y) in xs.iter().zip(ys).take(n / QK_K) {
            let d = f32::from_le_bytes(y.d) * f16_to_f32(x.d);
            let mut sumi = 0i32;
            for half in 0..2 {
                let ql = &x.ql[64 * half..];
                let qh = &x.qh[32 * half..];
                let q8 = &y.qs[128 * half..];
                let sc = &x.scales[8 * half..];
                for l16 in 0..2 {
                    let o = 16 * l16;
                    let a = vld1q_u8(ql[o..].as_ptr());
                    let b = vld1q_u8(ql[32 + o..].as_ptr());
                    let h = vld1q_u8(qh[o..].as_ptr());
                    // Elements o.., 32+o.., 64+o.., 96+o.. of this half.
                    let q = [
                        vorrq_u8(vandq_u8(a, m4), vshlq_n_u8::<4>(vandq_u8(h, m2))),
                        vorrq_u8(
                            vandq_u8(b, m4),
                            vshlq_n_u8::<4>(vandq_u8(vshrq_n_u8::<2>(h), m2)),
                        ),
                        vorrq_u8(
                            vshrq_n_u8::<4>(a),
                            vshlq_n_u8::<4>(vandq_u8(vshrq_n_u8::<4>(h), m2)),
                        ),
                        vorrq_u8(vshrq_n_u8::<4>(b), vshlq_n_u8::<4>(vshrq_n_u8::<6>(h))),
                    ];
                    for (k, qk) in q.iter().enumerate() {
                        let v = vsubq_s8(vreinterpretq_s8_u8(*qk), thirty_two);
                        let s = vaddvq_s32(dot16(v, load16(&q8[32 * k + o..])));
                        sumi += s * sc[2 * k + l16] as i8 as i32;
                    }
                }
            }
            sumf += d * sumi as f32;
        }
    }
    sumf
}
