// Q5_K (ggml_vec_dot_q5_K_q8_K): 176-byte blocks: f16 d, f16 dmin, 12 bytes of scales, 32
// bytes of fifth bits (bit 2·jj for the low nibbles of 64-group jj, 2·jj+1 for the high), 128
// bytes of nibbles. Same lanes and scaling as Q4_K; `k45_quants` as in k45_q4.wgsl.
const K45_BLOCK: u32 = 176u;
fn k45_quants(xo: u32, jj: u32, l4: u32) -> array<vec4<i32>, 2> {
    let q = w[(xo + 48u + 32u * jj + 4u * l4) >> 2u];
    let h = w[(xo + 16u + 4u * l4) >> 2u];
    var h0 = vec4<i32>(0);
    var h1 = vec4<i32>(0);
    for (var k = 0u; k < 4u; k++) {
        h0[k] = i32(((h >> (8u * k + 2u * jj)) & 1u) << 4u);
        h1[k] = i32(((h >> (8u * k + 2u * jj + 1u)) & 1u) << 4u);
    }
    return array<vec4<i32>, 2>(nib_lo(q) + h0, nib_hi(q) + h1);
}
