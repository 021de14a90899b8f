// Q8_0 × Q8_0 (ggml_vec_dot_q8_0_q8_0): 34-byte blocks, f16 d then 32 × i8.
fn dot_row(wo: u32, ao: u32) -> f32 {
    var sumf = 0.0;
    for (var b = 0u; b < p.nb; b++) {
        let xo = wo + b * 34u;
        let yo = ao + b * 34u;
        var acc = vec4<i32>(0);
        for (var j = 0u; j < 32u; j += 4u) {
            acc += s8x4(ww(xo + 2u + j)) * s8x4(aw(yo + 2u + j));
        }
        sumf += f32(hsum(acc)) * (wf16(xo) * af16(yo));
    }
    return sumf;
}
