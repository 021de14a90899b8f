//! WebAssembly SIMD128 vec-dot kernels for the weight types of the real models (Q4_0, Q5_0,
//! Q8_0, Q4_K, Q6_K), compiled only for `wasm32` with `target_feature = "simd128"`; the other
//! types use the scalar kernels in that build.
//!
//! In a build with `+relaxed-simd` as well, Q4_0/Q5_0/Q8_0 use the `relaxed` module's integer
//! dot products instead (same loop, same bits; their kernel names end in `/relaxed-simd`).
//!
//! Bit-identical to the scalar kernels (the truth): the integer work (block sums, and the eight
//! interleaved i32 lanes of the k-quants) is exact in any order, and every float operation is
//! the scalar kernel's, in its order: f32x4 lanes do per lane what the scalar loop does per
//! element, and i32 → f32 conversion rounds to nearest in both.

/// The one-row (`VecDotFn`) and two-row (`VecDotRows2Fn`) entry points of a 32-element kernel
/// module, over its generic `q8_0`/`q4_0`/`q5_0::<R>(n, [w; R], a) -> [f32; R]` (the two-row
/// form shares each activation block's preparation between the rows).
macro_rules! row_entry_points {
    ($($one:ident, $two:ident => $rows:ident;)*) => {$(
        #[doc = concat!("`", stringify!($one), "`.")]
        pub(super) fn $one(n: usize, w: &[u8], a: &[u8]) -> f32 {
            $rows(n, [w], a)[0]
        }
        #[doc = concat!("Two weight rows of `", stringify!($rows), "` against one activation row.")]
        pub(super) fn $two(n: usize, w: [&[u8]; 2], a: &[u8]) -> [f32; 2] {
            $rows(n, w, a)
        }
    )*};
}

mod k;
mod k4;
// In a relaxed-SIMD build `relaxed` replaces its Q4_0/Q5_0 entry points (Q8_0 falls back to it).
#[cfg_attr(target_feature = "relaxed-simd", allow(dead_code))]
mod tokens4;
// In a relaxed-SIMD build `relaxed` replaces this module's entry points (its loop is shared).
#[cfg_attr(target_feature = "relaxed-simd", allow(dead_code))]
mod legacy;
#[cfg(target_feature = "relaxed-simd")]
mod relaxed;

#[cfg(not(target_feature = "relaxed-simd"))]
use legacy as legacy32;
/// The 32-element kernels this build uses: the relaxed-SIMD ones where the build has the
/// feature (`-C target-feature=+simd128,+relaxed-simd`), else the SIMD128 ones.
#[cfg(target_feature = "relaxed-simd")]
use relaxed as legacy32;
#[cfg(target_feature = "relaxed-simd")]
use relaxed as tokens32;
/// The four-token (prefill) kernels of the 32-element types this build uses.
#[cfg(not(target_feature = "relaxed-simd"))]
use tokens4 as tokens32;

#[cfg(target_feature = "relaxed-simd")]
pub(crate) use relaxed::{fill_q8_0_extra, q8_0_extra_bytes};

/// Whether this build's kernel for `w` uses relaxed-SIMD instructions (for its name).
pub(crate) fn is_relaxed(w: GgmlType) -> bool {
    cfg!(target_feature = "relaxed-simd")
        && matches!(w, GgmlType::Q4_0 | GgmlType::Q5_0 | GgmlType::Q8_0)
}

use crate::dot::VecDotFn;
use chord_gguf::GgmlType;
use core::arch::wasm32::*;

