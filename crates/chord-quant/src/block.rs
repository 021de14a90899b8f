//! Viewing GGUF bytes as blocks, and the scalar conversions every family shares.
//!
//! Tensor data in a GGUF file (or in a buffer we fill) has no alignment guarantee beyond one
//! byte, so every block struct in this crate is `#[repr(C)]` and made only of `u8` arrays:
//! alignment 1, no padding, every bit pattern valid. Multi-byte fields (`f16` scales, the `f32`
//! scale and `i16` sums of Q8_K, Q5's `u32` high bits) are stored as little-endian byte arrays
//! and decoded on use.

use std::mem::{align_of, size_of};

/// A block layout that can be viewed in place over a byte slice.
///
/// # Safety
/// Implementors must be `#[repr(C)]` structs whose fields are all `u8` or arrays of `u8`, so
/// that the type has alignment 1, no padding, and every bit pattern is a valid value.
pub unsafe trait Block: Copy + 'static {
    /// Elements per block.
    const ELEMS: usize;
}

/// Size (bytes) of one block of `B`.
pub const fn block_bytes<B: Block>() -> usize {
    size_of::<B>()
}

/// Views `bytes` as a slice of whole blocks; a trailing partial block is ignored.
#[inline(always)]
pub fn as_blocks<B: Block>(bytes: &[u8]) -> &[B] {
    debug_assert_eq!(align_of::<B>(), 1);
    let n = bytes.len() / size_of::<B>();
    // SAFETY: `B: Block` guarantees alignment 1, no padding and no invalid bit patterns, so any
    // byte address is suitably aligned and any bytes are a valid `B`. `n * size_of::<B>()` is
    // at most `bytes.len()`, so the new slice covers only memory borrowed from `bytes`, with the
    // same lifetime and (shared) mutability.
    unsafe { std::slice::from_raw_parts(bytes.as_ptr().cast::<B>(), n) }
}

/// Views `bytes` as a mutable slice of whole blocks; a trailing partial block is ignored.
#[inline(always)]
pub fn as_blocks_mut<B: Block>(bytes: &mut [u8]) -> &mut [B] {
    debug_assert_eq!(align_of::<B>(), 1);
    let n = bytes.len() / size_of::<B>();
    // SAFETY: as in `as_blocks`; the exclusive borrow of `bytes` is transferred to the result,
    // and every bit pattern we may write through `B`'s `u8` fields is valid for `u8`.
    unsafe { std::slice::from_raw_parts_mut(bytes.as_mut_ptr().cast::<B>(), n) }
}

/// IEEE half (little-endian bytes) to f32; exact.
#[inline(always)]
pub fn f16_to_f32(b: [u8; 2]) -> f32 {
    f16_bits_to_f32(u16::from_le_bytes(b))
}

/// IEEE half bits to f32; exact. Branch-free integer/float code with no runtime CPU-feature
/// check, so it inlines into the kernels (once or twice per block) without splitting their
/// straight-line integer work, which LLVM can then vectorise.
#[inline(always)]
pub fn f16_bits_to_f32(h: u16) -> f32 {
    let h = h as u32;
    let sign = (h & 0x8000) << 16;
    let em = h & 0x7fff;
    // Normal: rebias the exponent (15 -> 127).
    let normal = (em << 13) + ((127 - 15) << 23);
    // Zero or subnormal: em * 2^-24, exact in f32.
    let sub = (em as f32 * (1.0 / 16_777_216.0)).to_bits();
    // Inf / NaN.
    let special = 0x7f80_0000 | ((em & 0x03ff) << 13);
    let bits = if em < 0x0400 {
        sub
    } else if em >= 0x7c00 {
        special
    } else {
        normal
    };
    f32::from_bits(sign | bits)
}

/// f32 to IEEE half, round to nearest even (ggml's `GGML_FP32_TO_FP16`).
#[inline(always)]
pub fn f32_to_f16(x: f32) -> [u8; 2] {
    half::f16::from_f32(x).to_bits().to_le_bytes()
}

/// bfloat16 (little-endian bytes) to f32; exact.
#[inline(always)]
pub fn bf16_to_f32(b: [u8; 2]) -> f32 {
    f32::from_bits((u16::from_le_bytes(b) as u32) << 16)
}

/// f32 to bfloat16 as ggml's `ggml_compute_fp32_to_bf16`: round to nearest even, NaN forced
/// quiet (no flush of subnormals).
#[inline(always)]
pub fn f32_to_bf16(x: f32) -> [u8; 2] {
    let u = x.to_bits();
    let h = if (u & 0x7fff_ffff) > 0x7f80_0000 {
        (u >> 16) | 64
    } else {
        (u.wrapping_add(0x7fff + ((u >> 16) & 1))) >> 16
    };
    (h as u16).to_le_bytes()
}

/// ggml's `nearest_int`: round to nearest, ties to even, via the 1.5·2²³ trick. Valid for
/// |x| ≤ 4194303 (as in ggml); callers stay within that range.
#[inline(always)]
pub fn nearest_int(x: f32) -> i32 {
    let v = x + 12582912.0f32;
    ((v.to_bits() & 0x007f_ffff) as i32) - 0x0040_0000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f16_conversion_is_exact_for_every_half() {
        for h in 0..=u16::MAX {
            let ours = f16_bits_to_f32(h);
            let theirs = half::f16::from_bits(h).to_f32();
            if theirs.is_nan() {
                // (Payload quieting may differ; a NaN scale is garbage either way.)
                assert!(ours.is_nan(), "{h:#06x}");
            } else {
                assert_eq!(ours.to_bits(), theirs.to_bits(), "{h:#06x}");
            }
            // And back: every half round-trips through f32.
            if !theirs.is_nan() {
                assert_eq!(u16::from_le_bytes(f32_to_f16(ours)), h, "{h:#06x}");
            }
        }
    }

    #[test]
    fn bf16_conversion_rounds_to_nearest_even_and_keeps_nan_quiet() {
        assert_eq!(f32_to_bf16(1.0), 0x3f80u16.to_le_bytes());
        // 1 + 2^-8 is halfway between 1 and 1 + 2^-7: ties to even (1).
        assert_eq!(f32_to_bf16(1.0 + 1.0 / 256.0), 0x3f80u16.to_le_bytes());
        // 1 + 3 * 2^-8 is halfway between 1 + 2^-7 and 1 + 2^-6: ties to even (1 + 2^-6).
        assert_eq!(f32_to_bf16(1.0 + 3.0 / 256.0), 0x3f82u16.to_le_bytes());
        let nan = f32::from_bits(0x7f80_0001); // signalling NaN with a low payload
        assert_eq!(u16::from_le_bytes(f32_to_bf16(nan)), 0x7fc0);
        assert_eq!(bf16_to_f32(f32_to_bf16(-2.5)), -2.5);
    }

    #[test]
    fn nearest_int_rounds_ties_to_even() {
        let cases = [
            (0.5f32, 0),
            (1.5, 2),
            (2.5, 2),
            (-0.5, 0),
            (-1.5, -2),
            (126.49, 126),
            (-127.0, -127),
        ];
        for (x, want) in cases {
            assert_eq!(nearest_int(x), want, "{x}");
        }
    }
}
