//! Hand-written x86_64 vec-dot kernels (AVX2+FMA, and the same code with AVX-512 VNNI's
//! `vpdpbusd` for the u8×i8 pair sums).
//!
//! Each kernel follows the reduction order of ggml's x86 kernel for the same pair of types
//! (per-block integer sums in 8 lanes, one FMA per block into 8 float lanes, then the same
//! horizontal sum), so on this machine our dot products round like llama.cpp's rather than
//! like its generic C. The integer work is exact, so the VNNI flavour returns exactly what the
//! AVX2 flavour does. Results differ from the scalar kernels (the truth, summed in another
//! order) only by float rounding; the property tests bound that.
//!
//! Every kernel is safe to call with any slices (blocks beyond the shorter one are ignored, as
//! [`crate::VecDotFn`] documents) but must only be called on a CPU with the module's features:
//! `dot.rs` hands them out only after runtime detection.

/// One Q5_0 block as the tile kernels read it (`crate::Q5_0_UNPACKED` bytes): the 32 quants
/// without their offset (`nibble | fifth bit << 4`, 0..32) and the scale as an f32. Made once
/// per tile of rows (`unpack_q5_0_row`) so every token quad of the tile skips the unpacking.
#[derive(Clone, Copy)]
#[repr(C)]
pub(crate) struct UnpackedQ5_0 {
    q: [u8; 32],
    d: [u8; 4],
}

// SAFETY: `repr(C)`, byte arrays only.
unsafe impl crate::block::Block for UnpackedQ5_0 {
    const ELEMS: usize = 32;
}

const _: () = assert!(core::mem::size_of::<UnpackedQ5_0>() == crate::Q5_0_UNPACKED);

