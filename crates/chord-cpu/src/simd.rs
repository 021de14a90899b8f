//! Small float vector kernels for attention (dot products and `acc += p·v` over one head, with
//! F32 or F16 cache rows), AVX2+FMA+F16C where the selected ISA allows, portable otherwise.

use half::f16;

/// The non-x86 code: four lanes at a time where wasm has SIMD128 (the same bits), else loops.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
use crate::simd128 as lanes;

#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
mod lanes {
    use half::f16;

    pub(crate) fn dot_f32(a: &[f32], b: &[f32]) -> f32 {
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    }

    pub(crate) fn dot_f16(a: &[f32], b: &[f16]) -> f32 {
        a.iter().zip(b).map(|(x, y)| x * y.to_f32()).sum()
    }

    pub(crate) fn axpy_f32(acc: &mut [f32], p: f32, v: &[f32]) {
        for (a, &x) in acc.iter_mut().zip(v) {
            *a += p * x;
        }
    }

    pub(crate) fn axpy_f16(acc: &mut [f32], p: f32, v: &[f16]) {
        for (a, &x) in acc.iter_mut().zip(v) {
            *a += p * x.to_f32();
        }
    }
}

/// `fast`: use the AVX2/F16C code; the caller passes whether its kernel flavour allows it
/// (the x86 flavours, which all imply AVX2, FMA and F16C), so a backend pinned to the scalar
/// flavour runs portable code here too.
pub(crate) fn dot_f32(fast: bool, a: &[f32], b: &[f32]) -> f32 {
    #[cfg(not(target_arch = "x86_64"))]
    let _ = fast;
    #[cfg(target_arch = "x86_64")]
    if fast {
        // SAFETY: `fast` is only true for an available AVX2/AVX-512 flavour, which implies AVX2,
        // FMA and F16C (checked by chord-quant's detection).
        return unsafe { x86::dot_f32(a, b) };
    }
    lanes::dot_f32(a, b)
}

pub(crate) fn dot_f16(fast: bool, a: &[f32], b: &[f16]) -> f32 {
    #[cfg(not(target_arch = "x86_64"))]
    let _ = fast;
    #[cfg(target_arch = "x86_64")]
    if fast {
        // SAFETY: as in `dot_f32`.
        return unsafe { x86::dot_f16(a, b) };
    }
    lanes::dot_f16(a, b)
}

pub(crate) fn axpy_f32(fast: bool, acc: &mut [f32], p: f32, v: &[f32]) {
    #[cfg(not(target_arch = "x86_64"))]
    let _ = fast;
    #[cfg(target_arch = "x86_64")]
    if fast {
        // SAFETY: as in `dot_f32`.
        return unsafe { x86::axpy_f32(acc, p, v) };
    }
    lanes::axpy_f32(acc, p, v)
}

pub(crate) fn axpy_f16(fast: bool, acc: &mut [f32], p: f32, v: &[f16]) {
    #[cfg(not(target_arch = "x86_64"))]
    let _ = fast;
    #[cfg(target_arch = "x86_64")]
    if fast {
        // SAFETY: as in `dot_f32`.
        return unsafe { x86::axpy_f16(acc, p, v) };
    }
    lanes::axpy_f16(acc, p, v)
}

/// SwiGLU, `gate = silu(gate) · up`, computed as ggml does on the same CPU: 16 (AVX-512) or 8
/// (AVX2) lanes with ggml's polynomial `exp` (`ggml_v_expf`, ≤1.5 ulp), scalar `expf` for the
/// tail. Matching ggml's arithmetic here keeps our activations closer to llama.cpp's. The
/// `avx512emu` flavour runs the AVX-512 variant's arithmetic with AVX2 instructions.
pub(crate) fn swiglu(isa: chord_quant::Isa, gate: &mut [f32], up: &[f32]) {
    let n = gate.len().min(up.len());
    #[cfg(target_arch = "x86_64")]
    let done = {
        use chord_quant::Isa;
        // SAFETY: the backend's ISA was checked available when it was chosen; Avx512 implies
        // AVX-512F, Avx2 and Avx512Emu imply AVX2+FMA.
        match isa {
            Isa::Avx512 => unsafe { x86::swiglu_512(&mut gate[..n], &up[..n]) },
            Isa::Avx512Emu => unsafe { x86::swiglu_256::<16, true>(&mut gate[..n], &up[..n]) },
            Isa::Avx2 => unsafe { x86::swiglu_256::<8, false>(&mut gate[..n], &up[..n]) },
            _ => 0,
        }
    };
    #[cfg(not(target_arch = "x86_64"))]
    let done = {
        let _ = isa;
        0
    };
    for (g, &u) in gate[done..n].iter_mut().zip(&up[done..n]) {
        let x = *g;
        *g = (x / (1.0 + chord_model::math::expf(-x))) * u;
    }
}

