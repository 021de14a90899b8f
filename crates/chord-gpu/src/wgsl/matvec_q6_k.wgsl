// Q6_K × Q8_K (ggml_vec_dot_q6_K_q8_K): 210-byte blocks (not word-aligned): 128 bytes of low
// nibbles, 64 bytes of high 2-bit pairs, 16 × i8 scales (one per 16 elements), f16 d.
// Per 128 elements n: element l (< 32) of each quarter takes ql[l] / ql[l+32] low or high
// nibble and bits 0-1, 2-3, 4-5, 6-7 of qh[l]; value - 32.
fn dot_row(wo: u32, ao: u32) -> f32 {
    var sums_lo = vec4<f32>(0.0);
    var sums_hi = vec4<f32>(0.0);
    for (var b = 0u; b < p.nb; b++) {
        let xo = wo + b * 210u;
        let yo = ao + b * 292u;
        var lo = vec4<i32>(0);
        var hi = vec4<i32>(0);
        for (var n = 0u; n < 2u; n++) {
            for (var l4 = 0u; l4 < 8u; l4++) {
                let ql0 = ww(xo + 64u * n + 4u * l4);
                let ql1 = ww(xo + 64u * n + 32u + 4u * l4);
                let qh = ww(xo + 128u + 32u * n + 4u * l4);
                var h = array<vec4<i32>, 4>(vec4<i32>(0), vec4<i32>(0), vec4<i32>(0), vec4<i32>(0));
                for (var k = 0u; k < 4u; k++) {
                    for (var s = 0u; s < 4u; s++) {
                        h[s][k] = i32(((qh >> (8u * k + 2u * s)) & 3u) << 4u);
                    }
                }
                let m32 = vec4<i32>(32);
                let pos = 128u * n + 4u * l4;
                let sb = xo + 192u + 8u * n + l4 / 4u;
                let c = wi8(sb) * (((nib_lo(ql0) | h[0]) - m32) * q8k_q(yo, pos))
                      + wi8(sb + 2u) * (((nib_lo(ql1) | h[1]) - m32) * q8k_q(yo, pos + 32u))
                      + wi8(sb + 4u) * (((nib_hi(ql0) | h[2]) - m32) * q8k_q(yo, pos + 64u))
                      + wi8(sb + 6u) * (((nib_hi(ql1) | h[3]) - m32) * q8k_q(yo, pos + 96u));
                if ((l4 & 1u) == 0u) { lo += c; } else { hi += c; }
            }
        }
        let d = wf16(xo + 208u) * q8k_d(yo);
        sums_lo += d * vec4<f32>(lo);
        sums_hi += d * vec4<f32>(hi);
    }
    var sumf = 0.0;
    sumf += sums_lo.x; sumf += sums_lo.y; sumf += sums_lo.z; sumf += sums_lo.w;
    sumf += sums_hi.x; sumf += sums_hi.y; sumf += sums_hi.z; sumf += sums_hi.w;
    return sumf;
}
