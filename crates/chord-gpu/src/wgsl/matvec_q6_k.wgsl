// Q6_K × Q8_K (ggml_vec_dot_q6_K_q8_K); the block layout and unpacking are in q6_k_unpack.wgsl.
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
                let v = q6k_scaled(xo, n, l4);
                let pos = 128u * n + 4u * l4;
                let c = v[0] * q8k_q(yo, pos) + v[1] * q8k_q(yo, pos + 32u)
                      + v[2] * q8k_q(yo, pos + 64u) + v[3] * q8k_q(yo, pos + 96u);
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
