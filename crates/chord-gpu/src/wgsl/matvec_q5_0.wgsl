// Q5_0 × Q8_0 (ggml_vec_dot_q5_0_q8_0); the block layout and unpacking are in q5_0_unpack.wgsl.
fn dot_row(wo: u32, ao: u32) -> f32 {
    var sumf = 0.0;
    for (var b = 0u; b < p.nb; b++) {
        let xo = wo + b * 22u;
        let yo = ao + b * 34u;
        let qh = ww(xo + 2u);
        var acc = vec4<i32>(0);
        for (var j = 0u; j < 16u; j += 4u) {
            let v = q5_0_values(xo, qh, j);
            acc += v[0] * s8x4(aw(yo + 2u + j));
            acc += v[1] * s8x4(aw(yo + 18u + j));
        }
        sumf += (wf16(xo) * af16(yo)) * f32(hsum(acc));
    }
    return sumf;
}
