// Q8_0 × Q8_0 for 4 tokens: each weight word is read and sign-extended once; per token the
// float steps of matvec_q8_0.wgsl, in its order.
fn dot_row4(wo: u32, ao: array<u32, 4>) -> vec4<f32> {
    var sumf = vec4<f32>(0.0);
    for (var b = 0u; b < p.nb; b++) {
        let xo = wo + b * 34u;
        let yb = b * 34u;
        var acc = array<vec4<i32>, 4>();
        for (var j = 0u; j < 32u; j += 4u) {
            let q = s8x4(ww(xo + 2u + j));
            for (var t = 0u; t < 4u; t++) {
                acc[t] += q * s8x4(aw(ao[t] + yb + 2u + j));
            }
        }
        sumf += hsum4(acc) * (wf16(xo) * af16x4(ao, yb));
    }
    return sumf;
}
