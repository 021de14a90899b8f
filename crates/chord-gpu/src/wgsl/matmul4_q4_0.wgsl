// Q4_0 × Q8_0 for 4 tokens: nibbles unpacked once; per token matvec_q4_0.wgsl's float steps.
fn dot_row4(wo: u32, ao: array<u32, 4>) -> vec4<f32> {
    var sumf = vec4<f32>(0.0);
    for (var b = 0u; b < p.nb; b++) {
        let xo = wo + b * 18u;
        let yb = b * 34u;
        var acc = array<vec4<i32>, 4>();
        for (var j = 0u; j < 16u; j += 4u) {
            let q = ww(xo + 2u + j);
            let lo = nib_lo(q) - vec4<i32>(8);
            let hi = nib_hi(q) - vec4<i32>(8);
            for (var t = 0u; t < 4u; t++) {
                acc[t] += lo * s8x4(aw(ao[t] + yb + 2u + j));
                acc[t] += hi * s8x4(aw(ao[t] + yb + 18u + j));
            }
        }
        sumf += hsum4(acc) * wf16(xo) * af16x4(ao, yb);
    }
    return sumf;
}
