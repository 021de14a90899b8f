//! `chord_model::math::expf` (the `libm` crate's port of FreeBSD/musl `expf`) for eight lanes
//! with AVX2, lane for lane the same operations in the same order, so every lane gets exactly
//! the scalar function's bits (tested on every 97th f32 bit pattern and densely over the
//! softmax range). The scalar code's branches become blends:
//! - the reduction `k` is `trunc(x/ln2 ± ½)` for |x| > 1.5 ln2, ±1 for 0.5 ln2 < |x| ≤ 1.5 ln2,
//!   else 0 (with k = 0 the general formula computes exactly what the scalar `k = 0` branch
//!   does: `x - 0·ln2hi = x`, `lo = 0`);
//! - |x| ≤ 2^-14 returns `1 + x`, NaN returns x, x ≥ 88.72 returns `x·2^127` (inf), and
//!   x ≤ -103.97 (and -inf) returns 0;
//! - `scalbnf(y, k)` rounds `y·2^k` once (libm pre-scales by an exact power of two when 2^k is
//!   not a normal float); here `y·2^⌊k/2⌋` is exact (y is near 1 and |k| ≤ 150) and the
//!   multiply by `2^(k-⌊k/2⌋)` rounds once, into the subnormals too: the same value.
//!
//! No multiply-add is fused: the scalar code has none (Rust never contracts).

use core::arch::x86_64::*;

const LN2_HI: f32 = f32::from_bits(0x3f31_7200);
const LN2_LO: f32 = f32::from_bits(0x35bf_be8e);
const INV_LN2: f32 = f32::from_bits(0x3fb8_aa3b);
const P1: f32 = f32::from_bits(0x3e2a_aa8f); // 0xaaaa8f.0p-26
const P2: f32 = f32::from_bits(0xbb35_5215); // -0xb55215.0p-32

/// `expf` of each lane, bit-identical to [`chord_model::math::expf`].
#[inline]
#[target_feature(enable = "avx2")]
pub(crate) unsafe fn expf8(x: __m256) -> __m256 {
    let bits = _mm256_castps_si256(x);
    let hx = _mm256_and_si256(bits, _mm256_set1_epi32(0x7fff_ffff));
    let neg = _mm256_srai_epi32::<31>(bits); // all ones where the sign bit is set
    let gt = |c: u32| gt_u31(hx, c);

    // Argument reduction.
    let half = _mm256_blendv_ps(
        _mm256_set1_ps(0.5),
        _mm256_set1_ps(-0.5),
        _mm256_castsi256_ps(neg),
    );
    let k_far = _mm256_cvttps_epi32(_mm256_add_ps(
        _mm256_mul_ps(_mm256_set1_ps(INV_LN2), x),
        half,
    ));
    let k_near = _mm256_or_si256(neg, _mm256_set1_epi32(1)); // 1 - 2·sign: 1 or -1
    let k = _mm256_blendv_epi8(
        _mm256_and_si256(k_near, gt(0x3eb1_7218)),
        k_far,
        gt(0x3f85_1592),
    );
    let kf = _mm256_cvtepi32_ps(k);
    let hi = _mm256_sub_ps(x, _mm256_mul_ps(kf, _mm256_set1_ps(LN2_HI)));
    let lo = _mm256_mul_ps(kf, _mm256_set1_ps(LN2_LO));
    let r = _mm256_sub_ps(hi, lo);

    // The primary range: y = 1 + (r·c/(2 - c) - lo + hi).
    let rr = _mm256_mul_ps(r, r);
    let c = _mm256_sub_ps(
        r,
        _mm256_mul_ps(
            rr,
            _mm256_add_ps(_mm256_set1_ps(P1), _mm256_mul_ps(rr, _mm256_set1_ps(P2))),
        ),
    );
    let q = _mm256_div_ps(_mm256_mul_ps(r, c), _mm256_sub_ps(_mm256_set1_ps(2.0), c));
    let y = _mm256_add_ps(_mm256_set1_ps(1.0), _mm256_add_ps(_mm256_sub_ps(q, lo), hi));

    // y·2^k, rounded once.
    let k_hi = _mm256_srai_epi32::<1>(k);
    let k_lo = _mm256_sub_epi32(k, k_hi);
    let mut res = _mm256_mul_ps(_mm256_mul_ps(y, pow2(k_hi)), pow2(k_lo));

    // The special cases, in the reverse order of the scalar code's early returns.
    let tiny = _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_set1_epi32(0x3900_0001), hx));
    res = _mm256_blendv_ps(res, _mm256_add_ps(_mm256_set1_ps(1.0), x), tiny);
    let under = _mm256_castsi256_ps(_mm256_and_si256(neg, gt(0x42cf_f1b4)));
    res = _mm256_andnot_ps(under, res);
    let over = _mm256_castsi256_ps(_mm256_andnot_si256(neg, gt(0x42b1_7217)));
    let big = _mm256_mul_ps(x, _mm256_set1_ps(f32::from_bits(0x7f00_0000)));
    res = _mm256_blendv_ps(res, big, over);
    let nan = _mm256_castsi256_ps(gt(0x7f80_0000));
    _mm256_blendv_ps(res, x, nan)
}

