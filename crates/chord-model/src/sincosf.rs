//! `sinf` and `cosf` with the results of glibc's x86-64 FMA build (`__sinf_fma`/`__cosf_fma`,
//! selected on every CPU with AVX2+FMA), in portable Rust.
//!
//! Why: RoPE's cos/sin tables feed every attention score. llama.cpp calls the platform's
//! `cosf`/`sinf`, and on Linux that is glibc's implementation (the ARM Optimized Routines
//! algorithm: a single multiply-subtract range reduction below 120, a 4/π table reduction above,
//! then a short polynomial in f64). The `libm` crate (musl's algorithm) gives a different last
//! bit for about 1% of RoPE's angles, and one different bit in a rotated query or key is enough
//! to flip an 8-bit activation quant downstream. Computing the same algorithm here gives
//! llama.cpp's bits on every platform we run on, wasm included.
//!
//! The FMA build contracts `a + b*c` into one fused operation where GCC sees that shape; the
//! same operations are fused here with `mul_add`. Verified over every f32 input against this
//! machine's glibc (tests/sincosf_glibc.rs).

/// The polynomial set: entry 0 computes cos, entry 1 −cos (the quadrant's sign folded in).
struct Poly {
    c0: f64,
    c1: f64,
    c2: f64,
    c3: f64,
    c4: f64,
    s1: f64,
    s2: f64,
    s3: f64,
}

const SIGN: [f64; 4] = [1.0, -1.0, -1.0, 1.0];
/// 2/π scaled by 2^24, so the quadrant lands in bits 24..31 of the integer conversion.
const HPI_INV: f64 = f64::from_bits(0x4164_5f30_6dc9_c883);
/// π/2.
const HPI: f64 = f64::from_bits(0x3ff9_21fb_5444_2d18);
/// 2π · 2^-64, the scale of the large reduction's fixed-point result.
const PI63: f64 = f64::from_bits(0x3c19_21fb_5444_2d18);

const S1: f64 = f64::from_bits(0xbfc5_5554_5995_a603);
const S2: f64 = f64::from_bits(0x3f81_1076_0523_0bc4);
const S3: f64 = f64::from_bits(0xbf29_94eb_3774_cf24);
const C1: f64 = f64::from_bits(0xbfdf_ffff_fd0c_621c);
const C2: f64 = f64::from_bits(0x3fa5_5553_e106_8f19);
const C3: f64 = f64::from_bits(0xbf56_c087_e89a_359d);
const C4: f64 = f64::from_bits(0x3ef9_9343_027b_f8c3);

const POLY: [Poly; 2] = [
    Poly {
        c0: 1.0,
        c1: C1,
        c2: C2,
        c3: C3,
        c4: C4,
        s1: S1,
        s2: S2,
        s3: S3,
    },
    Poly {
        c0: -1.0,
        c1: -C1,
        c2: -C2,
        c3: -C3,
        c4: -C4,
        s1: S1,
        s2: S2,
        s3: S3,
    },
];

/// 4/π to 192 bits; entry i holds bits 8i.. so every 96-bit window is three aligned words.
const INV_PIO4: [u32; 24] = [
    0xa2, 0xa2f9, 0xa2f983, 0xa2f9836e, 0xf9836e4e, 0x836e4e44, 0x6e4e4415, 0x4e441529, 0x441529fc,
    0x1529fc27, 0x29fc2757, 0xfc2757d1, 0x2757d1f5, 0x57d1f534, 0xd1f534dd, 0xf534ddc0, 0x34ddc0db,
    0xddc0db62, 0xc0db6295, 0xdb629599, 0x6295993c, 0x95993c43, 0x993c4390, 0x3c439041,
];

/// The top 12 bits of |x| (exponent and the first mantissa bits) for cheap range tests.
#[inline]
fn abstop12(x: f32) -> u32 {
    (x.to_bits() >> 20) & 0x7ff
}