/// The SIMD128 kernel for weight type `w` and its base name, if there is one.
pub(crate) fn lookup(w: GgmlType) -> Option<(VecDotFn, &'static str)> {
    Some(match w {
        GgmlType::Q4_0 => (legacy32::vec_dot_q4_0_q8_0 as VecDotFn, "q4_0_q8_0"),
        GgmlType::Q5_0 => (legacy32::vec_dot_q5_0_q8_0 as VecDotFn, "q5_0_q8_0"),
        GgmlType::Q8_0 => (legacy32::vec_dot_q8_0_q8_0 as VecDotFn, "q8_0_q8_0"),
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

/// The lane sums of four i32x4 vectors, as one i32x4 (`[Σv[0], Σv[1], Σv[2], Σv[3]]`): two
/// rounds of pairwise shuffles and adds instead of twelve lane extracts. Exact (integers).
#[inline(always)]
fn hsum4_i32x4(v: [v128; 4]) -> v128 {
    // [a0+a2, b0+b2, a1+a3, b1+b3] and the same for c, d.
    let ab = i32x4_add(
        i32x4_shuffle::<0, 4, 1, 5>(v[0], v[1]),
        i32x4_shuffle::<2, 6, 3, 7>(v[0], v[1]),
    );
    let cd = i32x4_add(
        i32x4_shuffle::<0, 4, 1, 5>(v[2], v[3]),
        i32x4_shuffle::<2, 6, 3, 7>(v[2], v[3]),
    );
    i32x4_add(
        i32x4_shuffle::<0, 1, 4, 5>(ab, cd),
        i32x4_shuffle::<2, 3, 6, 7>(ab, cd),
    )
}

/// Four IEEE halves (little-endian bytes) to f32x4, the same values as
/// `crate::block::f16_bits_to_f32` (exact; wasm has no F16C-like instruction). The magnitude
/// bits shifted into an f32's place read as 2^-112 times the half's value, zeros and subnormals
/// included (as f32 subnormals, which wasm never flushes), so one multiply by 2^112 rebiases
/// every finite half exactly; infinities and NaNs are selected apart.
#[inline(always)]
fn f16x4_to_f32x4(h: [&[u8; 2]; 4]) -> v128 {
    // Four 16-bit lane loads (wasm is little-endian), widened: fewer instructions in V8 than
    // building the vector from four scalars.
    let mut v = u16x8_splat(0);
    // SAFETY: each pointer is 2 readable bytes; wasm loads have no alignment requirement.
    unsafe {
        v = v128_load16_lane::<0>(v, h[0].as_ptr() as *const u16);
        v = v128_load16_lane::<1>(v, h[1].as_ptr() as *const u16);
        v = v128_load16_lane::<2>(v, h[2].as_ptr() as *const u16);
        v = v128_load16_lane::<3>(v, h[3].as_ptr() as *const u16);
    }
    let h = u32x4_extend_low_u16x8(v);
    let sign = i32x4_shl(v128_and(h, u32x4_splat(0x8000)), 16);
    let em = i32x4_shl(v128_and(h, u32x4_splat(0x7fff)), 13);
    let finite = f32x4_mul(em, f32x4_splat(f32::from_bits((127 + 112) << 23)));
    // Exponent all ones (em >= 0x7c00 before the shift): inf / NaN with the mantissa kept.
    let special = v128_or(em, u32x4_splat(0x7f80_0000));
    let is_special = i32x4_gt(em, u32x4_splat(0x0f7f_ffff));
    v128_or(sign, v128_bitselect(special, finite, is_special))
}

/// The SIMD128 two-row kernel (two weight rows, one activation row) for weight type `w`.
pub(crate) fn lookup_rows2(w: GgmlType) -> Option<crate::VecDotRows2Fn> {
    Some(match w {
        GgmlType::Q4_0 => legacy32::vec_dot2_q4_0_q8_0,
        GgmlType::Q5_0 => legacy32::vec_dot2_q5_0_q8_0,
        GgmlType::Q8_0 => legacy32::vec_dot2_q8_0_q8_0,
        _ => return None,
    })
}

/// The SIMD128 four-token kernel (prefill: one weight row, four activation rows) for weight
/// type `w`; per token the bits of the single-row kernel.
pub(crate) fn lookup4(w: GgmlType) -> Option<crate::VecDot4Fn> {
    Some(match w {
        GgmlType::Q4_0 => tokens32::q4_0_q8_0_x4,
        GgmlType::Q5_0 => tokens32::q5_0_q8_0_x4,
        GgmlType::Q8_0 => tokens32::q8_0_q8_0_x4,
        GgmlType::Q4_K => k4::q4_k_q8_k_x4,
        GgmlType::Q6_K => k4::q6_k_q8_k_x4,
        _ => return None,
    })
}
