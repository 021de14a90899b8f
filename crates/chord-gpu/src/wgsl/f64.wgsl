// The three f64 operations of chord-cpu's softmax denominator, emulated exactly on u32s (WGSL
// has no f64, and float-float pairs do not round like f64): `l += e as f64`, `l *= c as f64`
// and `(1.0 / l) as f32`, for l >= 0 and e, c >= 0 (f32). Every result is rounded to nearest
// even at 53 bits, as the CPU's f64 is, so the final f32 is the CPU's bit for bit.
//
// A value is m * 2^e with the 53-bit significand m = hi * 2^32 + lo in [2^52, 2^53), or zero
// (kind 0), or NaN (kind 2). No subnormal f64 arises: every f32 is a normal f64.

struct F64 {
    hi: u32,
    lo: u32,
    e: i32,
    kind: u32, // 0 zero, 1 positive finite, 2 NaN
}

fn f64_zero() -> F64 { return F64(0u, 0u, 0, 0u); }

// 64-bit helpers on (hi, lo) pairs; shift counts below 64.
fn shr64(hi: u32, lo: u32, n: u32) -> vec2<u32> {
    if (n == 0u) { return vec2<u32>(hi, lo); }
    if (n >= 32u) { return vec2<u32>(0u, hi >> (n - 32u)); }
    return vec2<u32>(hi >> n, (lo >> n) | (hi << (32u - n)));
}

fn shl64(hi: u32, lo: u32, n: u32) -> vec2<u32> {
    if (n == 0u) { return vec2<u32>(hi, lo); }
    if (n >= 32u) { return vec2<u32>(lo << (n - 32u), 0u); }
    return vec2<u32>((hi << n) | (lo >> (32u - n)), lo << n);
}

fn add64(a: vec2<u32>, b: vec2<u32>) -> vec2<u32> {
    let lo = a.y + b.y;
    var carry = 0u;
    if (lo < a.y) { carry = 1u; }
    return vec2<u32>(a.x + b.x + carry, lo);
}

fn sub64(a: vec2<u32>, b: vec2<u32>) -> vec2<u32> {
    var borrow = 0u;
    if (a.y < b.y) { borrow = 1u; }
    return vec2<u32>(a.x - b.x - borrow, a.y - b.y);
}

fn ge64(a: vec2<u32>, b: vec2<u32>) -> bool {
    return a.x > b.x || (a.x == b.x && a.y >= b.y);
}

// A non-negative f32 as an F64 (exact).
fn f64_from_f32(x: f32) -> F64 {
    let b = bitcast<u32>(x);
    let field = (b >> 23u) & 0xffu;
    var m = b & 0x7fffffu;
    if (field == 0xffu) {
        return F64(0u, 0u, 0, 2u); // NaN, or +inf: e, c <= 1 never are
    }
    var ex: i32;
    if (field == 0u) {
        if (m == 0u) { return f64_zero(); }
        let sh = countLeadingZeros(m) - 8u; // bring the leading bit to position 23
        m <<= sh;
        ex = -149 - i32(sh);
    } else {
        m |= 0x800000u;
        ex = i32(field) - 150;
    }
    // 24-bit m at position 52: hi gets m >> 3, lo gets the low 3 bits at the top.
    return F64(m >> 3u, m << 29u, ex - 29, 1u);
}

// Round the 53-bit significand (hi, lo) given the bits below it: `half_bit` is the first bit
// below, `sticky` whether any further bit is set. Exponent `e` is the significand's.
fn f64_round(hi: u32, lo: u32, e: i32, half_bit: bool, sticky: bool) -> F64 {
    var m = vec2<u32>(hi, lo);
    var ex = e;
    if (half_bit && (sticky || (lo & 1u) == 1u)) {
        m = add64(m, vec2<u32>(0u, 1u));
        if (m.x == 0x200000u) { m = vec2<u32>(0x100000u, 0u); ex += 1; }
    }
    return F64(m.x, m.y, ex, 1u);
}

// RN(a + b) for a, b >= 0.
fn f64_add(a_in: F64, b_in: F64) -> F64 {
    if (a_in.kind == 2u || b_in.kind == 2u) { return F64(0u, 0u, 0, 2u); }
    if (b_in.kind == 0u) { return a_in; }
    if (a_in.kind == 0u) { return b_in; }
    var a = a_in;
    var b = b_in;
    if (b.e > a.e) { a = b_in; b = a_in; }
    // Ten guard bits: A = ma << 10 (63 bits), B = mb << 10 >> d with the lost bits as sticky.
    let aa = shl64(a.hi, a.lo, 10u);
    let bw = shl64(b.hi, b.lo, 10u);
    let d = u32(a.e - b.e);
    var bs = vec2<u32>(0u, 0u);
    var sticky = false;
    if (d < 64u) {
        bs = shr64(bw.x, bw.y, d);
        let back = shl64(bs.x, bs.y, d);
        sticky = back.x != bw.x || back.y != bw.y;
    } else {
        sticky = true;
    }
    var s = add64(aa, bs);
    var ex = a.e - 10;
    if ((s.x >> 31u) != 0u) {
        sticky = sticky || (s.y & 1u) != 0u;
        s = shr64(s.x, s.y, 1u);
        ex += 1;
    }
    // s in [2^62, 2^63): significand s >> 10, then the half bit (bit 9) and bits 0..8.
    let m = shr64(s.x, s.y, 10u);
    let half_bit = (s.y & 0x200u) != 0u;
    sticky = sticky || (s.y & 0x1ffu) != 0u;
    return f64_round(m.x, m.y, ex + 10, half_bit, sticky);
}

