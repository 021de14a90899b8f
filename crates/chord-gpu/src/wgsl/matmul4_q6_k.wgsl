// Q6_K × Q8_K for 4 tokens: the four 6-bit quarters and their scales unpacked once per 4
// elements (q6_k_unpack.wgsl); per token the lanes and float steps of matvec_q6_k.wgsl, in its
// order.
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
                let v = q6k_scaled(xo, n, l4);
                let pos = 128u * n + 4u * l4;
                for (var t = 0u; t < 4u; t++) {
                    let yo = ao[t] + yb;
                    let c = v[0] * q8k_q(yo, pos) + v[1] * q8k_q(yo, pos + 32u)
                          + v[2] * q8k_q(yo, pos + 64u) + v[3] * q8k_q(yo, pos + 96u);
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
