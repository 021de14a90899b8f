// Q5_0 × Q8_0 for 4 tokens: 5-bit values built once (q5_0_unpack.wgsl); per token
// matvec_q5_0.wgsl's float steps.
fn dot_row4(wo: u32, ao: array<u32, 4>) -> vec4<f32> {
    var sumf = vec4<f32>(0.0);
    for (var b = 0u; b < p.nb; b++) {
        let xo = wo + b * 22u;
        let yb = b * 34u;
        let qh = ww(xo + 2u);
        var acc = array<vec4<i32>, 4>();
        for (var j = 0u; j < 16u; j += 4u) {
            let v = q5_0_values(xo, qh, j);
            for (var t = 0u; t < 4u; t++) {
                acc[t] += v[0] * s8x4(aw(ao[t] + yb + 2u + j));
                acc[t] += v[1] * s8x4(aw(ao[t] + yb + 18u + j));
            }
        }
        sumf += (wf16(xo) * af16x4(ao, yb)) * hsum4(acc);
    }
    return sumf;
}
