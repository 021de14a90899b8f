// Correctly rounded f32 arithmetic on the integers, for the ops whose CPU version a driver's
// WGSL does not reproduce bit for bit: WGSL's `/` (2.5 ulp) and `sqrt` need not be correctly
// rounded, and `fma` need not be fused (lavapipe's is not; the CPU's RoPE uses `mul_add`).
// Also f32 -> f16 with round-to-nearest-even on the bits (the `half` crate's conversion) and
// f16 -> f32. Needs expf.wgsl (`inf_f32`) and f64.wgsl (the 64-bit helpers, `F64`) in front.
// Non-finite inputs take the driver's operation (their results are not rounded anyway).
// Results below the smallest subnormal's half (2^-150) become zero without rounding up.

// A finite non-zero f32 as m * 2^e with m in [2^23, 2^24) (subnormals normalized).
struct Unpacked { m: u32, e: i32 }

fn ex_unpack(x: f32) -> Unpacked {
    let b = bitcast<u32>(x);
    let field = (b >> 23u) & 0xffu;
    var m = b & 0x7fffffu;
    if (field == 0u) {
        let sh = countLeadingZeros(m) - 8u;
        return Unpacked(m << sh, -149 - i32(sh));
    }
    return Unpacked(m | 0x800000u, i32(field) - 150);
}

fn ex_is_finite(x: f32) -> bool { return (bitcast<u32>(x) & 0x7f800000u) != 0x7f800000u; }
fn ex_is_zero(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) == 0u; }

// Index of the highest set bit of a non-zero (hi, lo).
fn ex_msb64(v: vec2<u32>) -> u32 {
    if (v.x != 0u) { return 63u - countLeadingZeros(v.x); }
    return 31u - countLeadingZeros(v.y);
}

// RN(sign · v · 2^e) for a non-zero 64-bit v; `sticky`: the exact value has bits below v's
// lowest, which a caller only says when v has at least 25 significant bits (so the half bit is
// never below v's lowest bit, where the sticky bits would be).
fn ex_round_pack(sign: u32, v: vec2<u32>, e: i32, sticky_in: bool) -> f32 {
    let p = ex_msb64(v);
    var field = i32(p) + e + 127; // the biased exponent of the value's leading bit
    var s = i32(p) - 23;
    if (field < 1) {
        // Subnormal: the last kept bit is 2^-149.
        s = -149 - e;
        field = 1;
    }
    if (s <= 0) {
        // Exact (at most 24 significant bits, v < 2^24).
        return bitcast<f32>(sign | ((u32(field - 1) << 23u) + (v.y << u32(-s))));
    }
    if (s > 63) { return bitcast<f32>(sign); }
    let su = u32(s);
    let m = shr64(v.x, v.y, su);
    let back = shl64(m.x, m.y, su);
    let rem = sub64(v, back);
    let half = shl64(0u, 1u, su - 1u);
    let half_bit = (rem.x & half.x) != 0u || (rem.y & half.y) != 0u;
    let below = (rem.x & ~half.x) != 0u || (rem.y & ~half.y) != 0u;
    var mant = m.y;
    if (half_bit && (sticky_in || below || (mant & 1u) == 1u)) { mant += 1u; }
    // A mantissa carried to 2^24 lands in the next binade: ((field - 1) << 23) + mant adds it.
    let bits = (u32(field - 1) << 23u) + mant;
    if (bits >= 0x7f800000u) { return inf_f32(sign); }
    return bitcast<f32>(sign | bits);
}

// The full 64-bit product of two u32s.
fn ex_mul32(a: u32, b: u32) -> vec2<u32> {
    let a0 = a & 0xffffu;
    let a1 = a >> 16u;
    let b0 = b & 0xffffu;
    let b1 = b >> 16u;
    let lo = vec2<u32>(a1 * b1, a0 * b0);
    let mid1 = a0 * b1;
    let mid2 = a1 * b0;
    var r = add64(lo, vec2<u32>(mid1 >> 16u, mid1 << 16u));
    r = add64(r, vec2<u32>(mid2 >> 16u, mid2 << 16u));
    return r;
}

