// expf with the bits of chord-model's `math::expf` (the `libm` crate's, FreeBSD's e_expf.c: f32
// arithmetic throughout). WGSL's own `exp` and `/` are not correctly rounded, so the one
// division is done on the integer mantissas and the final scaling by 2^k on the exponent bits;
// the rest is the same f32 operations in the same order (the driver must not contract them into
// fused multiply-adds: lavapipe does not).

// ±inf through a function (WGSL rejects an infinite constant expression).
fn inf_f32(sign: u32) -> f32 { return bitcast<f32>(sign | 0x7f800000u); }

// q = RN(a / b) for finite a, b with b != 0 whose quotient is a normal f32 (in expf: |a| < 0.13,
// b in [1.6, 2.4]); restoring division of the 24-bit significands, 26 quotient bits, then
// round-to-nearest-even with the remainder as sticky bit.
fn div_rn(a: f32, b: f32) -> f32 {
    let ab = bitcast<u32>(a);
    let bb = bitcast<u32>(b);
    let sign = (ab ^ bb) & 0x80000000u;
    let ea = i32((ab >> 23u) & 0xffu);
    let eb = i32((bb >> 23u) & 0xffu);
    if ((ab & 0x7fffffffu) == 0u) { return bitcast<f32>(sign); }
    let ma = (ab & 0x7fffffu) | 0x800000u;
    let mb = (bb & 0x7fffffu) | 0x800000u;
    var r = ma;
    var q = 0u;
    for (var i = 0u; i < 26u; i++) {
        var bit = 0u;
        if (r >= mb) { r -= mb; bit = 1u; }
        q = (q << 1u) | bit;
        r <<= 1u;
    }
    // q = floor(ma * 2^25 / mb), ma / mb in (1/2, 2).
    var mant: u32;
    var half_bit: u32;
    var sticky = r != 0u;
    var field = ea - eb + 127;
    if ((q >> 25u) != 0u) {
        mant = q >> 2u;
        half_bit = (q >> 1u) & 1u;
        sticky = sticky || (q & 1u) != 0u;
    } else {
        mant = q >> 1u;
        half_bit = q & 1u;
        field -= 1;
    }
    if (half_bit == 1u && (sticky || (mant & 1u) == 1u)) {
        mant += 1u;
        if (mant == 0x1000000u) { mant = 0x800000u; field += 1; }
    }
    if (field >= 255) { return inf_f32(sign); }
    if (field <= 0) { return bitcast<f32>(sign); } // not reached from expf
    return bitcast<f32>(sign | (u32(field) << 23u) | (mant & 0x7fffffu));
}

// RN(y * 2^k) for a normal y, built on the bits (libm's scalbnf rounds once, also into the
// subnormal range, which a driver that flushes denormals would lose in a multiplication).
fn scalbnf_exact(y: f32, k: i32) -> f32 {
    let b = bitcast<u32>(y);
    let sign = b & 0x80000000u;
    let field = i32((b >> 23u) & 0xffu) + k;
    if (field >= 255) { return inf_f32(sign); }
    if (field >= 1) { return bitcast<f32>(sign | (u32(field) << 23u) | (b & 0x7fffffu)); }
    let shift = u32(1 - field);
    if (shift > 24u) { return bitcast<f32>(sign); }
    let m = (b & 0x7fffffu) | 0x800000u;
    var q = m >> shift;
    let rem = m & ((1u << shift) - 1u);
    let mid = 1u << (shift - 1u);
    if (rem > mid || (rem == mid && (q & 1u) == 1u)) { q += 1u; }
    return bitcast<f32>(sign | q);
}

fn expf(x_in: f32) -> f32 {
    var x = x_in;
    let ln2_hi = bitcast<f32>(0x3f317200u);
    let ln2_lo = bitcast<f32>(0x35bfbe8eu);
    let inv_ln2 = bitcast<f32>(0x3fb8aa3bu);
    let p1 = bitcast<f32>(0x3e2aaa8fu);
    let p2 = bitcast<f32>(0xbb355215u);
    var hx = bitcast<u32>(x);
    let sign = hx >> 31u;
    hx &= 0x7fffffffu;
    if (hx >= 0x42aeac50u) {
        if (hx > 0x7f800000u) { return x; } // NaN
        if (hx >= 0x42b17218u && sign == 0u) { return inf_f32(0u); } // overflow
        if (sign == 1u && hx >= 0x42cff1b5u) { return 0.0; } // underflow
    }
    var k: i32;
    var hi: f32;
    var lo: f32;
    if (hx > 0x3eb17218u) {
        if (hx > 0x3f851592u) {
            var rnd = 0.5;
            if (sign == 1u) { rnd = -0.5; }
            k = i32(inv_ln2 * x + rnd);
        } else {
            k = 1 - i32(sign) - i32(sign);
        }
        let kf = f32(k);
        hi = x - kf * ln2_hi;
        lo = kf * ln2_lo;
        x = hi - lo;
    } else if (hx > 0x39000000u) {
        k = 0;
        hi = x;
        lo = 0.0;
    } else {
        return 1.0 + x;
    }
    let xx = x * x;
    let c = x - xx * (p1 + xx * p2);
    let y = 1.0 + ((div_rn(x * c, 2.0 - c) - lo) + hi);
    if (k == 0) { return y; }
    return scalbnf_exact(y, k);
}