#[cfg(target_arch = "x86_64")]
pub(crate) mod x86 {
    use core::arch::x86_64::*;
    use half::f16;

    #[target_feature(enable = "avx2,fma")]
    unsafe fn hsum(x: __m256) -> f32 {
        let mut r = _mm256_extractf128_ps::<1>(x);
        r = _mm_add_ps(r, _mm256_castps256_ps128(x));
        r = _mm_add_ps(r, _mm_movehl_ps(r, r));
        r = _mm_add_ss(r, _mm_movehdup_ps(r));
        _mm_cvtss_f32(r)
    }

    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn dot_f32(a: &[f32], b: &[f32]) -> f32 {
        let n = a.len().min(b.len());
        let (mut s0, mut s1) = (_mm256_setzero_ps(), _mm256_setzero_ps());
        let mut i = 0;
        while i + 16 <= n {
            s0 = _mm256_fmadd_ps(
                _mm256_loadu_ps(a.as_ptr().add(i)),
                _mm256_loadu_ps(b.as_ptr().add(i)),
                s0,
            );
            s1 = _mm256_fmadd_ps(
                _mm256_loadu_ps(a.as_ptr().add(i + 8)),
                _mm256_loadu_ps(b.as_ptr().add(i + 8)),
                s1,
            );
            i += 16;
        }
        let mut s = hsum(_mm256_add_ps(s0, s1));
        while i < n {
            s += a[i] * b[i];
            i += 1;
        }
        s
    }

