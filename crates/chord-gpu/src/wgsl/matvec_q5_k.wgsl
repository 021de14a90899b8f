// Q5_K × Q8_K (ggml_vec_dot_q5_K_q8_K): 176-byte blocks: f16 d, f16 dmin, 12 bytes of scales,
// 32 bytes of fifth bits (bit 2·jj for the low nibbles of 64-group jj, 2·jj+1 for the high),
// 128 bytes of nibbles. Same lanes and scaling as Q4_K.
fn dot_row(wo: u32, ao: u32) -> f32 {
    var sums_lo = vec4<f32>(0.0);
    var sums_hi = vec4<f32>(0.0);
    var sumf = 0.0;
    for (var b = 0u; b < p.nb; b++) {
        let xo = wo + b * 176u;
        let yo = ao + b * 292u;
        var sc: array<i32, 8>;
        var sumi = 0;
        for (var j = 0u; j < 8u; j++) {
            let sm = k4_scale_min(xo + 4u, j);
            sc[j] = sm.x;
            sumi += (q8k_bsum(yo, 2u * j) + q8k_bsum(yo, 2u * j + 1u)) * sm.y;
        }
        var lo = vec4<i32>(0);
        var hi = vec4<i32>(0);
        for (var jj = 0u; jj < 4u; jj++) {
            for (var l4 = 0u; l4 < 8u; l4++) {
                let q = w[(xo + 48u + 32u * jj + 4u * l4) >> 2u];
                let h = w[(xo + 16u + 4u * l4) >> 2u];
                var h0 = vec4<i32>(0);
                var h1 = vec4<i32>(0);
                for (var k = 0u; k < 4u; k++) {
                    h0[k] = i32(((h >> (8u * k + 2u * jj)) & 1u) << 4u);
                    h1[k] = i32(((h >> (8u * k + 2u * jj + 1u)) & 1u) << 4u);
                }
                let pos = 64u * jj + 4u * l4;
                let c = sc[2u * jj] * ((nib_lo(q) + h0) * q8k_q(yo, pos))
                      + sc[2u * jj + 1u] * ((nib_hi(q) + h1) * q8k_q(yo, pos + 32u));
                if ((l4 & 1u) == 0u) { lo += c; } else { hi += c; }
            }
        }
        let yd = q8k_d(yo);
        let d = wf16(xo) * yd;
        sums_lo += d * vec4<f32>(lo);
        sums_hi += d * vec4<f32>(hi);
        let dmin = wf16(xo + 2u) * yd;
        sumf -= dmin * f32(sumi);
    }
    sumf += sums_lo.x; sumf += sums_lo.y; sumf += sums_lo.z; sumf += sums_lo.w;
    sumf += sums_hi.x; sumf += sums_hi.y; sumf += sums_hi.z; sumf += sums_hi.w;
    return sumf;
}