// RN(a / b).
fn div_f32(a: f32, b: f32) -> f32 {
    if (!ex_is_finite(a) || !ex_is_finite(b) || ex_is_zero(b)) { return a / b; }
    let sign = (bitcast<u32>(a) ^ bitcast<u32>(b)) & 0x80000000u;
    if (ex_is_zero(a)) { return bitcast<f32>(sign); }
    let ua = ex_unpack(a);
    let ub = ex_unpack(b);
    // q = floor(ma * 2^25 / mb) in [2^24, 2^26) by restoring division; the remainder is sticky.
    var r = ua.m;
    var q = 0u;
    for (var i = 0u; i < 26u; i++) {
        var bit = 0u;
        if (r >= ub.m) { r -= ub.m; bit = 1u; }
        q = (q << 1u) | bit;
        r <<= 1u;
    }
    return ex_round_pack(sign, vec2<u32>(0u, q), ua.e - ub.e - 25, r != 0u);
}

// RN(sqrt(x)).
fn sqrt_f32(x: f32) -> f32 {
    if (!ex_is_finite(x) || ex_is_zero(x) || (bitcast<u32>(x) >> 31u) == 1u) { return sqrt(x); }
    let u = ex_unpack(x);
    var m = u.m;
    var e = u.e;
    if ((e & 1) != 0) { m <<= 1u; e -= 1; }
    // The radicand m * 2^26 (< 2^51): its root has 25 or 26 bits, digit by digit (two radicand
    // bits per step; the remainder stays below 2 * root + 1 < 2^27).
    let hi = m >> 6u;
    let lo = m << 26u;
    var root = 0u;
    var rem = 0u;
    for (var i = 25; i >= 0; i--) {
        let sh = u32(2 * i);
        var pair: u32;
        if (sh >= 32u) { pair = (hi >> (sh - 32u)) & 3u; } else { pair = (lo >> sh) & 3u; }
        rem = (rem << 2u) | pair;
        root <<= 1u;
        let t = (root << 1u) | 1u;
        if (rem >= t) { rem -= t; root |= 1u; }
    }
    return ex_round_pack(0u, vec2<u32>(0u, root), (e - 26) / 2, rem != 0u);
}

// RN(a * b + c) with one rounding, as a fused multiply-add.
fn fma_f32(a: f32, b: f32, c: f32) -> f32 {
    if (!ex_is_finite(a) || !ex_is_finite(b) || !ex_is_finite(c)) { return a * b + c; }
    let sp = (bitcast<u32>(a) ^ bitcast<u32>(b)) & 0x80000000u;
    let sc = bitcast<u32>(c) & 0x80000000u;
    if (ex_is_zero(a) || ex_is_zero(b)) {
        // An exact zero product: c, except +0 for zeros of opposite signs.
        if (ex_is_zero(c) && sp != sc) { return 0.0; }
        if (ex_is_zero(c)) { return bitcast<f32>(sp); }
        return c;
    }
    let ua = ex_unpack(a);
    let ub = ex_unpack(b);
    // The exact product (47 or 48 bits), and c, both with their leading bit moved to bit 61.
    var pm = ex_mul32(ua.m, ub.m);
    let psh = 61u - ex_msb64(pm);
    pm = shl64(pm.x, pm.y, psh);
    let pe = ua.e + ub.e - i32(psh);
    if (ex_is_zero(c)) { return ex_round_pack(sp, pm, pe, false); }
    let uc = ex_unpack(c);
    let cm = shl64(0u, uc.m, 38u);
    let ce = uc.e - 38;
    // X: the operand with the larger exponent; Y is shifted down to it, the bits it loses
    // jammed into its lowest bit (enough guard bits below the rounding position for that).
    var xm = pm;
    var xe = pe;
    var xs = sp;
    var ym = cm;
    var ys = sc;
    var d = u32(pe - ce);
    if (ce > pe) {
        xm = cm;
        xe = ce;
        xs = sc;
        ym = pm;
        ys = sp;
        d = u32(ce - pe);
    }
    if (d >= 62u) {
        ym = vec2<u32>(0u, 1u);
    } else if (d > 0u) {
        let sh = shr64(ym.x, ym.y, d);
        let back = shl64(sh.x, sh.y, d);
        var jam = 0u;
        if (back.x != ym.x || back.y != ym.y) { jam = 1u; }
        ym = vec2<u32>(sh.x, sh.y | jam);
    }
    var sum: vec2<u32>;
    var sign = xs;
    if (xs == ys) {
        sum = add64(xm, ym);
    } else if (ge64(xm, ym)) {
        sum = sub64(xm, ym);
    } else {
        // Only when d = 0 (nothing jammed).
        sum = sub64(ym, xm);
        sign = ys;
    }
    if (sum.x == 0u && sum.y == 0u) { return 0.0; }
    return ex_round_pack(sign, sum, xe, false);
}