macro_rules! x86_kernels {
    ($feat:literal, $vnni:literal) => {
        use crate::block::as_blocks;
        use crate::iq::{BlockIQ4_NL as BlockIQ4NL, BlockIQ4_XS as BlockIQ4XS, KVALUES_IQ4NL};
        use crate::k::{BlockQ4K, BlockQ5K, BlockQ6K, BlockQ8K, QK_K};
        use crate::legacy::{
            BlockQ4_0, BlockQ4_1, BlockQ5_0, BlockQ5_1, BlockQ8_0, BlockQ8_1, Q8_0_EXTRA,
        };
        use super::UnpackedQ5_0;
        use core::arch::x86_64::*;

        const QK: usize = 32;

        /// IEEE half to f32 with F16C (exact, like the portable conversion).
        ///
        /// Written as `vmovd` + `vcvtph2ps` in asm because the intrinsics' version loses to the
        /// optimiser: with one demanded half, LLVM loads it with `vpinsrw` into whatever
        /// register is free, often the kernel's accumulator, which chains every block's scale
        /// conversion behind the previous block's FMA (measured: the Q5_0 and Q8_0 kernels ran
        /// at a third of their speed). `vmovd` writes the whole register: no false dependency.
        #[inline]
        #[target_feature(enable = $feat)]
        unsafe fn f16_to_f32(b: [u8; 2]) -> f32 {
            let h = u16::from_le_bytes(b) as u32;
            let r: f32;
            core::arch::asm!(
                "vmovd {x}, {h:e}",
                "vcvtph2ps {x}, {x}",
                h = in(reg) h,
                x = out(xmm_reg) r,
                options(pure, nomem, nostack, preserves_flags),
            );
            r
        }

        #[inline]
        #[target_feature(enable = $feat)]
        unsafe fn hsum_float_8(x: __m256) -> f32 {
            let mut r = _mm256_extractf128_ps::<1>(x);
            r = _mm_add_ps(r, _mm256_castps256_ps128(x));
            r = _mm_add_ps(r, _mm_movehl_ps(r, r));
            r = _mm_add_ss(r, _mm_movehdup_ps(r));
            _mm_cvtss_f32(r)
        }

        /// Sums of 4 adjacent u8×i8 products, as 8 floats.
        #[inline]
        #[target_feature(enable = $feat)]
        unsafe fn mul_sum_us8_pairs_float(ax: __m256i, sy: __m256i) -> __m256 {
            if $vnni {
                _mm256_cvtepi32_ps(_mm256_dpbusd_epi32(_mm256_setzero_si256(), ax, sy))
            } else {
                let dot = _mm256_maddubs_epi16(ax, sy);
                _mm256_cvtepi32_ps(_mm256_madd_epi16(_mm256_set1_epi16(1), dot))
            }
        }

        /// Sums of 4 adjacent i8×i8 products, as 8 i32 (sign moved onto `y`).
        #[inline]
        #[target_feature(enable = $feat)]
        unsafe fn mul_sum_i8_pairs_i32(x: __m256i, y: __m256i) -> __m256i {
            let ax = _mm256_sign_epi8(x, x);
            let sy = _mm256_sign_epi8(y, x);
            if $vnni {
                _mm256_dpbusd_epi32(_mm256_setzero_si256(), ax, sy)
            } else {
                _mm256_madd_epi16(_mm256_set1_epi16(1), _mm256_maddubs_epi16(ax, sy))
            }
        }

        /// Sums of 4 adjacent i8×i8 products, as 8 floats (sign moved onto `y` so the u8×i8
        /// instruction applies).
        #[inline]
        #[target_feature(enable = $feat)]
        unsafe fn mul_sum_i8_pairs_float(x: __m256i, y: __m256i) -> __m256 {
            let ax = _mm256_sign_epi8(x, x);
            let sy = _mm256_sign_epi8(y, x);
            mul_sum_us8_pairs_float(ax, sy)
        }

        /// i8×i8 products summed in pairs, as 16 i16.
        #[inline]
        #[target_feature(enable = $feat)]
        unsafe fn mul_add_epi8(x: __m256i, y: __m256i) -> __m256i {
            let ax = _mm256_sign_epi8(x, x);
            let sy = _mm256_sign_epi8(y, x);
            _mm256_maddubs_epi16(ax, sy)
        }

        /// 32 bits to 32 bytes of 0x00 / 0xFF.
        #[inline]
        #[target_feature(enable = $feat)]
        unsafe fn bytes_from_bits_32(b: [u8; 4]) -> __m256i {
            let x32 = u32::from_le_bytes(b) as i32;
            let shuf = _mm256_set_epi64x(
                0x0303030303030303,
                0x0202020202020202,
                0x0101010101010101,
                0,
            );
            let bytes = _mm256_shuffle_epi8(_mm256_set1_epi32(x32), shuf);
            let bit_mask = _mm256_set1_epi64x(0x7fbfdfeff7fbfdfe);
            let bytes = _mm256_or_si256(bytes, bit_mask);
            _mm256_cmpeq_epi8(bytes, _mm256_set1_epi64x(-1))
        }

        /// 16 bytes of nibbles to 32 bytes in 0..15: low nibbles first, then high nibbles.
        #[inline]
        #[target_feature(enable = $feat)]
        unsafe fn bytes_from_nibbles_32(qs: &[u8; 16]) -> __m256i {
            let tmp = _mm_loadu_si128(qs.as_ptr() as *const __m128i);
            let bytes = _mm256_set_m128i(_mm_srli_epi16::<4>(tmp), tmp);
            _mm256_and_si256(_mm256_set1_epi8(0xF), bytes)
        }

        #[inline]
        #[target_feature(enable = $feat)]
        unsafe fn load32(b: &[u8]) -> __m256i {
            debug_assert!(b.len() >= 32);
            _mm256_loadu_si256(b.as_ptr() as *const __m256i)
        }

        #[target_feature(enable = $feat)]
        unsafe fn q8_0_q8_0_impl(n: usize, w: &[u8], a: &[u8]) -> f32 {
            if let Some((ys, es)) = q8_0_rows_with_extra(n, [a]) {
                let unpack = |x: &BlockQ8_0| unpack_q8_0(x);
                return legacy_extra::<BlockQ8_0, false, 1>(n, w, ys, es, unpack)[0];
            }
            let (xs, ys) = (as_blocks::<BlockQ8_0>(w), as_blocks::<BlockQ8_0>(a));
            let mut acc = _mm256_setzero_ps();
            for (x, y) in xs.iter().zip(ys).take(n / QK) {
                let d = _mm256_set1_ps(f16_to_f32(x.d) * f16_to_f32(y.d));
                let q = mul_sum_i8_pairs_float(load32(&x.qs), load32(&y.qs));
                acc = _mm256_fmadd_ps(d, q, acc);
            }
            hsum_float_8(acc)
        }

        #[target_feature(enable = $feat)]
        /// llama.cpp repacks Q4_0 (and IQ4_NL) matrices of 8k rows on x86 and runs its
        /// `gemv/gemm_q4_b32_8x8_q8_0` kernels: per 32-value block the exact integer dot, then
        /// one FMA by (weight scale × activation scale); rows and quads alike.
        unsafe fn q4_0_q8_0_impl(n: usize, w: &[u8], a: &[u8]) -> f32 {
            let (xs, ys) = (as_blocks::<BlockQ4_0>(w), as_blocks::<BlockQ8_0>(a));
            let mut acc = 0f32;
            for (x, y) in xs.iter().zip(ys).take(n / QK) {
                let qx = _mm256_sub_epi8(bytes_from_nibbles_32(&x.qs), _mm256_set1_epi8(8));
                let isum = hsum_i32_8(mul_sum_i8_pairs_i32(qx, load32(&y.qs)));
                acc = (isum as f32).mul_add(f16_to_f32(x.d) * f16_to_f32(y.d), acc);
            }
            acc
        }

        #[target_feature(enable = $feat)]
        unsafe fn q4_1_q8_1_impl(n: usize, w: &[u8], a: &[u8]) -> f32 {
            let (xs, ys) = (as_blocks::<BlockQ4_1>(w), as_blocks::<BlockQ8_1>(a));
            let mut acc = _mm256_setzero_ps();
            let mut summs = 0f32;
            for (x, y) in xs.iter().zip(ys).take(n / QK) {
                summs += f16_to_f32(x.m) * f16_to_f32(y.s);
                let d0d1 = _mm256_mul_ps(
                    _mm256_set1_ps(f16_to_f32(x.d)),
                    _mm256_set1_ps(f16_to_f32(y.d)),
                );
                let xy = mul_sum_us8_pairs_float(bytes_from_nibbles_32(&x.qs), load32(&y.qs));
                acc = _mm256_fmadd_ps(d0d1, xy, acc);
            }
            hsum_float_8(acc) + summs
        }

        #[target_feature(enable = $feat)]
        unsafe fn q5_0_q8_0_impl(n: usize, w: &[u8], a: &[u8]) -> f32 {
            if let Some((ys, es)) = q8_0_rows_with_extra(n, [a]) {
                let unpack = |x: &BlockQ5_0| unpack_q5_0_unsigned(x);
                return legacy_extra::<BlockQ5_0, true, 1>(n, w, ys, es, unpack)[0];
            }
            let (xs, ys) = (as_blocks::<BlockQ5_0>(w), as_blocks::<BlockQ8_0>(a));
            let mut acc = _mm256_setzero_ps();
            for (x, y) in xs.iter().zip(ys).take(n / QK) {
                let d = _mm256_set1_ps(f16_to_f32(x.d) * f16_to_f32(y.d));
                let qx = bytes_from_nibbles_32(&x.qs);
                // A clear 5th bit means value - 16: set the byte's top nibble (two's complement).
                let hi =
                    _mm256_andnot_si256(bytes_from_bits_32(x.qh), _mm256_set1_epi8(0xF0u8 as i8));
                let q = mul_sum_i8_pairs_float(_mm256_or_si256(qx, hi), load32(&y.qs));
                acc = _mm256_fmadd_ps(d, q, acc);
            }
            hsum_float_8(acc)
        }

        #[target_feature(enable = $feat)]
        unsafe fn q5_1_q8_1_impl(n: usize, w: &[u8], a: &[u8]) -> f32 {
            let (xs, ys) = (as_blocks::<BlockQ5_1>(w), as_blocks::<BlockQ8_1>(a));
            let mut acc = _mm256_setzero_ps();
            let mut summs = 0f32;
            for (x, y) in xs.iter().zip(ys).take(n / QK) {
                let dx = _mm256_set1_ps(f16_to_f32(x.d));
                summs += f16_to_f32(x.m) * f16_to_f32(y.s);
                let hi = _mm256_and_si256(bytes_from_bits_32(x.qh), _mm256_set1_epi8(0x10));
                let qx = _mm256_or_si256(bytes_from_nibbles_32(&x.qs), hi);
                let dy = _mm256_set1_ps(f16_to_f32(y.d));
                let q = mul_sum_us8_pairs_float(qx, load32(&y.qs));
                acc = _mm256_fmadd_ps(q, _mm256_mul_ps(dx, dy), acc);
            }
            hsum_float_8(acc) + summs
        }

        /// 32 IQ4 indices (16 bytes) looked up in the non-linear table: low nibbles, then high.
        #[inline]
        #[target_feature(enable = $feat)]
        unsafe fn iq4_lookup(values: __m128i, qs: &[u8]) -> __m256i {
            let m4 = _mm_set1_epi8(0x0f);
            let bits = _mm_loadu_si128(qs.as_ptr() as *const __m128i);
            _mm256_set_m128i(
                _mm_shuffle_epi8(values, _mm_and_si128(_mm_srli_epi16::<4>(bits), m4)),
                _mm_shuffle_epi8(values, _mm_and_si128(bits, m4)),
            )
        }

        #[target_feature(enable = $feat)]
        /// Repacked by llama.cpp like Q4_0 (see `q4_0_q8_0_impl`): per block the exact
        /// integer dot, one FMA by (weight scale × activation scale).
        unsafe fn iq4_nl_q8_0_impl(n: usize, w: &[u8], a: &[u8]) -> f32 {
            let (xs, ys) = (as_blocks::<BlockIQ4NL>(w), as_blocks::<BlockQ8_0>(a));
            let values = _mm_loadu_si128(KVALUES_IQ4NL.as_ptr() as *const __m128i);
            let mut acc = 0f32;
            for (x, y) in xs.iter().zip(ys).take(n / QK) {
                let isum = hsum_i32_8(mul_sum_i8_pairs_i32(
                    iq4_lookup(values, &x.qs),
                    load32(&y.qs),
                ));
                acc = (isum as f32).mul_add(f16_to_f32(x.d) * f16_to_f32(y.d), acc);
            }
            acc
        }

        #[target_feature(enable = $feat)]
        unsafe fn iq4_xs_q8_k_impl(n: usize, w: &[u8], a: &[u8]) -> f32 {
            let (xs, ys) = (as_blocks::<BlockIQ4XS>(w), as_blocks::<BlockQ8K>(a));
            let values = _mm_loadu_si128(KVALUES_IQ4NL.as_ptr() as *const __m128i);
            let mut acc = _mm256_setzero_ps();
            for (x, y) in xs.iter().zip(ys).take(n / QK_K) {
                let mut sh = u16::from_le_bytes(x.scales_h) as i32;
                let (mut s1, mut s2) = (_mm256_setzero_si256(), _mm256_setzero_si256());
                for ib in (0..QK_K / 32).step_by(2) {
                    let q4b1 = iq4_lookup(values, &x.qs[ib * 16..]);
                    let q4b2 = iq4_lookup(values, &x.qs[ib * 16 + 16..]);
                    let p1 = mul_add_epi8(q4b1, load32(&y.qs[ib * 32..]));
                    let p2 = mul_add_epi8(q4b2, load32(&y.qs[ib * 32 + 32..]));
                    let sl = x.scales_l[ib / 2] as i32;
                    let ls1 = ((sl & 0xf) | ((sh << 4) & 0x30)) - 32;
                    let ls2 = ((sl >> 4) | ((sh << 2) & 0x30)) - 32;
                    sh >>= 4;
                    s1 = _mm256_add_epi32(_mm256_madd_epi16(p1, _mm256_set1_epi16(ls1 as i16)), s1);
                    s2 = _mm256_add_epi32(_mm256_madd_epi16(p2, _mm256_set1_epi16(ls2 as i16)), s2);
                }
                let d = f16_to_f32(x.d) * f32::from_le_bytes(y.d);
                acc = _mm256_fmadd_ps(
                    _mm256_set1_ps(d),
                    _mm256_cvtepi32_ps(_mm256_add_epi32(s1, s2)),
                    acc,
                );
            }
            hsum_float_8(acc)
        }

        #[target_feature(enable = $feat)]
        unsafe fn q4_k_q8_k_impl(n: usize, w: &[u8], a: &[u8]) -> f32 {
            let (xs, ys) = (as_blocks::<BlockQ4K>(w), as_blocks::<BlockQ8K>(a));
            let m4 = _mm256_set1_epi8(0xF);
            let mut acc = 0f32;
            let mut acc_m = 0f32;
            for (x, y) in xs.iter().zip(ys).take(n / QK_K) {
                let yd = f32::from_le_bytes(y.d);
                let mins_and_scales = k4_mins_and_scales(&x.scales);
                let q8sums = load32(&y.bsums);
                let q8s = _mm_hadd_epi16(
                    _mm256_extracti128_si256::<0>(q8sums),
                    _mm256_extracti128_si256::<1>(q8sums),
                );
                let prod = _mm_madd_epi16(_mm256_extracti128_si256::<1>(mins_and_scales), q8s);

                let sc128 = _mm256_extracti128_si256::<0>(mins_and_scales);
                let scales = _mm256_set_m128i(sc128, sc128);
                let mut sumi = _mm256_setzero_si256();
                for j in 0..QK_K / 64 {
                    let scale_l = _mm256_shuffle_epi8(scales, scale_shuffle_k4(2 * j));
                    let scale_h = _mm256_shuffle_epi8(scales, scale_shuffle_k4(2 * j + 1));
                    let q4bits = load32(&x.qs[32 * j..]);
                    let q4l = _mm256_and_si256(q4bits, m4);
                    let q4h = _mm256_and_si256(_mm256_srli_epi16::<4>(q4bits), m4);
                    let p16l = _mm256_madd_epi16(
                        scale_l,
                        _mm256_maddubs_epi16(q4l, load32(&y.qs[64 * j..])),
                    );
                    let p16h = _mm256_madd_epi16(
                        scale_h,
                        _mm256_maddubs_epi16(q4h, load32(&y.qs[64 * j + 32..])),
                    );
                    sumi = _mm256_add_epi32(sumi, _mm256_add_epi32(p16l, p16h));
                }
                // ggml's repacked Q4_K gemv/gemm order (what llama.cpp runs on x86 for matrices
                // of 8k rows): the block's exact integer sums, one FMA per super-block each.
                acc = (hsum_i32_8(sumi) as f32).mul_add(f16_to_f32(x.d) * yd, acc);
                acc_m = (hsum_i32_4(prod) as f32).mul_add(f16_to_f32(x.dmin) * yd, acc_m);
            }
            acc - acc_m
        }

        /// Exact integer sum of 8 lanes.
        #[inline]
        #[target_feature(enable = $feat)]
        unsafe fn hsum_i32_8(x: __m256i) -> i32 {
            hsum_i32_4(_mm_add_epi32(
                _mm256_extracti128_si256::<0>(x),
                _mm256_extracti128_si256::<1>(x),
            ))
        }

        /// Exact integer sum of 4 lanes.
        #[inline]
        #[target_feature(enable = $feat)]
        unsafe fn hsum_i32_4(x: __m128i) -> i32 {
            let x = _mm_add_epi32(x, _mm_unpackhi_epi64(x, x));
            let x = _mm_add_epi32(x, _mm_shuffle_epi32::<0b01>(x));
            _mm_cvtsi128_si32(x)
        }

        /// Q5_K against 4 activation rows. `TILED` false: ggml's AVX2 `vec_dot_q5_K_q8_K` order
        /// (8 float lanes per block, the mins summed apart, fused: GCC contracts
        /// `summs += dmin * hsum`); true: its tiled matmul order for ubatches of 8+ rows (per
        /// block float(Σ sc·dot)·d, minus dmin·Σ m·bsum fused, then fused into the running sum
        /// times the activation scale).
        unsafe fn q5_k_q8_k_x4_impl<const TILED: bool>(
            n: usize,
            w: &[u8],
            a: [&[u8]; 4],
        ) -> [f32; 4] {
            let xs = as_blocks::<BlockQ5K>(w);
            let ys = a.map(as_blocks::<BlockQ8K>);
            let nb = (n / QK_K)
                .min(xs.len())
                .min(ys.iter().map(|y| y.len()).min().unwrap_or(0));
            let m4 = _mm256_set1_epi8(0xF);
            let mut acc = [_mm256_setzero_ps(); 4];
            let mut summs = [0f32; 4];
            let mut tiled = [0f32; 4];
            for i in 0..nb {
                let x = &xs[i];
                let (xd, xdmin) = (f16_to_f32(x.d), f16_to_f32(x.dmin));
                let mins_and_scales = k4_mins_and_scales(&x.scales);
                let mins = _mm256_extracti128_si256::<1>(mins_and_scales);
                let sc128 = _mm256_extracti128_si256::<0>(mins_and_scales);
                let scales = _mm256_set_m128i(sc128, sc128);
                let hbits = load32(&x.qh);
                let mut q5 = [_mm256_setzero_si256(); 8];
                let mut sc = [_mm256_setzero_si256(); 8];
                let mut hmask = _mm256_set1_epi8(1);
                for j in 0..QK_K / 64 {
                    let q5bits = load32(&x.qs[32 * j..]);
                    let hi0 = _mm256_and_si256(hbits, hmask);
                    hmask = _mm256_slli_epi16::<1>(hmask);
                    let hi1 = _mm256_and_si256(hbits, hmask);
                    hmask = _mm256_slli_epi16::<1>(hmask);
                    // The fifth bit of value k sits at bit 2j (first 32) or 2j+1 of qh[k].
                    let h0 = _mm256_slli_epi16::<4>(_mm256_srl_epi16(
                        hi0,
                        _mm_cvtsi32_si128((2 * j) as i32),
                    ));
                    let h1 = _mm256_slli_epi16::<4>(_mm256_srl_epi16(
                        hi1,
                        _mm_cvtsi32_si128((2 * j + 1) as i32),
                    ));
                    q5[2 * j] = _mm256_add_epi8(_mm256_and_si256(q5bits, m4), h0);
                    q5[2 * j + 1] =
                        _mm256_add_epi8(_mm256_and_si256(_mm256_srli_epi16::<4>(q5bits), m4), h1);
                    sc[2 * j] = _mm256_shuffle_epi8(scales, scale_shuffle_k4(2 * j));
                    sc[2 * j + 1] = _mm256_shuffle_epi8(scales, scale_shuffle_k4(2 * j + 1));
                }
                for t in 0..4 {
                    let y = &ys[t][i];
                    let yd = f32::from_le_bytes(y.d);
                    let q8sums = load32(&y.bsums);
                    let q8s = _mm_hadd_epi16(
                        _mm256_extracti128_si256::<0>(q8sums),
                        _mm256_extracti128_si256::<1>(q8sums),
                    );
                    let imin = hsum_i32_4(_mm_madd_epi16(mins, q8s));
                    let mut sumi = _mm256_setzero_si256();
                    for j in 0..QK_K / 64 {
                        let p0 = _mm256_madd_epi16(
                            sc[2 * j],
                            _mm256_maddubs_epi16(q5[2 * j], load32(&y.qs[64 * j..])),
                        );
                        let p1 = _mm256_madd_epi16(
                            sc[2 * j + 1],
                            _mm256_maddubs_epi16(q5[2 * j + 1], load32(&y.qs[64 * j + 32..])),
                        );
                        sumi = _mm256_add_epi32(sumi, _mm256_add_epi32(p0, p1));
                    }
                    if TILED {
                        let r = (hsum_i32_8(sumi) as f32) * xd;
                        let r = (-xdmin).mul_add(imin as f32, r);
                        tiled[t] = r.mul_add(yd, tiled[t]);
                    } else {
                        let d = yd * xd;
                        let dmin = -yd * xdmin;
                        summs[t] = dmin.mul_add(imin as f32, summs[t]);
                        acc[t] =
                            _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc[t]);
                    }
                }
            }
            if TILED {
                return tiled;
            }
            [0, 1, 2, 3].map(|t| hsum_float_8(acc[t]) + summs[t])
        }

        /// Q4_K's 12 scale bytes hold 8 six-bit scales and 8 six-bit mins: rearranged into 8
        /// scales then 8 mins, widened to 16 lanes of i16.
        #[inline]
        #[target_feature(enable = $feat)]
        unsafe fn k4_mins_and_scales(s: &[u8; 12]) -> __m256i {
            const KMASK1: u32 = 0x3f3f3f3f;
            const KMASK2: u32 = 0x0f0f0f0f;
            const KMASK3: u32 = 0x03030303;
            let mut u = [
                u32::from_le_bytes([s[0], s[1], s[2], s[3]]),
                u32::from_le_bytes([s[4], s[5], s[6], s[7]]),
                u32::from_le_bytes([s[8], s[9], s[10], s[11]]),
                0,
            ];
            u[3] = ((u[2] >> 4) & KMASK2) | (((u[1] >> 6) & KMASK3) << 4);
            let uaux = u[1] & KMASK1;
            u[1] = (u[2] & KMASK2) | (((u[0] >> 6) & KMASK3) << 4);
            u[2] = uaux;
            u[0] &= KMASK1;
            _mm256_cvtepu8_epi16(_mm_set_epi32(
                u[3] as i32,
                u[2] as i32,
                u[1] as i32,
                u[0] as i32,
            ))
        }

        /// Shuffle picking 16-bit scale `i` into every 16-bit lane.
        #[inline]
        #[target_feature(enable = $feat)]
        unsafe fn scale_shuffle_k4(i: usize) -> __m256i {
            _mm256_set1_epi16((((2 * i + 1) << 8) | (2 * i)) as i16)
        }

        #[target_feature(enable = $feat)]
        unsafe fn q6_k_q8_k_impl(n: usize, w: &[u8], a: &[u8]) -> f32 {
            let (xs, ys) = (as_blocks::<BlockQ6K>(w), as_blocks::<BlockQ8K>(a));
            let m3 = _mm256_set1_epi8(3);
            let m15 = _mm256_set1_epi8(15);
            let mut acc = _mm256_setzero_ps();
            for (x, y) in xs.iter().zip(ys).take(n / QK_K) {
                let d = f32::from_le_bytes(y.d) * f16_to_f32(x.d);
                let q8sums = load32(&y.bsums);
                let scales = _mm_loadu_si128(x.scales.as_ptr() as *const __m128i);
                let scales_16 = _mm256_cvtepi8_epi16(scales);
                // The 6-bit values are stored +32: subtract 32·Σ scale·q8 once per block.
                let q8sclsub = _mm256_slli_epi32::<5>(_mm256_madd_epi16(q8sums, scales_16));
                let mut sumi = _mm256_setzero_si256();
                for j in 0..QK_K / 128 {
                    let q4bits1 = load32(&x.ql[64 * j..]);
                    let q4bits2 = load32(&x.ql[64 * j + 32..]);
                    let q4bits_h = load32(&x.qh[32 * j..]);
                    let q4h0 = _mm256_slli_epi16::<4>(_mm256_and_si256(q4bits_h, m3));
                    let q4h1 =
                        _mm256_slli_epi16::<2>(_mm256_and_si256(q4bits_h, _mm256_set1_epi8(12)));
                    let q4h2 = _mm256_and_si256(q4bits_h, _mm256_set1_epi8(48));
                    let q4h3 =
                        _mm256_srli_epi16::<2>(_mm256_and_si256(q4bits_h, _mm256_set1_epi8(-64)));
                    let q0 = _mm256_or_si256(_mm256_and_si256(q4bits1, m15), q4h0);
                    let q1 = _mm256_or_si256(_mm256_and_si256(q4bits2, m15), q4h1);
                    let q2 = _mm256_or_si256(
                        _mm256_and_si256(_mm256_srli_epi16::<4>(q4bits1), m15),
                        q4h2,
                    );
                    let q3 = _mm256_or_si256(
                        _mm256_and_si256(_mm256_srli_epi16::<4>(q4bits2), m15),
                        q4h3,
                    );
                    let p0 = _mm256_maddubs_epi16(q0, load32(&y.qs[128 * j..]));
                    let p1 = _mm256_maddubs_epi16(q1, load32(&y.qs[128 * j + 32..]));
                    let p2 = _mm256_maddubs_epi16(q2, load32(&y.qs[128 * j + 64..]));
                    let p3 = _mm256_maddubs_epi16(q3, load32(&y.qs[128 * j + 96..]));
                    let is = 4 * j;
                    let p0 = _mm256_madd_epi16(
                        _mm256_cvtepi8_epi16(_mm_shuffle_epi8(scales, scale_shuffle_q6(is))),
                        p0,
                    );
                    let p1 = _mm256_madd_epi16(
                        _mm256_cvtepi8_epi16(_mm_shuffle_epi8(scales, scale_shuffle_q6(is + 1))),
                        p1,
                    );
                    let p2 = _mm256_madd_epi16(
                        _mm256_cvtepi8_epi16(_mm_shuffle_epi8(scales, scale_shuffle_q6(is + 2))),
                        p2,
                    );
                    let p3 = _mm256_madd_epi16(
                        _mm256_cvtepi8_epi16(_mm_shuffle_epi8(scales, scale_shuffle_q6(is + 3))),
                        p3,
                    );
                    sumi = _mm256_add_epi32(sumi, _mm256_add_epi32(p0, p1));
                    sumi = _mm256_add_epi32(sumi, _mm256_add_epi32(p2, p3));
                }
                sumi = _mm256_sub_epi32(sumi, q8sclsub);
                acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
            }
            hsum_float_8(acc)
        }

        /// Shuffle picking scale byte `2i` into bytes 0..8 and `2i+1` into bytes 8..16.
        #[inline]
        #[target_feature(enable = $feat)]
        unsafe fn scale_shuffle_q6(i: usize) -> __m128i {
            let lo = (2 * i) as u64 * 0x0101010101010101;
            let hi = (2 * i + 1) as u64 * 0x0101010101010101;
            _mm_set_epi64x(hi as i64, lo as i64)
        }

        /// Legacy 32-element blocks against 4 activation rows: each weight block is unpacked
        /// once (signed bytes in `qx`) and dotted with the 4 tokens' blocks; per token the
        /// operations and their order are exactly the single-row kernel's.
        #[inline]
        #[target_feature(enable = $feat)]
        unsafe fn legacy_x4<X: crate::block::Block>(
            n: usize,
            w: &[u8],
            a: [&[u8]; 4],
            unpack: impl Fn(&X) -> (f32, __m256i),
        ) -> [f32; 4] {
            let xs = as_blocks::<X>(w);
            let ys = a.map(as_blocks::<BlockQ8_0>);
            let nb = (n / QK)
                .min(xs.len())
                .min(ys.iter().map(|y| y.len()).min().unwrap_or(0));
            let mut acc = [_mm256_setzero_ps(); 4];
            for i in 0..nb {
                let (dx, qx) = unpack(&xs[i]);
                let ax = _mm256_sign_epi8(qx, qx);
                for t in 0..4 {
                    let y = &ys[t][i];
                    let d = _mm256_set1_ps(dx * f16_to_f32(y.d));
                    let sy = _mm256_sign_epi8(load32(&y.qs), qx);
                    acc[t] = _mm256_fmadd_ps(d, mul_sum_us8_pairs_float(ax, sy), acc[t]);
                }
            }
            [
                hsum_float_8(acc[0]),
                hsum_float_8(acc[1]),
                hsum_float_8(acc[2]),
                hsum_float_8(acc[3]),
            ]
        }

        /// The `T` rows' Q8_0 blocks and their side data (`crate::legacy::Q8_0_EXTRA` bytes per
        /// block, after the row), if every row carries it.
        #[inline(always)]
        #[allow(clippy::type_complexity)]
        fn q8_0_rows_with_extra<const T: usize>(
            n: usize,
            a: [&[u8]; T],
        ) -> Option<([&[BlockQ8_0]; T], [&[u8]; T])> {
            let nb = n / QK;
            let std = nb * core::mem::size_of::<BlockQ8_0>();
            let ext = nb * Q8_0_EXTRA;
            if a.iter().any(|r| r.len() < std + ext) {
                return None;
            }
            Some((
                a.map(|r| as_blocks::<BlockQ8_0>(&r[..std])),
                a.map(|r| &r[std..std + ext]),
            ))
        }

        /// One weight row of a 32-element type against `T` activation rows that carry their
        /// side data: each token's scale is read as an f32 instead of converted per weight row,
        /// and with `UNSIGNED` the weight quants come unpacked without their offset (`q + 16`
        /// for Q5_0, in 0..32), multiplied with the activations as they are, and the offset's
        /// share `16·(y[2k] + y[2k+1])` subtracted from each pair sum: the same integers as the
        /// sign-trick products, in the same lanes, then the same float operations, so per token
        /// exactly the bits of [`legacy_x4`] and the single-row kernels.
        #[inline]
        #[target_feature(enable = $feat)]
        unsafe fn legacy_extra<X: crate::block::Block, const UNSIGNED: bool, const T: usize>(
            n: usize,
            w: &[u8],
            ys: [&[BlockQ8_0]; T],
            es: [&[u8]; T],
            unpack: impl Fn(&X) -> (f32, __m256i),
        ) -> [f32; T] {
            let xs = as_blocks::<X>(w);
            let nb = (n / QK)
                .min(xs.len())
                .min(ys.iter().map(|y| y.len()).min().unwrap_or(0))
                .min(es.iter().map(|e| e.len() / Q8_0_EXTRA).min().unwrap_or(0));
            let ones = _mm256_set1_epi16(1);
            let mut acc = [_mm256_setzero_ps(); T];
            for i in 0..nb {
                let (dx, qx) = unpack(&xs[i]);
                let dx = _mm256_set1_ps(dx);
                let ax = if UNSIGNED {
                    qx
                } else {
                    _mm256_sign_epi8(qx, qx)
                };
                for t in 0..T {
                    // SAFETY: i < nb <= es[t].len() / Q8_0_EXTRA and <= ys[t].len(); the scale
                    // is 4 bytes and the pair sums 32 bytes of the block's side data.
                    let e = es[t].as_ptr().add(i * Q8_0_EXTRA);
                    let y = load32(&ys[t].get_unchecked(i).qs);
                    let d = _mm256_mul_ps(dx, _mm256_set1_ps(e.cast::<f32>().read_unaligned()));
                    let s = if UNSIGNED {
                        let sums = _mm256_loadu_si256(e.add(4).cast());
                        let p = _mm256_sub_epi16(_mm256_maddubs_epi16(ax, y), sums);
                        _mm256_cvtepi32_ps(_mm256_madd_epi16(p, ones))
                    } else {
                        mul_sum_us8_pairs_float(ax, _mm256_sign_epi8(y, qx))
                    };
                    acc[t] = _mm256_fmadd_ps(d, s, acc[t]);
                }
            }
            acc.map(|a| hsum_float_8(a))
        }

        /// Two weight rows of a 32-element type against four activation rows with side data
        /// (prefill): each token's block, scale and pair sums are loaded once for both rows.
        /// Per (row, token) the operations and their order are exactly [`legacy_extra`]'s, so
        /// each output has the bits of the one-row kernels; what is shared are the loads and the
        /// scale products, `dx · dy` for both rows from one `vmulps` of `[dx0, dx1, …]` (the
        /// same f32 products) and an in-lane shuffle per row, as tinyBLAS does; cheaper than a
        /// `vmulss` + `vbroadcastss` per (row, token), which is what `set1(dx) * set1(dy)`
        /// compiles to. Q8_0: +15% over the one-row kernel in `bench_vec_dot`; Q5_0: +1-2%
        /// (its weight unpacking, per row, is the larger cost).
        #[inline]
        #[target_feature(enable = $feat)]
        unsafe fn legacy_extra_2x4<X: crate::block::Block, const UNSIGNED: bool>(
            n: usize,
            w: [&[u8]; 2],
            ys: [&[BlockQ8_0]; 4],
            es: [&[u8]; 4],
            unpack: impl Fn(&X) -> (f32, __m256i),
        ) -> [[f32; 4]; 2] {
            let (x0, x1) = (as_blocks::<X>(w[0]), as_blocks::<X>(w[1]));
            let nb = (n / QK)
                .min(x0.len())
                .min(x1.len())
                .min(ys.iter().map(|y| y.len()).min().unwrap_or(0))
                .min(es.iter().map(|e| e.len() / Q8_0_EXTRA).min().unwrap_or(0));
            let ones = _mm256_set1_epi16(1);
            let mut acc0 = [_mm256_setzero_ps(); 4];
            let mut acc1 = [_mm256_setzero_ps(); 4];
            for i in 0..nb {
                let (d0, q0) = unpack(x0.get_unchecked(i));
                let (d1, q1) = unpack(x1.get_unchecked(i));
                // Both rows' scales alternating: one product per token gives both rows'
                // `dx · dy`, then an in-lane shuffle broadcasts each (tinyBLAS does the same).
                let dv = _mm256_setr_ps(d0, d1, d0, d1, d0, d1, d0, d1);
                let (a0, a1) = if UNSIGNED {
                    (q0, q1)
                } else {
                    (_mm256_sign_epi8(q0, q0), _mm256_sign_epi8(q1, q1))
                };
                for t in 0..4 {
                    // SAFETY: i < nb <= es[t].len() / Q8_0_EXTRA and <= ys[t].len(); the scale
                    // is 4 bytes and the pair sums 32 bytes of the block's side data.
                    let e = es[t].as_ptr().add(i * Q8_0_EXTRA);
                    let y = load32(&ys[t].get_unchecked(i).qs);
                    let dd = _mm256_mul_ps(dv, _mm256_set1_ps(e.cast::<f32>().read_unaligned()));
                    let (s0, s1) = if UNSIGNED {
                        let sums = _mm256_loadu_si256(e.add(4).cast());
                        let p0 = _mm256_sub_epi16(_mm256_maddubs_epi16(a0, y), sums);
                        let p1 = _mm256_sub_epi16(_mm256_maddubs_epi16(a1, y), sums);
                        (
                            _mm256_cvtepi32_ps(_mm256_madd_epi16(p0, ones)),
                            _mm256_cvtepi32_ps(_mm256_madd_epi16(p1, ones)),
                        )
                    } else {
                        (
                            mul_sum_us8_pairs_float(a0, _mm256_sign_epi8(y, q0)),
                            mul_sum_us8_pairs_float(a1, _mm256_sign_epi8(y, q1)),
                        )
                    };
                    let d0 = _mm256_shuffle_ps::<0x00>(dd, dd);
                    let d1 = _mm256_shuffle_ps::<0x55>(dd, dd);
                    acc0[t] = _mm256_fmadd_ps(d0, s0, acc0[t]);
                    acc1[t] = _mm256_fmadd_ps(d1, s1, acc1[t]);
                }
            }
            [acc0.map(|a| hsum_float_8(a)), acc1.map(|a| hsum_float_8(a))]
        }

        /// Q8_0 weights unpacked for [`legacy_extra`] / [`legacy_x4`].
        #[inline]
        #[target_feature(enable = $feat)]
        unsafe fn unpack_q8_0(x: &BlockQ8_0) -> (f32, __m256i) {
            (f16_to_f32(x.d), load32(&x.qs))
        }

        /// Q5_0 weights unpacked without their offset (nibble | fifth bit << 4, in 0..32), for
        /// [`legacy_extra`]'s unsigned products.
        #[inline]
        #[target_feature(enable = $feat)]
        unsafe fn unpack_q5_0_unsigned(x: &BlockQ5_0) -> (f32, __m256i) {
            let hi = _mm256_and_si256(bytes_from_bits_32(x.qh), _mm256_set1_epi8(0x10));
            (
                f16_to_f32(x.d),
                _mm256_or_si256(bytes_from_nibbles_32(&x.qs), hi),
            )
        }

        #[target_feature(enable = $feat)]
        unsafe fn q8_0_q8_0_x4_impl(n: usize, w: &[u8], a: [&[u8]; 4]) -> [f32; 4] {
            let unpack = |x: &BlockQ8_0| unpack_q8_0(x);
            match q8_0_rows_with_extra(n, a) {
                Some((ys, es)) => legacy_extra::<BlockQ8_0, false, 4>(n, w, ys, es, unpack),
                None => legacy_x4::<BlockQ8_0>(n, w, a, unpack),
            }
        }

        #[target_feature(enable = $feat)]
        unsafe fn q4_0_q8_0_x4_impl(n: usize, w: &[u8], a: [&[u8]; 4]) -> [f32; 4] {
            // The repacked order of `q4_0_q8_0_impl`, the weight block unpacked once.
            let xs = as_blocks::<BlockQ4_0>(w);
            let ys = a.map(as_blocks::<BlockQ8_0>);
            let nb = (n / QK)
                .min(xs.len())
                .min(ys.iter().map(|y| y.len()).min().unwrap_or(0));
            let mut acc = [0f32; 4];
            for i in 0..nb {
                let x = &xs[i];
                let qx = _mm256_sub_epi8(bytes_from_nibbles_32(&x.qs), _mm256_set1_epi8(8));
                let dx = f16_to_f32(x.d);
                for t in 0..4 {
                    let y = &ys[t][i];
                    let isum = hsum_i32_8(mul_sum_i8_pairs_i32(qx, load32(&y.qs)));
                    acc[t] = (isum as f32).mul_add(dx * f16_to_f32(y.d), acc[t]);
                }
            }
            acc
        }

        #[target_feature(enable = $feat)]
        unsafe fn q5_0_q8_0_x4_impl(n: usize, w: &[u8], a: [&[u8]; 4]) -> [f32; 4] {
            if let Some((ys, es)) = q8_0_rows_with_extra(n, a) {
                let unpack = |x: &BlockQ5_0| unpack_q5_0_unsigned(x);
                return legacy_extra::<BlockQ5_0, true, 4>(n, w, ys, es, unpack);
            }
            legacy_x4::<BlockQ5_0>(n, w, a, |x| {
                let hi =
                    _mm256_andnot_si256(bytes_from_bits_32(x.qh), _mm256_set1_epi8(0xF0u8 as i8));
                (
                    f16_to_f32(x.d),
                    _mm256_or_si256(bytes_from_nibbles_32(&x.qs), hi),
                )
            })
        }

        /// Two Q8_0 rows × four tokens; per output the bits of [`q8_0_q8_0_x4_impl`].
        #[target_feature(enable = $feat)]
        unsafe fn q8_0_q8_0_2x4_impl(n: usize, w: [&[u8]; 2], a: [&[u8]; 4]) -> [[f32; 4]; 2] {
            match q8_0_rows_with_extra(n, a) {
                Some((ys, es)) => {
                    let unpack = |x: &BlockQ8_0| unpack_q8_0(x);
                    legacy_extra_2x4::<BlockQ8_0, false>(n, w, ys, es, unpack)
                }
                None => [q8_0_q8_0_x4_impl(n, w[0], a), q8_0_q8_0_x4_impl(n, w[1], a)],
            }
        }

        /// Two Q5_0 rows × four tokens; per output the bits of [`q5_0_q8_0_x4_impl`].
        #[target_feature(enable = $feat)]
        unsafe fn q5_0_q8_0_2x4_impl(n: usize, w: [&[u8]; 2], a: [&[u8]; 4]) -> [[f32; 4]; 2] {
            match q8_0_rows_with_extra(n, a) {
                Some((ys, es)) => {
                    let unpack = |x: &BlockQ5_0| unpack_q5_0_unsigned(x);
                    legacy_extra_2x4::<BlockQ5_0, true>(n, w, ys, es, unpack)
                }
                None => [q5_0_q8_0_x4_impl(n, w[0], a), q5_0_q8_0_x4_impl(n, w[1], a)],
            }
        }

        /// Writes Q5_0 row `w` (its first `n / 32` blocks, at most as many as `out` holds) as
        /// [`UnpackedQ5_0`] blocks.
        #[target_feature(enable = $feat)]
        unsafe fn unpack_q5_0_row_impl(n: usize, w: &[u8], out: &mut [u8]) {
            let xs = as_blocks::<BlockQ5_0>(w);
            let outs = out.chunks_exact_mut(core::mem::size_of::<UnpackedQ5_0>());
            for (x, o) in xs.iter().take(n / QK).zip(outs) {
                let (d, q) = unpack_q5_0_unsigned(x);
                _mm256_storeu_si256(o.as_mut_ptr().cast(), q);
                o[32..].copy_from_slice(&d.to_le_bytes());
            }
        }

        /// Two unpacked Q5_0 rows × four tokens: per output the bits of
        /// [`q5_0_q8_0_2x4_impl`] on the packed rows (the same quants and scales).
        #[target_feature(enable = $feat)]
        unsafe fn q5_0_unpacked_2x4_impl(
            n: usize,
            w: [&[u8]; 2],
            a: [&[u8]; 4],
        ) -> [[f32; 4]; 2] {
            let unpack = |x: &UnpackedQ5_0| (f32::from_le_bytes(x.d), load32(&x.q));
            match q8_0_rows_with_extra(n, a) {
                Some((ys, es)) => legacy_extra_2x4::<UnpackedQ5_0, true>(n, w, ys, es, unpack),
                // Without side data: the signed quants and the sign trick, as `legacy_x4`.
                None => w.map(|w| {
                    legacy_x4::<UnpackedQ5_0>(n, w, a, |x| {
                        let (d, q) = unpack(x);
                        (d, _mm256_sub_epi8(q, _mm256_set1_epi8(16)))
                    })
                }),
            }
        }

        /// Q4_K against 4 activation rows (scales and nibbles unpacked once per block).
        #[target_feature(enable = $feat)]
        unsafe fn q4_k_q8_k_x4_impl<const GEMM: bool>(
            n: usize,
            w: &[u8],
            a: [&[u8]; 4],
        ) -> [f32; 4] {
            let xs = as_blocks::<BlockQ4K>(w);
            let ys = a.map(as_blocks::<BlockQ8K>);
            let nb = (n / QK_K)
                .min(xs.len())
                .min(ys.iter().map(|y| y.len()).min().unwrap_or(0));
            let m4 = _mm256_set1_epi8(0xF);
            let (mut acc, mut acc_m) = (_mm_setzero_ps(), _mm_setzero_ps());
            for i in 0..nb {
                let x = &xs[i];
                let (xd, xdmin) = (f16_to_f32(x.d), f16_to_f32(x.dmin));
                let mins_and_scales = k4_mins_and_scales(&x.scales);
                let mins = _mm256_extracti128_si256::<1>(mins_and_scales);
                let sc128 = _mm256_extracti128_si256::<0>(mins_and_scales);
                let scales = _mm256_set_m128i(sc128, sc128);
                let mut q4 = [_mm256_setzero_si256(); 8];
                let mut sc = [_mm256_setzero_si256(); 8];
                for j in 0..QK_K / 64 {
                    let q4bits = load32(&x.qs[32 * j..]);
                    q4[2 * j] = _mm256_and_si256(q4bits, m4);
                    q4[2 * j + 1] = _mm256_and_si256(_mm256_srli_epi16::<4>(q4bits), m4);
                    sc[2 * j] = _mm256_shuffle_epi8(scales, scale_shuffle_k4(2 * j));
                    sc[2 * j + 1] = _mm256_shuffle_epi8(scales, scale_shuffle_k4(2 * j + 1));
                }
                // Per token: the four 64-value sums (j) and the four mins products.
                let mut sums = [_mm_setzero_si128(); 4];
                let mut mins_p = [_mm_setzero_si128(); 4];
                let mut dy = [0f32; 4];
                for t in 0..4 {
                    let y = &ys[t][i];
                    dy[t] = f32::from_le_bytes(y.d);
                    let q8sums = load32(&y.bsums);
                    let q8s = _mm_hadd_epi16(
                        _mm256_extracti128_si256::<0>(q8sums),
                        _mm256_extracti128_si256::<1>(q8sums),
                    );
                    mins_p[t] = _mm_madd_epi16(mins, q8s);
                    let mut v = [_mm256_setzero_si256(); 4];
                    for (j, vj) in v.iter_mut().enumerate() {
                        let p16l = _mm256_madd_epi16(
                            sc[2 * j],
                            _mm256_maddubs_epi16(q4[2 * j], load32(&y.qs[64 * j..])),
                        );
                        let p16h = _mm256_madd_epi16(
                            sc[2 * j + 1],
                            _mm256_maddubs_epi16(q4[2 * j + 1], load32(&y.qs[64 * j + 32..])),
                        );
                        *vj = _mm256_add_epi32(p16l, p16h);
                    }
                    // [Σ v0, Σ v1, Σ v2, Σ v3]: exact integer sums, so any adding order.
                    let h = _mm256_hadd_epi32(
                        _mm256_hadd_epi32(v[0], v[1]),
                        _mm256_hadd_epi32(v[2], v[3]),
                    );
                    sums[t] = _mm_add_epi32(
                        _mm256_extracti128_si256::<0>(h),
                        _mm256_extracti128_si256::<1>(h),
                    );
                }
                // ggml's repacked Q4_K gemm (llama.cpp's path for 4 tokens of one ubatch on
                // x86) takes one FMA per pair of sub-blocks (GEMM), where its gemv (the one-row
                // kernel above) takes one per super-block (!GEMM, bit-identical to the one-row
                // kernel): the same exact integer sums in different steps. The four tokens are
                // the lanes of each FMA; per token the FMAs run in j order.
                let d = _mm_mul_ps(_mm_set1_ps(xd), _mm_loadu_ps(dy.as_ptr()));
                let dmin = _mm_mul_ps(_mm_set1_ps(xdmin), _mm_loadu_ps(dy.as_ptr()));
                let by_j = transpose4(sums);
                let mins_by_j = transpose4(mins_p);
                if GEMM {
                    for j in 0..4 {
                        acc = _mm_fmadd_ps(_mm_cvtepi32_ps(by_j[j]), d, acc);
                        acc_m = _mm_fmadd_ps(_mm_cvtepi32_ps(mins_by_j[j]), dmin, acc_m);
                    }
                } else {
                    let sum4 = |v: [__m128i; 4]| {
                        _mm_add_epi32(_mm_add_epi32(v[0], v[1]), _mm_add_epi32(v[2], v[3]))
                    };
                    acc = _mm_fmadd_ps(_mm_cvtepi32_ps(sum4(by_j)), d, acc);
                    acc_m = _mm_fmadd_ps(_mm_cvtepi32_ps(sum4(mins_by_j)), dmin, acc_m);
                }
            }
            let mut out = [0f32; 4];
            _mm_storeu_ps(out.as_mut_ptr(), _mm_sub_ps(acc, acc_m));
            out
        }

        /// Rows become columns: lane `t` of result `j` is lane `j` of `s[t]`.
        #[inline]
        #[target_feature(enable = $feat)]
        unsafe fn transpose4(s: [__m128i; 4]) -> [__m128i; 4] {
            let a = _mm_unpacklo_epi32(s[0], s[1]);
            let b = _mm_unpacklo_epi32(s[2], s[3]);
            let c = _mm_unpackhi_epi32(s[0], s[1]);
            let d = _mm_unpackhi_epi32(s[2], s[3]);
            [
                _mm_unpacklo_epi64(a, b),
                _mm_unpackhi_epi64(a, b),
                _mm_unpacklo_epi64(c, d),
                _mm_unpackhi_epi64(c, d),
            ]
        }

        /// Q6_K against 4 activation rows (6-bit values and scales unpacked once per block).
        #[target_feature(enable = $feat)]
        unsafe fn q6_k_q8_k_x4_impl<const TILED: bool>(
            n: usize,
            w: &[u8],
            a: [&[u8]; 4],
        ) -> [f32; 4] {
            let xs = as_blocks::<BlockQ6K>(w);
            let ys = a.map(as_blocks::<BlockQ8K>);
            let nb = (n / QK_K)
                .min(xs.len())
                .min(ys.iter().map(|y| y.len()).min().unwrap_or(0));
            let m3 = _mm256_set1_epi8(3);
            let m15 = _mm256_set1_epi8(15);
            let mut acc = [_mm256_setzero_ps(); 4];
            let mut tiled = [0f32; 4];
            for i in 0..nb {
                let x = &xs[i];
                let xd = f16_to_f32(x.d);
                let scales = _mm_loadu_si128(x.scales.as_ptr() as *const __m128i);
                let scales_16 = _mm256_cvtepi8_epi16(scales);
                let mut q = [_mm256_setzero_si256(); 8];
                let mut sc = [_mm256_setzero_si256(); 8];
                for j in 0..QK_K / 128 {
                    let q4bits1 = load32(&x.ql[64 * j..]);
                    let q4bits2 = load32(&x.ql[64 * j + 32..]);
                    let q4bits_h = load32(&x.qh[32 * j..]);
                    let q4h0 = _mm256_slli_epi16::<4>(_mm256_and_si256(q4bits_h, m3));
                    let q4h1 =
                        _mm256_slli_epi16::<2>(_mm256_and_si256(q4bits_h, _mm256_set1_epi8(12)));
                    let q4h2 = _mm256_and_si256(q4bits_h, _mm256_set1_epi8(48));
                    let q4h3 =
                        _mm256_srli_epi16::<2>(_mm256_and_si256(q4bits_h, _mm256_set1_epi8(-64)));
                    q[4 * j] = _mm256_or_si256(_mm256_and_si256(q4bits1, m15), q4h0);
                    q[4 * j + 1] = _mm256_or_si256(_mm256_and_si256(q4bits2, m15), q4h1);
                    q[4 * j + 2] = _mm256_or_si256(
                        _mm256_and_si256(_mm256_srli_epi16::<4>(q4bits1), m15),
                        q4h2,
                    );
                    q[4 * j + 3] = _mm256_or_si256(
                        _mm256_and_si256(_mm256_srli_epi16::<4>(q4bits2), m15),
                        q4h3,
                    );
                    for k in 0..4 {
                        sc[4 * j + k] = _mm256_cvtepi8_epi16(_mm_shuffle_epi8(
                            scales,
                            scale_shuffle_q6(4 * j + k),
                        ));
                    }
                }
                for t in 0..4 {
                    let y = &ys[t][i];
                    let d = f32::from_le_bytes(y.d) * xd;
                    let q8sclsub =
                        _mm256_slli_epi32::<5>(_mm256_madd_epi16(load32(&y.bsums), scales_16));
                    let mut sumi = _mm256_setzero_si256();
                    for j in 0..QK_K / 128 {
                        let p0 = _mm256_madd_epi16(
                            sc[4 * j],
                            _mm256_maddubs_epi16(q[4 * j], load32(&y.qs[128 * j..])),
                        );
                        let p1 = _mm256_madd_epi16(
                            sc[4 * j + 1],
                            _mm256_maddubs_epi16(q[4 * j + 1], load32(&y.qs[128 * j + 32..])),
                        );
                        let p2 = _mm256_madd_epi16(
                            sc[4 * j + 2],
                            _mm256_maddubs_epi16(q[4 * j + 2], load32(&y.qs[128 * j + 64..])),
                        );
                        let p3 = _mm256_madd_epi16(
                            sc[4 * j + 3],
                            _mm256_maddubs_epi16(q[4 * j + 3], load32(&y.qs[128 * j + 96..])),
                        );
                        sumi = _mm256_add_epi32(sumi, _mm256_add_epi32(p0, p1));
                        sumi = _mm256_add_epi32(sumi, _mm256_add_epi32(p2, p3));
                    }
                    sumi = _mm256_sub_epi32(sumi, q8sclsub);
                    if TILED {
                        // ggml's tiled K-quant matmul (llama.cpp's x86 path for >= 8 rows of a
                        // ubatch): the block's exact integer sum times the weight scale, then
                        // times the activation scale into the running sum, fused (the AVX2
                        // kernel fuses it explicitly; GCC contracts the AVX-512 one's mul+add,
                        // checked against llama.cpp's dumped tensors).
                        let r = (hsum_i32_8(sumi) as f32) * xd;
                        let yd = f32::from_le_bytes(y.d);
                        tiled[t] = r.mul_add(yd, tiled[t]);
                    } else {
                        acc[t] =
                            _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc[t]);
                    }
                }
            }
            if TILED {
                return tiled;
            }
            [
                hsum_float_8(acc[0]),
                hsum_float_8(acc[1]),
                hsum_float_8(acc[2]),
                hsum_float_8(acc[3]),
            ]
        }

        // Safe entry points. SAFETY (all): `dot.rs` hands these out only for an ISA whose CPU
        // features runtime detection confirmed, which are the features the `_impl` functions
        // are compiled for; the `_impl` functions read only within the slices they are given.
        pub(crate) fn q8_0_q8_0(n: usize, w: &[u8], a: &[u8]) -> f32 {
            unsafe { q8_0_q8_0_impl(n, w, a) }
        }
        pub(crate) fn q4_0_q8_0(n: usize, w: &[u8], a: &[u8]) -> f32 {
            unsafe { q4_0_q8_0_impl(n, w, a) }
        }
        pub(crate) fn q4_1_q8_1(n: usize, w: &[u8], a: &[u8]) -> f32 {
            unsafe { q4_1_q8_1_impl(n, w, a) }
        }
        pub(crate) fn q5_0_q8_0(n: usize, w: &[u8], a: &[u8]) -> f32 {
            unsafe { q5_0_q8_0_impl(n, w, a) }
        }
        pub(crate) fn q5_1_q8_1(n: usize, w: &[u8], a: &[u8]) -> f32 {
            unsafe { q5_1_q8_1_impl(n, w, a) }
        }
        pub(crate) fn iq4_nl_q8_0(n: usize, w: &[u8], a: &[u8]) -> f32 {
            unsafe { iq4_nl_q8_0_impl(n, w, a) }
        }
        pub(crate) fn iq4_xs_q8_k(n: usize, w: &[u8], a: &[u8]) -> f32 {
            unsafe { iq4_xs_q8_k_impl(n, w, a) }
        }
        pub(crate) fn q4_k_q8_k(n: usize, w: &[u8], a: &[u8]) -> f32 {
            unsafe { q4_k_q8_k_impl(n, w, a) }
        }
        pub(crate) fn q5_k_q8_k(n: usize, w: &[u8], a: &[u8]) -> f32 {
            // The four-row kernel on one row repeated (Q5_K is in no model we ship; the one-row
            // cost does not matter, the order does).
            unsafe { q5_k_q8_k_x4_impl::<false>(n, w, [a; 4])[0] }
        }
        pub(crate) fn q5_k_q8_k_x4(n: usize, w: &[u8], a: [&[u8]; 4]) -> [f32; 4] {
            unsafe { q5_k_q8_k_x4_impl::<false>(n, w, a) }
        }
        pub(crate) fn q5_k_q8_k_x4_tiled(n: usize, w: &[u8], a: [&[u8]; 4]) -> [f32; 4] {
            unsafe { q5_k_q8_k_x4_impl::<true>(n, w, a) }
        }
        pub(crate) fn q6_k_q8_k(n: usize, w: &[u8], a: &[u8]) -> f32 {
            unsafe { q6_k_q8_k_impl(n, w, a) }
        }
        pub(crate) fn q8_0_q8_0_x4(n: usize, w: &[u8], a: [&[u8]; 4]) -> [f32; 4] {
            unsafe { q8_0_q8_0_x4_impl(n, w, a) }
        }
        pub(crate) fn q4_0_q8_0_x4(n: usize, w: &[u8], a: [&[u8]; 4]) -> [f32; 4] {
            unsafe { q4_0_q8_0_x4_impl(n, w, a) }
        }
        pub(crate) fn q5_0_q8_0_x4(n: usize, w: &[u8], a: [&[u8]; 4]) -> [f32; 4] {
            unsafe { q5_0_q8_0_x4_impl(n, w, a) }
        }
        pub(crate) fn q8_0_q8_0_2x4(n: usize, w: [&[u8]; 2], a: [&[u8]; 4]) -> [[f32; 4]; 2] {
            unsafe { q8_0_q8_0_2x4_impl(n, w, a) }
        }
        pub(crate) fn q5_0_q8_0_2x4(n: usize, w: [&[u8]; 2], a: [&[u8]; 4]) -> [[f32; 4]; 2] {
            unsafe { q5_0_q8_0_2x4_impl(n, w, a) }
        }
        pub(crate) fn unpack_q5_0_row(n: usize, w: &[u8], out: &mut [u8]) {
            unsafe { unpack_q5_0_row_impl(n, w, out) }
        }
        pub(crate) fn q5_0_unpacked_2x4(n: usize, w: [&[u8]; 2], a: [&[u8]; 4]) -> [[f32; 4]; 2] {
            unsafe { q5_0_unpacked_2x4_impl(n, w, a) }
        }
        pub(crate) fn q4_k_q8_k_x4(n: usize, w: &[u8], a: [&[u8]; 4]) -> [f32; 4] {
            unsafe { q4_k_q8_k_x4_impl::<false>(n, w, a) }
        }
        pub(crate) fn q4_k_q8_k_x4_gemm(n: usize, w: &[u8], a: [&[u8]; 4]) -> [f32; 4] {
            unsafe { q4_k_q8_k_x4_impl::<true>(n, w, a) }
        }
        pub(crate) fn q6_k_q8_k_x4(n: usize, w: &[u8], a: [&[u8]; 4]) -> [f32; 4] {
            unsafe { q6_k_q8_k_x4_impl::<false>(n, w, a) }
        }
        pub(crate) fn q6_k_q8_k_x4_tiled(n: usize, w: &[u8], a: [&[u8]; 4]) -> [f32; 4] {
            unsafe { q6_k_q8_k_x4_impl::<true>(n, w, a) }
        }
    };
}

/// AVX2 + FMA + F16C.
pub(crate) mod avx2 {
    x86_kernels!("avx2,fma,f16c", false);
}

/// The AVX2 kernels with AVX-512 VNNI's `vpdpbusd` (256-bit, needs AVX512VL) for u8×i8 sums.
pub(crate) mod avx512 {
    x86_kernels!("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni", true);
}
