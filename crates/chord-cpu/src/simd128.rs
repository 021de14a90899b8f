//! SIMD128 forms of the portable attention kernels in `simd` (wasm32 built with `+simd128`),
//! each computing exactly the portable code's bits: the products (and the `acc += p·v` updates,
//! a multiply then an add, as the portable code rounds them) four lanes at a time, and the dot
//! products' sums added one by one in element order from the same start as `Iterator::sum`.
//! The F16 cache values are converted four at a time with integer ops giving `half`'s values
//! (its software conversion, which is what wasm runs otherwise, was most of attention's time).

use core::arch::wasm32::*;
use half::f16;

/// Four f32 at `p` (4 readable floats; wasm loads have no alignment requirement).
#[inline(always)]
fn load_f32x4(x: &[f32]) -> v128 {
    let x: &[f32; 4] = x.try_into().expect("4 floats");
    // SAFETY: 16 readable bytes.
    unsafe { v128_load(x.as_ptr() as *const v128) }
}

/// Four halves to f32x4, bit for bit `half::f16::to_f32` (NaNs quieted as it does).
#[inline(always)]
fn f16x4(x: &[f16]) -> v128 {
    let x: &[f16; 4] = x.try_into().expect("4 halves");
    // SAFETY: 8 readable bytes, zero-extended to 16.
    let h = u32x4_extend_low_u16x8(unsafe { v128_load64_zero(x.as_ptr() as *const u64) });
    let sign = i32x4_shl(v128_and(h, u32x4_splat(0x8000)), 16);
    let em = i32x4_shl(v128_and(h, u32x4_splat(0x7fff)), 13);
    // The magnitude bits in an f32's place read as 2^-112 times the half (zeros and
    // subnormals too, as f32 subnormals, which wasm never flushes).
    let finite = f32x4_mul(em, f32x4_splat(f32::from_bits((127 + 112) << 23)));
    let quiet = v128_and(
        i32x4_gt(em, u32x4_splat(0x0f80_0000)),
        u32x4_splat(0x0040_0000),
    );
    let special = v128_or(v128_or(em, u32x4_splat(0x7f80_0000)), quiet);
    let is_special = i32x4_gt(em, u32x4_splat(0x0f7f_ffff));
    v128_or(sign, v128_bitselect(special, finite, is_special))
}

/// `sum += lanes of t`, in lane order.
#[inline(always)]
fn add_lanes(sum: f32, t: v128) -> f32 {
    sum + f32x4_extract_lane::<0>(t)
        + f32x4_extract_lane::<1>(t)
        + f32x4_extract_lane::<2>(t)
        + f32x4_extract_lane::<3>(t)
}

/// What `Iterator::sum` of f32 starts from (the library's choice, kept).
#[inline(always)]
fn sum_start() -> f32 {
    core::iter::empty::<f32>().sum()
}

/// A KV cache element type: four of them as f32x4, and one as f32, with the same values.
trait CacheElem: Copy {
    fn load4(x: &[Self]) -> v128;
    fn to_f32(self) -> f32;
}
impl CacheElem for f32 {
    #[inline(always)]
    fn load4(x: &[f32]) -> v128 {
        load_f32x4(x)
    }
    #[inline(always)]
    fn to_f32(self) -> f32 {
        self
    }
}
impl CacheElem for f16 {
    #[inline(always)]
    fn load4(x: &[f16]) -> v128 {
        f16x4(x)
    }
    #[inline(always)]
    fn to_f32(self) -> f32 {
        f16::to_f32(self)
    }
}

/// `Σ a[i]·b[i]`: products four at a time, summed one by one in element order.
#[inline(always)]
fn dot<T: CacheElem>(a: &[f32], b: &[T]) -> f32 {
    let n = a.len().min(b.len());
    let (a4, b4) = (a[..n].chunks_exact(4), b[..n].chunks_exact(4));
    let (ra, rb) = (a4.remainder(), b4.remainder());
    let mut s = sum_start();
    for (x, y) in a4.zip(b4) {
        s = add_lanes(s, f32x4_mul(load_f32x4(x), T::load4(y)));
    }
    ra.iter().zip(rb).fold(s, |s, (x, y)| s + x * y.to_f32())
}

/// `acc[i] += p·v[i]` (a multiply, then an add), four at a time.
#[inline(always)]
fn axpy<T: CacheElem>(acc: &mut [f32], p: f32, v: &[T]) {
    let n = acc.len().min(v.len());
    let pv = f32x4_splat(p);
    let mut a4 = acc[..n].chunks_exact_mut(4);
    let v4 = v[..n].chunks_exact(4);
    let rv = v4.remainder();
    for (a, x) in (&mut a4).zip(v4) {
        let r = f32x4_add(load_f32x4(a), f32x4_mul(pv, T::load4(x)));
        // SAFETY: `a` is 4 writable floats.
        unsafe { v128_store(a.as_mut_ptr() as *mut v128, r) };
    }
    for (a, &x) in a4.into_remainder().iter_mut().zip(rv) {
        *a += p * x.to_f32();
    }
}

pub(crate) fn dot_f32(a: &[f32], b: &[f32]) -> f32 {
    dot(a, b)
}

pub(crate) fn dot_f16(a: &[f32], b: &[f16]) -> f32 {
    dot(a, b)
}

pub(crate) fn axpy_f32(acc: &mut [f32], p: f32, v: &[f32]) {
    axpy(acc, p, v)
}

pub(crate) fn axpy_f16(acc: &mut [f32], p: f32, v: &[f16]) {
    axpy(acc, p, v)
}