// RN(a * c) for a >= 0 and an f32 c >= 0: the 53 x 24-bit product in 16-bit limbs.
fn f64_mul_f32(a: F64, c_f: f32) -> F64 {
    let c = f64_from_f32(c_f);
    if (a.kind == 2u || c.kind == 2u) { return F64(0u, 0u, 0, 2u); }
    if (a.kind == 0u || c.kind == 0u) { return f64_zero(); }
    // c's 24 significant bits sit at the top of its 53-bit significand: cm = c >> 29.
    let cm = (c.hi << 3u) | (c.lo >> 29u);
    let ce = c.e + 29;
    let am = array<u32, 4>(a.lo & 0xffffu, a.lo >> 16u, a.hi & 0xffffu, a.hi >> 16u);
    let cl = array<u32, 2>(cm & 0xffffu, cm >> 16u);
    var r = array<u32, 6>(0u, 0u, 0u, 0u, 0u, 0u);
    for (var i = 0u; i < 4u; i++) {
        for (var j = 0u; j < 2u; j++) {
            let p = am[i] * cl[j];
            r[i + j] += p & 0xffffu;
            r[i + j + 1u] += p >> 16u;
        }
    }
    for (var i = 0u; i < 5u; i++) {
        r[i + 1u] += r[i] >> 16u;
        r[i] &= 0xffffu;
    }
    // Product P < 2^77 in three words.
    let w0 = r[0] | (r[1] << 16u);
    let w1 = r[2] | (r[3] << 16u);
    let w2 = r[4] | (r[5] << 16u);
    var sh = 23u;
    if ((w2 >> 12u) != 0u) { sh = 24u; }
    let lo = (w0 >> sh) | (w1 << (32u - sh));
    let hi = (w1 >> sh) | (w2 << (32u - sh));
    let rem = w0 & ((1u << sh) - 1u);
    let mid = 1u << (sh - 1u);
    return f64_round(hi, lo, a.e + ce + i32(sh), rem >= mid, rem > mid);
}

// (1.0 / a) as f32 for a positive finite a: RN53 of the quotient, then RN24 of that, as the
// CPU's f64 division and cast do. A result outside f32's normal range (a > 2^126 or
// a < 2^-128: not reached, l is in [1, keys]) becomes 0 or inf (expf.wgsl's inf_f32).
fn f64_recip_f32(a: F64) -> f32 {
    var qhi: u32;
    var qlo: u32;
    var qe: i32; // the rounded quotient is (qhi, qlo) * 2^qe
    if (a.hi == 0x100000u && a.lo == 0u) {
        qhi = 0x100000u;
        qlo = 0u;
        qe = -a.e - 104;
    } else {
        // floor(2^106 / m), 54 bits, by restoring division; the first bit is 1.
        let m = vec2<u32>(a.hi, a.lo);
        var r = sub64(vec2<u32>(0x200000u, 0u), m);
        var q = vec2<u32>(0u, 1u);
        for (var i = 0u; i < 53u; i++) {
            r = shl64(r.x, r.y, 1u);
            q = shl64(q.x, q.y, 1u);
            if (ge64(r, m)) { r = sub64(r, m); q.y |= 1u; }
        }
        let half_bit = (q.y & 1u) == 1u;
        let sticky = r.x != 0u || r.y != 0u;
        let q53 = shr64(q.x, q.y, 1u);
        let rounded = f64_round(q53.x, q53.y, -a.e - 105, half_bit, sticky);
        qhi = rounded.hi;
        qlo = rounded.lo;
        qe = rounded.e;
    }
    // RN24 of the 53-bit value.
    var mant = (qhi << 3u) | (qlo >> 29u);
    let rem = qlo & 0x1fffffffu;
    var field = qe + 29 + 23 + 127;
    if (rem > 0x10000000u || (rem == 0x10000000u && (mant & 1u) == 1u)) {
        mant += 1u;
        if (mant == 0x1000000u) { mant = 0x800000u; field += 1; }
    }
    if (field >= 255) { return inf_f32(0u); }
    if (field <= 0) { return 0.0; }
    return bitcast<f32>((u32(field) << 23u) | (mant & 0x7fffffu));
}