/// sin (even `n`) or cos (odd `n`) of the reduced argument `x` (x2 = x²).
#[inline]
fn poly(x: f64, x2: f64, p: &Poly, n: i32) -> f32 {
    if n & 1 == 0 {
        let x3 = x * x2;
        let s1 = x2.mul_add(p.s3, p.s2);
        let x7 = x3 * x2;
        let s = x3.mul_add(p.s1, x);
        x7.mul_add(s1, s) as f32
    } else {
        let x4 = x2 * x2;
        let c2 = x2.mul_add(p.c4, p.c3);
        let c1 = x2.mul_add(p.c1, p.c0);
        let x6 = x4 * x2;
        let c = x4.mul_add(p.c2, c1);
        x6.mul_add(c2, c) as f32
    }
}

/// |x| < 120: x − n·π/2 with n the nearest quadrant, one fused multiply-subtract.
#[inline]
fn reduce_fast(x: f64) -> (f64, i32) {
    let r = x * HPI_INV;
    let n = ((r as i32).wrapping_add(0x80_0000)) >> 24;
    ((-(n as f64)).mul_add(HPI, x), n)
}

/// |x| ≥ 120 (finite): exact fixed-point reduction against 4/π.
#[inline]
fn reduce_large(xi: u32) -> (f64, i32) {
    let arr = &INV_PIO4[((xi >> 26) & 15) as usize..];
    let shift = (xi >> 23) & 7;
    let xi = ((xi & 0xff_ffff) | 0x80_0000) << shift;
    let mut res0 = xi.wrapping_mul(arr[0]) as u64;
    let res1 = xi as u64 * arr[4] as u64;
    let res2 = xi as u64 * arr[8] as u64;
    res0 = (res2 >> 32) | (res0 << 32);
    res0 = res0.wrapping_add(res1);
    let n = (res0.wrapping_add(1 << 61)) >> 62;
    res0 = res0.wrapping_sub(n << 62);
    ((res0 as i64) as f64 * PI63, n as i32)
}

/// glibc's `sinf` (see the module comment).
pub fn sinf(y: f32) -> f32 {
    let x = y as f64;
    if abstop12(y) < abstop12(std::f32::consts::FRAC_PI_4) {
        if abstop12(y) < abstop12(f32::from_bits(0x3980_0000)) {
            return y; // |y| < 2^-12
        }
        poly(x, x * x, &POLY[0], 0)
    } else if abstop12(y) < abstop12(120.0) {
        let (x, n) = reduce_fast(x);
        let s = SIGN[(n & 3) as usize];
        let p = &POLY[((n & 2) >> 1) as usize];
        poly(x * s, x * x, p, n)
    } else if abstop12(y) < abstop12(f32::INFINITY) {
        let xi = y.to_bits();
        let sign = (xi >> 31) as i32;
        let (x, n) = reduce_large(xi);
        let q = n.wrapping_add(sign);
        let s = SIGN[(q & 3) as usize];
        let p = &POLY[((q & 2) >> 1) as usize];
        poly(x * s, x * x, p, n)
    } else {
        f32::NAN // ±inf and NaN
    }
}

/// glibc's `cosf` (see the module comment).
pub fn cosf(y: f32) -> f32 {
    let x = y as f64;
    if abstop12(y) < abstop12(std::f32::consts::FRAC_PI_4) {
        if abstop12(y) < abstop12(f32::from_bits(0x3980_0000)) {
            return 1.0;
        }
        poly(x, x * x, &POLY[0], 1)
    } else if abstop12(y) < abstop12(120.0) {
        let (x, n) = reduce_fast(x);
        let s = SIGN[(n & 3) as usize];
        let p = &POLY[((n & 2) >> 1) as usize];
        poly(x * s, x * x, p, n ^ 1)
    } else if abstop12(y) < abstop12(f32::INFINITY) {
        let xi = y.to_bits();
        let sign = (xi >> 31) as i32;
        let (x, n) = reduce_large(xi);
        let q = n.wrapping_add(sign);
        let s = SIGN[(q & 3) as usize];
        let p = &POLY[((q & 2) >> 1) as usize];
        poly(x * s, x * x, p, n ^ 1)
    } else {
        f32::NAN
    }
}