    #[target_feature(enable = "avx2,fma,f16c")]
    pub(super) unsafe fn dot_f16(a: &[f32], b: &[f16]) -> f32 {
        let n = a.len().min(b.len());
        let (mut s0, mut s1) = (_mm256_setzero_ps(), _mm256_setzero_ps());
        let mut i = 0;
        let bp = b.as_ptr() as *const u16;
        while i + 16 <= n {
            let b0 = _mm256_cvtph_ps(_mm_loadu_si128(bp.add(i) as *const __m128i));
            let b1 = _mm256_cvtph_ps(_mm_loadu_si128(bp.add(i + 8) as *const __m128i));
            s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a.as_ptr().add(i)), b0, s0);
            s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a.as_ptr().add(i + 8)), b1, s1);
            i += 16;
        }
        let mut s = hsum(_mm256_add_ps(s0, s1));
        while i < n {
            s += a[i] * b[i].to_f32();
            i += 1;
        }
        s
    }

    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn axpy_f32(acc: &mut [f32], p: f32, v: &[f32]) {
        let n = acc.len().min(v.len());
        let pv = _mm256_set1_ps(p);
        let mut i = 0;
        while i + 8 <= n {
            let a = _mm256_loadu_ps(acc.as_ptr().add(i));
            let r = _mm256_fmadd_ps(pv, _mm256_loadu_ps(v.as_ptr().add(i)), a);
            _mm256_storeu_ps(acc.as_mut_ptr().add(i), r);
            i += 8;
        }
        while i < n {
            acc[i] += p * v[i];
            i += 1;
        }
    }

    #[target_feature(enable = "avx2,fma,f16c")]
    pub(super) unsafe fn axpy_f16(acc: &mut [f32], p: f32, v: &[f16]) {
        let n = acc.len().min(v.len());
        let pv = _mm256_set1_ps(p);
        let vp = v.as_ptr() as *const u16;
        let mut i = 0;
        while i + 8 <= n {
            let a = _mm256_loadu_ps(acc.as_ptr().add(i));
            let x = _mm256_cvtph_ps(_mm_loadu_si128(vp.add(i) as *const __m128i));
            _mm256_storeu_ps(acc.as_mut_ptr().add(i), _mm256_fmadd_ps(pv, x, a));
            i += 8;
        }
        while i < n {
            acc[i] += p * v[i].to_f32();
            i += 1;
        }
    }

    /// ggml's `ggml_v_expf` for 16 lanes (the AVX-512 variant, with `vscalefps`).
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn expf_512(x: __m512) -> __m512 {
        let r = _mm512_set1_ps(f32::from_bits(0x4b40_0000)); // 0x1.8p23
        let z = _mm512_fmadd_ps(x, _mm512_set1_ps(f32::from_bits(0x3fb8_aa3b)), r); // log2(e)
        let n = _mm512_sub_ps(z, r);
        let b = _mm512_fnmadd_ps(
            n,
            _mm512_set1_ps(f32::from_bits(0x35bf_be8e)), // 0x1.7f7d1cp-20
            _mm512_fnmadd_ps(n, _mm512_set1_ps(f32::from_bits(0x3f31_7200)), x), // 0x1.62e4p-1
        );
        let d = _mm512_cmp_ps_mask::<_CMP_GT_OQ>(_mm512_abs_ps(n), _mm512_set1_ps(192.0));
        let u = _mm512_mul_ps(b, b);
        let j = _mm512_fmadd_ps(
            _mm512_fmadd_ps(
                _mm512_fmadd_ps(
                    _mm512_set1_ps(f32::from_bits(0x3c07_2010)), // 0x1.0e4020p-7
                    b,
                    _mm512_set1_ps(f32::from_bits(0x3d2b_9f17)), // 0x1.573e2ep-5
                ),
                u,
                _mm512_fmadd_ps(
                    _mm512_set1_ps(f32::from_bits(0x3e2a_af33)), // 0x1.555e66p-3
                    b,
                    _mm512_set1_ps(f32::from_bits(0x3eff_fedb)), // 0x1.fffdb6p-2
                ),
            ),
            u,
            _mm512_fmadd_ps(
                _mm512_set1_ps(f32::from_bits(0x3f7f_fff6)),
                b,
                _mm512_set1_ps(1.0),
            ), // 0x1.ffffecp-1
        );
        let res = _mm512_scalef_ps(j, n);
        if d == 0 {
            return res;
        }
        let zero = _mm512_setzero_ps();
        let le = _mm512_cmp_ps_mask::<_CMP_LE_OQ>(n, zero);
        let alt = _mm512_mask_blend_ps(le, _mm512_set1_ps(f32::INFINITY), zero);
        _mm512_mask_blend_ps(d, res, alt)
    }

    /// `x[i] = ggml_v_expf(x[i])` over 16 lanes (AVX-512 variant).
    #[target_feature(enable = "avx512f")]
    pub(crate) unsafe fn expf_16(x: &mut [f32; 16]) {
        let v = expf_512(_mm512_loadu_ps(x.as_ptr()));
        _mm512_storeu_ps(x.as_mut_ptr(), v);
    }

    /// `x[i] = ggml_v_expf(x[i])` over 8 lanes (AVX2 variant).
    #[target_feature(enable = "avx2,fma")]
    pub(crate) unsafe fn expf_8(x: &mut [f32; 8]) {
        let v = expf_256(_mm256_loadu_ps(x.as_ptr()));
        _mm256_storeu_ps(x.as_mut_ptr(), v);
    }

    /// Returns how many leading elements were done (a multiple of 16).
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn swiglu_512(gate: &mut [f32], up: &[f32]) -> usize {
        let n = gate.len().min(up.len()) / 16 * 16;
        let (one, zero) = (_mm512_set1_ps(1.0), _mm512_setzero_ps());
        let mut i = 0;
        while i < n {
            let x = _mm512_loadu_ps(gate.as_ptr().add(i));
            let e = expf_512(_mm512_sub_ps(zero, x));
            let s = _mm512_div_ps(x, _mm512_add_ps(one, e));
            _mm512_storeu_ps(
                gate.as_mut_ptr().add(i),
                _mm512_mul_ps(s, _mm512_loadu_ps(up.as_ptr().add(i))),
            );
            i += 16;
        }
        n
    }

    /// ggml's AVX-512 `ggml_v_expf`, lane for lane, with AVX2 instructions: the same FMAs in
    /// the same order, and `vscalefps` (j·2^n, rounded once) as a multiply by 2^⌊n/2⌋, which is
    /// exact, then by 2^(n-⌊n/2⌋), which rounds once, also into the subnormals (both factors
    /// are normal floats for |n| ≤ 192; larger |n| takes the 0/inf blend, as in the original).
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn expf_512_emu(x: __m256) -> __m256 {
        let (_, n, b, u, p) = expf_head_256(x);
        let absn = _mm256_andnot_ps(_mm256_set1_ps(-0.0), n);
        let d = _mm256_cmp_ps::<_CMP_GT_OQ>(absn, _mm256_set1_ps(192.0));
        let c = _mm256_fmadd_ps(
            _mm256_set1_ps(f32::from_bits(0x3f7f_fff6)), // 0x1.ffffecp-1
            b,
            _mm256_set1_ps(1.0),
        );
        let j = _mm256_fmadd_ps(p, u, c);
        // n is a whole number; lanes where it is not finite or beyond ±192 are blended below.
        let ni = _mm256_cvtps_epi32(n);
        let hi = _mm256_srai_epi32::<1>(ni);
        let lo = _mm256_sub_epi32(ni, hi);
        let bias = _mm256_set1_epi32(127);
        let p_hi = _mm256_castsi256_ps(_mm256_slli_epi32::<23>(_mm256_add_epi32(hi, bias)));
        let p_lo = _mm256_castsi256_ps(_mm256_slli_epi32::<23>(_mm256_add_epi32(lo, bias)));
        let res = _mm256_mul_ps(_mm256_mul_ps(j, p_hi), p_lo);
        if _mm256_movemask_ps(d) == 0 {
            return res;
        }
        let le = _mm256_cmp_ps::<_CMP_LE_OQ>(n, _mm256_setzero_ps());
        let alt = _mm256_blendv_ps(_mm256_set1_ps(f32::INFINITY), _mm256_setzero_ps(), le);
        _mm256_blendv_ps(res, alt, d)
    }

    /// `x[i] = ggml_v_expf(x[i])` over 16 lanes, the AVX-512 variant's bits with AVX2.
    #[target_feature(enable = "avx2,fma")]
    pub(crate) unsafe fn expf_16_emu(x: &mut [f32; 16]) {
        for h in 0..2 {
            let p = x.as_mut_ptr().add(8 * h);
            _mm256_storeu_ps(p, expf_512_emu(_mm256_loadu_ps(p)));
        }
    }

    /// The argument reduction and the polynomial's leading terms of ggml's `ggml_v_expf`, the
    /// same operations in its AVX2 and AVX-512 variants (which differ in the last term and in
    /// how they scale by 2^n): `(z, n, b, u, p)` with `n` the power of two, `b` the reduced
    /// argument, `u = b²` and `p` the polynomial part that multiplies `u`.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn expf_head_256(x: __m256) -> (__m256, __m256, __m256, __m256, __m256) {
        let r = _mm256_set1_ps(f32::from_bits(0x4b40_0000)); // 0x1.8p23
        let z = _mm256_fmadd_ps(x, _mm256_set1_ps(f32::from_bits(0x3fb8_aa3b)), r); // log2(e)
        let n = _mm256_sub_ps(z, r);
        let b = _mm256_fnmadd_ps(
            n,
            _mm256_set1_ps(f32::from_bits(0x35bf_be8e)), // 0x1.7f7d1cp-20
            _mm256_fnmadd_ps(n, _mm256_set1_ps(f32::from_bits(0x3f31_7200)), x), // 0x1.62e4p-1
        );
        let u = _mm256_mul_ps(b, b);
        let p = _mm256_fmadd_ps(
            _mm256_fmadd_ps(
                _mm256_set1_ps(f32::from_bits(0x3c07_2010)), // 0x1.0e4020p-7
                b,
                _mm256_set1_ps(f32::from_bits(0x3d2b_9f17)), // 0x1.573e2ep-5
            ),
            u,
            _mm256_fmadd_ps(
                _mm256_set1_ps(f32::from_bits(0x3e2a_af33)), // 0x1.555e66p-3
                b,
                _mm256_set1_ps(f32::from_bits(0x3eff_fedb)), // 0x1.fffdb6p-2
            ),
        );
        (z, n, b, u, p)
    }

    /// ggml's `ggml_v_expf` for 8 lanes (the AVX2 variant).
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn expf_256(x: __m256) -> __m256 {
        let (z, n, b, u, p) = expf_head_256(x);
        let e = _mm256_slli_epi32::<23>(_mm256_castps_si256(z));
        let k = _mm256_castsi256_ps(_mm256_add_epi32(
            e,
            _mm256_castps_si256(_mm256_set1_ps(1.0)),
        ));
        let absn = _mm256_andnot_ps(_mm256_set1_ps(-0.0), n);
        let c = _mm256_cmp_ps::<_CMP_GT_OQ>(absn, _mm256_set1_ps(126.0));
        let j = _mm256_fmadd_ps(
            p,
            u,
            _mm256_mul_ps(_mm256_set1_ps(f32::from_bits(0x3f7f_fff6)), b),
        );
        if _mm256_movemask_ps(c) == 0 {
            return _mm256_fmadd_ps(j, k, k);
        }
        let g = _mm256_and_si256(
            _mm256_castps_si256(_mm256_cmp_ps::<_CMP_LE_OQ>(n, _mm256_setzero_ps())),
            _mm256_set1_epi32(0x8200_0000u32 as i32),
        );
        let s1 = _mm256_castsi256_ps(_mm256_add_epi32(g, _mm256_set1_epi32(0x7f00_0000)));
        let s2 = _mm256_castsi256_ps(_mm256_sub_epi32(e, g));
        let d = _mm256_cmp_ps::<_CMP_GT_OQ>(absn, _mm256_set1_ps(192.0));
        _mm256_or_ps(
            _mm256_and_ps(d, _mm256_mul_ps(s1, s1)),
            _mm256_andnot_ps(
                d,
                _mm256_or_ps(
                    _mm256_and_ps(c, _mm256_mul_ps(_mm256_fmadd_ps(s2, j, s2), s1)),
                    _mm256_andnot_ps(c, _mm256_fmadd_ps(k, j, k)),
                ),
            ),
        )
    }

    /// SwiGLU in 8-lane AVX2 vectors over the first multiple of `GROUP` elements (ggml's AVX2
    /// build: 8, with its exp; `EMU`: its AVX-512 build's 16-element groups and exp, so the same
    /// scalar tail as [`swiglu_512`] too). Returns how many elements were done.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn swiglu_256<const GROUP: usize, const EMU: bool>(
        gate: &mut [f32],
        up: &[f32],
    ) -> usize {
        let n = gate.len().min(up.len()) / GROUP * GROUP;
        let (one, zero) = (_mm256_set1_ps(1.0), _mm256_setzero_ps());
        let mut i = 0;
        while i < n {
            let x = _mm256_loadu_ps(gate.as_ptr().add(i));
            let minus = _mm256_sub_ps(zero, x);
            let e = if EMU {
                expf_512_emu(minus)
            } else {
                expf_256(minus)
            };
            let s = _mm256_div_ps(x, _mm256_add_ps(one, e));
            _mm256_storeu_ps(
                gate.as_mut_ptr().add(i),
                _mm256_mul_ps(s, _mm256_loadu_ps(up.as_ptr().add(i))),
            );
            i += 8;
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chord_quant::Isa;

    /// The AVX2 emulation of AVX-512's `ggml_v_expf` gives its bits: against the real thing
    /// where the CPU has AVX-512F, and everywhere against the same FMA chain evaluated in Rust
    /// with `vscalefps` as an exact f64 scaling rounded once to f32 (correct for subnormals).
    #[test]
    #[cfg(target_arch = "x86_64")]
    fn expf_emulation_gives_the_avx512_bits() {
        if !Isa::Avx512Emu.is_available() {
            return;
        }
        let mut xs: Vec<f32> = (-110_000..110_000)
            .map(|i| i as f32 * 0.001 + 1e-4)
            .collect();
        xs.extend([
            f32::NEG_INFINITY,
            f32::INFINITY,
            -200.0,
            -133.0,
            -103.9,
            -87.4,
            88.7,
            133.0,
            0.0,
            -0.0,
            1e-30,
        ]);
        xs.resize(xs.len().div_ceil(16) * 16, 0.5);
        let f = |b: u32| f32::from_bits(b);
        let model = |x: f32| -> f32 {
            let r = f(0x4b40_0000);
            let n = x.mul_add(f(0x3fb8_aa3b), r) - r;
            if n.abs() > 192.0 {
                return if n <= 0.0 { 0.0 } else { f32::INFINITY };
            }
            let b = (-n).mul_add(f(0x35bf_be8e), (-n).mul_add(f(0x3f31_7200), x));
            let u = b * b;
            let j = f(0x3c07_2010)
                .mul_add(b, f(0x3d2b_9f17))
                .mul_add(u, f(0x3e2a_af33).mul_add(b, f(0x3eff_fedb)));
            let j = j.mul_add(u, f(0x3f7f_fff6).mul_add(b, 1.0));
            (j as f64 * (n as f64).exp2()) as f32
        };
        let mut subnormal = 0;
        for grp in xs.chunks_exact(16) {
            let mut got: [f32; 16] = grp.try_into().unwrap();
            unsafe { x86::expf_16_emu(&mut got) };
            if std::is_x86_feature_detected!("avx512f") {
                let mut want: [f32; 16] = grp.try_into().unwrap();
                unsafe { x86::expf_16(&mut want) };
                for (g, w) in got.iter().zip(&want) {
                    assert_eq!(g.to_bits(), w.to_bits(), "{grp:?}");
                }
            }
            for (&x, g) in grp.iter().zip(&got) {
                let w = model(x);
                assert_eq!(g.to_bits(), w.to_bits(), "x={x}: {g:e} vs {w:e}");
                subnormal += (w != 0.0 && !w.is_normal()) as usize;
            }
        }
        assert!(subnormal > 100, "{subnormal}");
    }

    /// The vectorised SwiGLU of every available flavour agrees with `x / (1 + expf(-x)) · u`
    /// within a few ulps (ggml's exp is within 1.5 ulp), including the range ends where exp
    /// under- or overflows, and leaves no element unprocessed.
    #[test]
    fn swiglu_matches_the_scalar_formula() {
        let mut xs: Vec<f32> = (-4000..4000).map(|i| i as f32 * 0.01 + 0.003).collect();
        xs.extend([
            -200.0, -104.0, -88.5, -87.0, 87.0, 88.5, 104.0, 200.0, 0.0, -0.0, 1e-30,
        ]);
        let up: Vec<f32> = (0..xs.len()).map(|i| 1.0 + (i % 7) as f32 * 0.25).collect();
        for isa in Isa::ALL.into_iter().filter(|i| i.is_available()) {
            let mut got = xs.clone();
            swiglu(isa, &mut got, &up);
            for ((&x, &u), &g) in xs.iter().zip(&up).zip(&got) {
                let want = (x / (1.0 + (-x).exp())) * u;
                let tol = 8.0 * f32::EPSILON * want.abs() + 1e-30;
                assert!(
                    (g - want).abs() <= tol,
                    "{}: x={x}: {g} vs {want}",
                    isa.name()
                );
            }
        }
    }
}
