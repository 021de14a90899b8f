// Q5_0 × Q8_0 (ggml_vec_dot_q5_0_q8_0): 22-byte blocks, f16 d, u32 of fifth bits, 16 bytes of
// nibbles; value = (nibble | fifth bit << 4) - 16.
fn dot_row(wo: u32, ao: u32) -> f32 {
    var sumf = 0.0;
    for (var b = 0u; b < p.nb; b++) {
        let xo = wo + b * 22u;
        let yo = ao + b * 34u;
        let qh = ww(xo + 2u);
        var acc = vec4<i32>(0);
        for (var j = 0u; j < 16u; j += 4u) {
            let q = ww(xo + 6u + j);
            var h0 = vec4<i32>(0);
            var h1 = vec4<i32>(0);
            for (var k = 0u; k < 4u; k++) {
                h0[k] = i32(((qh >> (j + k)) << 4u) & 0x10u);
                h1[k] = i32((qh >> (j + k + 12u)) & 0x10u);
            }
            acc += ((nib_lo(q) | h0) - vec4<i32>(16)) * s8x4(aw(yo + 2u + j));
            acc += ((nib_hi(q) | h1) - vec4<i32>(16)) * s8x4(aw(yo + 18u + j));
        }
        sumf += (wf16(xo) * af16(yo)) * f32(hsum(acc));
    }
    return sumf;
}