// f32 -> f16 bits, round to nearest even (the `half` crate's `f16::from_f32`).
fn f16_bits(x: f32) -> u32 {
    let b = bitcast<u32>(x);
    let sign = (b >> 16u) & 0x8000u;
    let a = b & 0x7fffffffu;
    if (a >= 0x7f800000u) {
        if (a == 0x7f800000u) { return sign | 0x7c00u; }
        return sign | 0x7e00u | ((a >> 13u) & 0x3ffu);
    }
    if (a >= 0x47800000u) { return sign | 0x7c00u; }
    let field = a >> 23u;
    if (field >= 113u) {
        // Normal half: rebias, keep 10 mantissa bits, round on the 13 below.
        let r = a - 0x38000000u;
        var h = r >> 13u;
        let rem = r & 0x1fffu;
        if (rem > 0x1000u || (rem == 0x1000u && (h & 1u) == 1u)) { h += 1u; }
        return sign | h;
    }
    // Subnormal half (or zero): the mantissa with its leading bit, shifted to 2^-24 units.
    let shift = 126u - field;
    if (shift > 24u) { return sign; }
    let m = (a & 0x7fffffu) | 0x800000u;
    var h = m >> shift;
    let rem = m & ((1u << shift) - 1u);
    let mid = 1u << (shift - 1u);
    if (rem > mid || (rem == mid && (h & 1u) == 1u)) { h += 1u; }
    return sign | h;
}

// f16 bits to f32, exact (subnormal halves included: a driver's conversion may flush them).
fn f16_value(h: u32) -> f32 {
    let s = (h & 0x8000u) << 16u;
    let e = (h >> 10u) & 0x1fu;
    let m = h & 0x3ffu;
    if (e == 0u) {
        if (m == 0u) { return bitcast<f32>(s); }
        let sh = 10u - (31u - countLeadingZeros(m));
        return bitcast<f32>(s | ((113u - sh) << 23u) | (((m << sh) & 0x3ffu) << 13u));
    }
    if (e == 31u) { return bitcast<f32>(s | 0x7f800000u | (m << 13u)); }
    return bitcast<f32>(s | ((e + 112u) << 23u) | (m << 13u));
}

// (a / n) as f32 for an F64 a >= 0 and an integer 0 < n < 2^24: RN53 of the quotient (the
// CPU's f64 division), then RN24 of that (its cast), as RMSNorm's `(sum / n as f64) as f32`.
fn f64_div_u32_f32(a: F64, n: u32) -> f32 {
    if (a.kind == 2u) { return bitcast<f32>(0x7fc00000u); }
    if (a.kind == 0u) { return 0.0; }
    let b = f64_from_f32(f32(n));
    let mb = vec2<u32>(b.hi, b.lo);
    var r = vec2<u32>(a.hi, a.lo);
    var e = a.e - b.e;
    if (!ge64(r, mb)) { r = shl64(r.x, r.y, 1u); e -= 1; }
    // 55 quotient bits, the first one set: q in [2^54, 2^55).
    var q = vec2<u32>(0u, 0u);
    for (var i = 0u; i < 55u; i++) {
        q = shl64(q.x, q.y, 1u);
        if (ge64(r, mb)) { r = sub64(r, mb); q.y |= 1u; }
        r = shl64(r.x, r.y, 1u);
    }
    let half_bit = (q.y & 2u) != 0u;
    let sticky = (q.y & 1u) != 0u || r.x != 0u || r.y != 0u;
    let q53 = shr64(q.x, q.y, 2u);
    let d = f64_round(q53.x, q53.y, e - 52, half_bit, sticky);
    // The 53-bit result rounded once more to f32 (exact bits: no sticky).
    return ex_round_pack(0u, vec2<u32>(d.hi, d.lo), d.e, false);
}