/// `a > c` per lane, for `a` and `c` below 2^31 (so the signed compare is the unsigned one).
#[inline]
#[target_feature(enable = "avx2")]
fn gt_u31(a: __m256i, c: u32) -> __m256i {
    _mm256_cmpgt_epi32(a, _mm256_set1_epi32(c as i32))
}

/// 2^e per lane, for normal exponents (-126 ≤ e ≤ 127).
#[inline]
#[target_feature(enable = "avx2")]
fn pow2(e: __m256i) -> __m256 {
    _mm256_castsi256_ps(_mm256_slli_epi32::<23>(_mm256_add_epi32(
        e,
        _mm256_set1_epi32(127),
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chord_model::math::expf;

    fn check(xs: &[f32]) {
        for grp in xs.chunks(8) {
            let mut lanes = [0f32; 8];
            lanes[..grp.len()].copy_from_slice(grp);
            let mut got = [0f32; 8];
            // SAFETY: guarded by the caller's AVX2 check.
            unsafe { _mm256_storeu_ps(got.as_mut_ptr(), expf8(_mm256_loadu_ps(lanes.as_ptr()))) };
            for (&x, g) in grp.iter().zip(got) {
                let want = expf(x);
                assert!(
                    g.to_bits() == want.to_bits() || (g.is_nan() && want.is_nan()),
                    "expf({x:e} = {:#010x}): {g:e} ({:#010x}) vs {want:e} ({:#010x})",
                    x.to_bits(),
                    g.to_bits(),
                    want.to_bits()
                );
            }
        }
    }

    /// Every 97th bit pattern of all 2^32 (44 million inputs: both signs, every exponent,
    /// NaNs, infinities, subnormal results), then every f32 from -104 to 0 in steps of about
    /// 2^-11 relative (where attention's arguments live) and the branch thresholds' neighbours.
    #[test]
    fn vector_expf_is_bit_identical_to_libm() {
        if !std::is_x86_feature_detected!("avx2") {
            return;
        }
        let mut xs = Vec::with_capacity(1 << 20);
        let mut b = 0u64;
        while b <= u32::MAX as u64 {
            xs.push(f32::from_bits(b as u32));
            if xs.len() == 1 << 20 {
                check(&xs);
                xs.clear();
            }
            b += 97;
        }
        check(&xs);
        xs.clear();
        // -104..0: the bits of -0.0 up to those of -104, every 4096th pattern.
        let mut b = 0x8000_0000u32;
        while b <= 0xc2d0_0000 {
            xs.push(f32::from_bits(b));
            b += 4096;
        }
        for t in [
            0x3900_0000u32,
            0x3eb1_7218,
            0x3f85_1592,
            0x42ae_ac50,
            0x42b1_7218,
            0x42cf_f1b5,
            0x7f80_0000,
        ] {
            for d in 0..6u32 {
                for s in [0, 0x8000_0000] {
                    xs.push(f32::from_bits((t + d).wrapping_sub(3) | s));
                }
            }
        }
        xs.extend([
            0.0,
            -0.0,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::NAN,
            -f32::NAN,
        ]);
        check(&xs);
    }
}
