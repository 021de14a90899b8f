//! WebAssembly SIMD128 vec-dot kernels for the weight types of the real models (Q4_0, Q5_0,
//! Q8_0, Q4_K, Q6_K), compiled only for `wasm32` with `target_feature = "simd128"`; the other
//! types use the scalar kernels in that build.
//!
//! Bit-identical to the scalar kernels (the truth): the integer work (block sums, and the eight
//! interleaved i32 lanes of the k-quants) is exact in any order, and every float operation is
//! the scalar kernel's, in its order: f32x4 lanes do per lane what the scalar loop does per
//! element, and i32 → f32 conversion rounds to nearest in both.

mod k;
mod legacy;

use crate::dot::VecDotFn;
use chord_gguf::GgmlType;
use core::arch::wasm32::*;

/// The SIMD128 kernel for weight type `w` and its base name, if there is one.
pub(crate) fn lookup(w: GgmlType) -> Option<(VecDotFn, &'static str)> {
    Some(match w {
        GgmlType::Q4_0 => (legacy::vec_dot_q4_0_q8_0 as VecDotFn, "q4_0_q8_0"),
        GgmlType::Q5_0 => (legacy::vec_dot_q5_0_q8_0 as VecDotFn, "q5_0_q8_0"),
        GgmlType::Q8_0 => (legacy::vec_dot_q8_0_q8_0 as VecDotFn, "q8_0_q8_0"),
        GgmlType::Q4_K => (k::vec_dot_q4_k_q8_k as VecDotFn, "q4_K_q8_K"),
        GgmlType::Q6_K => (k::vec_dot_q6_k_q8_k as VecDotFn, "q6_K_q8_K"),
        _ => return None,
    })
}

/// 16 bytes at `at` of `bytes` as a vector. Panics (never reads out of bounds) if there are
/// not 16 bytes there; callers index fixed-size block arrays with constant offsets.
#[inline(always)]
fn load16(bytes: &[u8], at: usize) -> v128 {
    let chunk: &[u8; 16] = bytes[at..at + 16].try_into().expect("16 bytes");
    // SAFETY: `chunk` is 16 readable bytes; wasm loads have no alignment requirement.
    unsafe { v128_load(chunk.as_ptr() as *const v128) }
}

/// Σ a[i]·b[i] of two i8x16 vectors as i32x4 partial sums (exact).
#[inline(always)]
fn dot_i8x16(a: v128, b: v128) -> v128 {
    let lo = i32x4_dot_i16x8(i16x8_extend_low_i8x16(a), i16x8_extend_low_i8x16(b));
    let hi = i32x4_dot_i16x8(i16x8_extend_high_i8x16(a), i16x8_extend_high_i8x16(b));
    i32x4_add(lo, hi)
}

/// Sum of the four i32 lanes (exact: the callers' sums are far from overflow).
#[inline(always)]
fn hsum_i32x4(v: v128) -> i32 {
    i32x4_extract_lane::<0>(v)
        + i32x4_extract_lane::<1>(v)
        + i32x4_extract_lane::<2>(v)
        + i32x4_extract_lane::<3>(v)
}
