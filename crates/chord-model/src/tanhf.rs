//! `tanhf` (and the `expm1f` it is built on) with glibc's results, in portable Rust.
//!
//! Why: GELU-tanh (Gemma's FFN) reads a 64Ki-entry f16 table that ggml fills once with
//! `0.5·x·(1 + tanhf(√(2/π)·x·(1 + 0.044715·x²)))`, and llama.cpp's `tanhf` on Linux is glibc's.
//! The `libm` crate (musl's algorithm) differs in the last bit often enough that about a dozen
//! table entries round to a different f16, and one different activation is enough to move
//! llama.cpp's output. glibc 2.36 uses the classic fdlibm single-precision algorithms
//! (`s_tanhf.c` over `s_expm1f.c`, no FMA build), reproduced here operation for operation.
//! Checked against this machine's glibc in tests/tanhf_glibc.rs.

const LN2_HI: f32 = f32::from_bits(0x3f31_7180);
const LN2_LO: f32 = f32::from_bits(0x3717_f7d1);
const INVLN2: f32 = f32::from_bits(0x3fb8_aa3b);
const O_THRESHOLD: f32 = f32::from_bits(0x42b1_7180);
const Q1: f32 = f32::from_bits(0xbd08_8889);
const Q2: f32 = f32::from_bits(0x3ad0_0d01);
const Q3: f32 = f32::from_bits(0xb8a6_70cd);
const Q4: f32 = f32::from_bits(0x3686_7e54);
const Q5: f32 = f32::from_bits(0xb457_edbb);
const HUGE: f32 = 1.0e30;
const TINY: f32 = 1.0e-30;

/// glibc's `expm1f`: e^x − 1.
pub fn expm1f(x: f32) -> f32 {
    let bits = x.to_bits();
    let negative = bits >> 31 != 0;
    let hx = bits & 0x7fff_ffff;

    // Huge and non-finite arguments.
    if hx >= 0x4195_b844 {
        // |x| >= 27·ln2
        if hx >= 0x42b1_7218 {
            if hx > 0x7f80_0000 {
                return x + x; // NaN
            }
            if hx == 0x7f80_0000 {
                return if negative { -1.0 } else { x };
            }
            if x > O_THRESHOLD {
                return f32::INFINITY;
            }
        }
        if negative {
            return TINY - 1.0;
        }
    }

    // Argument reduction: x = k·ln2 + (hi − lo), with c the rounding error of hi − lo.
    let (k, x, c) = if hx > 0x3eb1_7218 {
        // |x| > ln2/2
        let (hi, lo, k) = if hx < 0x3f85_1592 {
            // and |x| < 1.5·ln2
            if negative {
                (x + LN2_HI, -LN2_LO, -1)
            } else {
                (x - LN2_HI, LN2_LO, 1)
            }
        } else {
            let k = (INVLN2 * x + if negative { -0.5 } else { 0.5 }) as i32;
            let t = k as f32;
            (x - t * LN2_HI, t * LN2_LO, k)
        };
        let xr = hi - lo;
        (k, xr, (hi - xr) - lo)
    } else if hx < 0x3300_0000 {
        // |x| < 2^-25: x itself (the C code's `huge` games only raise flags).
        let t = HUGE + x;
        return x - (t - (HUGE + x));
    } else {
        (0, x, 0.0)
    };

    // x is now in the primary range.
    let hfx = 0.5 * x;
    let hxs = x * hfx;
    let r1 = 1.0 + hxs * (Q1 + hxs * (Q2 + hxs * (Q3 + hxs * (Q4 + hxs * Q5))));
    let t = 3.0 - r1 * hfx;
    let mut e = hxs * ((r1 - t) / (6.0 - x * t));
    if k == 0 {
        return x - (x * e - hxs);
    }
    e = x * (e - c) - c;
    e -= hxs;
    if k == -1 {
        return 0.5 * (x - e) - 0.5;
    }
    if k == 1 {
        return if x < -0.25 {
            -2.0 * (e - (x + 0.5))
        } else {
            1.0 + 2.0 * (x - e)
        };
    }
    let scale = |y: f32| f32::from_bits((y.to_bits() as i32).wrapping_add(k << 23) as u32);
    if k <= -2 || k > 56 {
        // exp(x) − 1 is exp(x) here.
        let y = 1.0 - (e - x);
        return scale(y) - 1.0;
    }
    if k < 23 {
        let t = f32::from_bits(0x3f80_0000 - (0x0100_0000 >> k)); // 1 − 2^-k
        let y = t - (e - x);
        scale(y)
    } else {
        let t = f32::from_bits(((0x7f - k) << 23) as u32); // 2^-k
        let mut y = x - (e + t);
        y += 1.0;
        scale(y)
    }
}

/// glibc's `tanhf`.
pub fn tanhf(x: f32) -> f32 {
    let jx = x.to_bits() as i32;
    let ix = jx & 0x7fff_ffff;
    if ix >= 0x7f80_0000 {
        // inf or NaN
        return if jx >= 0 {
            1.0 / x + 1.0
        } else {
            1.0 / x - 1.0
        };
    }
    let z = if ix < 0x41b0_0000 {
        // |x| < 22
        if ix == 0 {
            return x; // ±0
        }
        if ix < 0x2400_0000 {
            return x * (1.0 + x); // |x| < 2^-55
        }
        if ix >= 0x3f80_0000 {
            // |x| >= 1
            let t = expm1f(2.0 * x.abs());
            1.0 - 2.0 / (t + 2.0)
        } else {
            let t = expm1f(-2.0 * x.abs());
            -t / (t + 2.0)
        }
    } else {
        1.0 - TINY // |x| >= 22: ±1
    };
    if jx >= 0 {
        z
    } else {
        -z
    }
}
