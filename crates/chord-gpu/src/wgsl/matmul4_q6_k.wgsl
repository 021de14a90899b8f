// Q6_K × Q8_K for 4 tokens: the four 6-bit quarters and their scales unpacked once per 4
// elements; per token the lanes and float steps of matvec_q6_k.wgsl, in its order.
fn dot_row4(wo: u32, ao: array<u32, 4>) -> vec4<f32> {
    var sums_lo = array<vec4<f32>, 4>();
    var sums_hi = array<vec4<f32>, 4>();
    for (var b = 0u; b < p.nb; b++) {
        let xo = wo + b * 210u;
        let yb = b * 292u;
        var lo = array<vec4<i32>, 4>();
        var hi = array<vec4<i32>, 4>();
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
                let sb = xo + 192u + 8u * n + l4 / 4u;
                let v0 = wi8(sb) * ((nib_lo(ql0) | h[0]) - m32);
                let v1 = wi8(sb + 2u) * ((nib_lo(ql1) | h[1]) - m32);
                let v2 = wi8(sb + 4u) * ((nib_hi(ql0) | h[2]) - m32);
                let v3 = wi8(sb + 6u) * ((nib_hi(ql1) | h[3]) - m32);
                let pos = 128u * n + 4u * l4;
                for (var t = 0u; t < 4u; t++) {
                    let yo = ao[t] + yb;
                    let c = v0 * q8k_q(yo, pos) + v1 * q8k_q(yo, pos + 32u)
                          + v2 * q8k_q(yo, pos + 64u) + v3 * q8k_q(yo, pos + 96u);
                    if ((l4 & 1u) == 0u) { lo[t] += c; } else { hi[t] += c; }
                }
            }
        }
        let d = wf16(xo + 208u) * q8k_d4(ao, yb);
        for (var t = 0u; t < 4u; t++) {
            sums_lo[t] += d[t] * vec4<f32>(lo[t]);
            sums_hi[t] += d[t] * vec4<f32>(hi[t]);
        }
    }
    return vec4<f32>(lanes8(0.0, sums_lo[0], sums_hi[0]), lanes8(0.0, sums_lo[1], sums_hi[1]),
                     lanes8(0.0, sums_lo[2], sums_hi[2]), lanes8(0.0, sums_lo[3], sums_hi[3]));
}
