//! Small float vector kernels for attention (dot products and `acc += p·v` over one head, with
//! F32 or F16 cache rows), AVX2+FMA+F16C where the selected ISA allows, portable otherwise.

use half::f16;

// Only the x86 paths ask (wasm32 builds have no such branch).
#[cfg(target_arch = "x86_64")]
fn use_avx2() -> bool {
    use std::sync::OnceLock;
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| chord_quant::selected_isa() != chord_quant::Isa::Scalar)
}

pub(crate) fn dot_f32(a: &[f32], b: &[f32]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if use_avx2() {
        // SAFETY: the selected ISA is AVX2/AVX-512, which implies AVX2, FMA and F16C (checked
        // by chord-quant's detection).
        return unsafe { x86::dot_f32(a, b) };
    }
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

pub(crate) fn dot_f16(a: &[f32], b: &[f16]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if use_avx2() {
        // SAFETY: as in `dot_f32`.
        return unsafe { x86::dot_f16(a, b) };
    }
    a.iter().zip(b).map(|(x, y)| x * y.to_f32()).sum()
}

pub(crate) fn axpy_f32(acc: &mut [f32], p: f32, v: &[f32]) {
    #[cfg(target_arch = "x86_64")]
    if use_avx2() {
        // SAFETY: as in `dot_f32`.
        return unsafe { x86::axpy_f32(acc, p, v) };
    }
    for (a, &x) in acc.iter_mut().zip(v) {
        *a += p * x;
    }
}

pub(crate) fn axpy_f16(acc: &mut [f32], p: f32, v: &[f16]) {
    #[cfg(target_arch = "x86_64")]
    if use_avx2() {
        // SAFETY: as in `dot_f32`.
        return unsafe { x86::axpy_f16(acc, p, v) };
    }
    for (a, &x) in acc.iter_mut().zip(v) {
        *a += p * x.to_f32();
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
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
}
