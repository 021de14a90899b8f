//! The non-linear 4-bit formats IQ4_NL (32-element blocks) and IQ4_XS (256-element super-blocks
//! with 6-bit sub-block scales), their dequantization, and scalar dot products (IQ4_NL × Q8_0,
//! IQ4_XS × Q8_K) as in `ggml-cpu/quants.c`.
//!
//! Against `gguf.quants.dequantize` (gguf-py 0.19) both are **bit-exact**: `d * kvalue` for
//! IQ4_NL and `(d * (ls - 32)) * kvalue` for IQ4_XS, the same order as numpy's.

#![allow(non_camel_case_types)]

use crate::block::{as_blocks, f16_to_f32, Block};
use crate::k::{BlockQ8K, QK_K};
use crate::legacy::{dot32, BlockQ8_0};
use std::mem::{align_of, size_of};

/// Elements per IQ4_NL block.
pub const QK4_NL: usize = 32;

/// The 16 non-linear levels (`kvalues_iq4nl`).
pub const KVALUES_IQ4NL: [i8; 16] = [
    -127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113,
];

/// `block_iq4_nl`: scale, 32 × 4-bit indices into [`KVALUES_IQ4NL`].
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockIQ4_NL {
    pub d: [u8; 2],
    pub qs: [u8; QK4_NL / 2],
}

/// `block_iq4_xs`: scale, high 2 bits of 8 scales (u16 LE), low 4 bits of 8 scales, indices.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockIQ4_XS {
    pub d: [u8; 2],
    pub scales_h: [u8; 2],
    pub scales_l: [u8; QK_K / 64],
    pub qs: [u8; QK_K / 2],
}

const _: () = assert!(size_of::<BlockIQ4_NL>() == 18 && align_of::<BlockIQ4_NL>() == 1);
const _: () = assert!(size_of::<BlockIQ4_XS>() == 136 && align_of::<BlockIQ4_XS>() == 1);

// SAFETY (both impls): repr(C) structs of u8 arrays only.
unsafe impl Block for BlockIQ4_NL {
    const ELEMS: usize = QK4_NL;
}
unsafe impl Block for BlockIQ4_XS {
    const ELEMS: usize = QK_K;
}

#[inline(always)]
fn kv(i: u8) -> i32 {
    KVALUES_IQ4NL[(i & 0x0f) as usize] as i32
}

/// The 6-bit scale of IQ4_XS sub-block `ib` (0..8), offset 32 not removed.
#[inline(always)]
pub fn iq4_xs_scale(b: &BlockIQ4_XS, ib: usize) -> i32 {
    let h = u16::from_le_bytes(b.scales_h) as i32;
    (((b.scales_l[ib / 2] >> (4 * (ib % 2))) & 0x0f) as i32) | (((h >> (2 * ib)) & 3) << 4)
}

/// Dequantizes IQ4_NL: `d * kvalue`.
pub fn dequantize_iq4_nl(x: &[BlockIQ4_NL], dst: &mut [f32]) {
    for (b, y) in x.iter().zip(dst.chunks_exact_mut(QK4_NL)) {
        let d = f16_to_f32(b.d);
        for j in 0..QK4_NL / 2 {
            y[j] = d * kv(b.qs[j]) as f32;
            y[j + QK4_NL / 2] = d * kv(b.qs[j] >> 4) as f32;
        }
    }
}

/// Dequantizes IQ4_XS: `(d * (ls - 32)) * kvalue` per 32-element sub-block.
pub fn dequantize_iq4_xs(x: &[BlockIQ4_XS], dst: &mut [f32]) {
    for (b, y) in x.iter().zip(dst.chunks_exact_mut(QK_K)) {
        let d = f16_to_f32(b.d);
        for (ib, y32) in y.chunks_exact_mut(32).enumerate() {
            let dl = d * (iq4_xs_scale(b, ib) - 32) as f32;
            let qs = &b.qs[16 * ib..16 * ib + 16];
            for j in 0..16 {
                y32[j] = dl * kv(qs[j]) as f32;
                y32[j + 16] = dl * kv(qs[j] >> 4) as f32;
            }
        }
    }
}

/// The 32 levels of one 32-element group (16 packed bytes: low nibbles, then high).
#[inline(always)]
fn iq4_unpack(qs: &[u8]) -> [i8; 32] {
    let mut v = [0i8; 32];
    for j in 0..16 {
        v[j] = KVALUES_IQ4NL[(qs[j] & 0x0f) as usize];
        v[j + 16] = KVALUES_IQ4NL[(qs[j] >> 4) as usize];
    }
    v
}

/// `ggml_vec_dot_iq4_nl_q8_0_generic` (its `sumi1 + sumi2` is one exact i32 sum here).
#[inline(always)]
pub(crate) fn vec_dot_iq4_nl_q8_0(n: usize, w: &[u8], a: &[u8]) -> f32 {
    let xs = as_blocks::<BlockIQ4_NL>(w);
    let ys = as_blocks::<BlockQ8_0>(a);
    let mut sumf = 0.0f32;
    for (x, y) in xs.iter().zip(ys).take(n / QK4_NL) {
        let d = f16_to_f32(y.d) * f16_to_f32(x.d);
        let sumi = dot32(&iq4_unpack(&x.qs), &y.qs.map(|b| b as i8));
        sumf += d * sumi as f32;
    }
    sumf
}

/// `ggml_vec_dot_iq4_xs_q8_K_generic`.
#[inline(always)]
pub(crate) fn vec_dot_iq4_xs_q8_k(n: usize, w: &[u8], a: &[u8]) -> f32 {
    let xs = as_blocks::<BlockIQ4_XS>(w);
    let ys = as_blocks::<BlockQ8K>(a);
    let mut sumf = 0.0f32;
    for (x, y) in xs.iter().zip(ys).take(n / QK_K) {
        let d4d8 = f16_to_f32(x.d) * y.scale();
        for ib in 0..QK_K / 32 {
            let dl = d4d8 * (iq4_xs_scale(x, ib) - 32) as f32;
            let mut q8 = [0i8; 32];
            for (o, &b) in q8.iter_mut().zip(&y.qs[32 * ib..32 * ib + 32]) {
                *o = b as i8;
            }
            let sumi = dot32(&iq4_unpack(&x.qs[16 * ib..16 * ib + 16]), &q8);
            sumf += dl * sumi as f32;
        }
    }
    sumf
}
