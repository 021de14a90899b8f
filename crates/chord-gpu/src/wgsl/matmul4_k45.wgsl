// Q4_K / Q5_K × Q8_K for 4 tokens: scales, mins and quants unpacked once per block; per token
// the lanes and float steps of matvec_k45.wgsl, in its order. K45_BLOCK and k45_quants come
// from the type file before this one.
fn dot_row4(wo: u32, ao: array<u32, 4>) -> vec4<f32> {
    var sums_lo = array<vec4<f32>, 4>();
    var sums_hi = array<vec4<f32>, 4>();
    var sumf = vec4<f32>(0.0);
    for (var b = 0u; b < p.nb; b++) {
        let xo = wo + b * K45_BLOCK;
        let yb = b * 292u;
        var sc = array<i32, 8>();
        var sumi = vec4<i32>(0);
        for (var j = 0u; j < 8u; j++) {
            let sm = k4_scale_min(xo + 4u, j);
            sc[j] = sm.x;
            for (var t = 0u; t < 4u; t++) {
                let yo = ao[t] + yb;
                sumi[t] += (q8k_bsum(yo, 2u * j) + q8k_bsum(yo, 2u * j + 1u)) * sm.y;
            }
        }
        var lo = array<vec4<i32>, 4>();
        var hi = array<vec4<i32>, 4>();
        for (var jj = 0u; jj < 4u; jj++) {
            let s0 = sc[2u * jj];
            let s1 = sc[2u * jj + 1u];
            for (var l4 = 0u; l4 < 8u; l4++) {
                let q = k45_quants(xo, jj, l4);
                let q0 = q[0];
                let q1 = q[1];
                let pos = 64u * jj + 4u * l4;
                for (var t = 0u; t < 4u; t++) {
                    let yo = ao[t] + yb;
                    let c = s0 * (q0 * q8k_q(yo, pos)) + s1 * (q1 * q8k_q(yo, pos + 32u));
                    if ((l4 & 1u) == 0u) { lo[t] += c; } else { hi[t] += c; }
                }
            }
        }
        let yd = q8k_d4(ao, yb);
        let d = wf16(xo) * yd;
        for (var t = 0u; t < 4u; t++) {
            sums_lo[t] += d[t] * vec4<f32>(lo[t]);
            sums_hi[t] += d[t] * vec4<f32>(hi[t]);
        }
        let dmin = wf16(xo + 2u) * yd;
        sumf -= dmin * vec4<f32>(sumi);
    }
    return vec4<f32>(lanes8(sumf.x, sums_lo[0], sums_hi[0]), lanes8(sumf.y, sums_lo[1], sums_hi[1]),
                     lanes8(sumf.z, sums_lo[2], sums_hi[2]), lanes8(sumf.w, sums_lo[3], sums_hi[3]));
}
