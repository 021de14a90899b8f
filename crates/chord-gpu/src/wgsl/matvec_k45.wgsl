// Q4_K / Q5_K × Q8_K, one token: the integer sums go to eight lanes by position mod 8 and are
// scaled per block in f32, as the scalar kernel does (lanes 0-3 in `lo`, 4-7 in `hi`). The type
// file before this one (k45_q4.wgsl / k45_q5.wgsl) gives K45_BLOCK and k45_quants.
fn dot_row(wo: u32, ao: u32) -> f32 {
    var sums_lo = vec4<f32>(0.0);
    var sums_hi = vec4<f32>(0.0);
    var sumf = 0.0;
    for (var b = 0u; b < p.nb; b++) {
        let xo = wo + b * K45_BLOCK;
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
                let q = k45_quants(xo, jj, l4);
                let pos = 64u * jj + 4u * l4;
                let c = sc[2u * jj] * (q[0] * q8k_q(yo, pos))
                      + sc[2u * jj + 1u] * (q[1] * q8k_q(yo, pos + 32u));
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
