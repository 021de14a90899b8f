// Q4_0 × Q8_0 (ggml_vec_dot_q4_0_q8_0): 18-byte blocks, f16 d then 16 bytes of nibbles
// (low nibbles are elements 0..16, high nibbles 16..32), value = q - 8.
fn dot_row(wo: u32, ao: u32) -> f32 {
    var sumf = 0.0;
    for (var b = 0u; b < p.nb; b++) {
        let xo = wo + b * 18u;
        let yo = ao + b * 34u;
        var acc = vec4<i32>(0);
        for (var j = 0u; j < 16u; j += 4u) {
            let q = ww(xo + 2u + j);
            acc += (nib_lo(q) - vec4<i32>(8)) * s8x4(aw(yo + 2u + j));
            acc += (nib_hi(q) - vec4<i32>(8)) * s8x4(aw(yo + 18u + j));
        }
        sumf += f32(hsum(acc)) * wf16(xo) * af16(yo);
    }
    return sumf;
}
