// Q4_K (ggml_vec_dot_q4_K_q8_K): 144-byte blocks: f16 d, f16 dmin, 12 bytes of scales, 128
// bytes of nibbles (per 64 elements: 32 low nibbles, then the 32 high ones). `k45_quants` gives
// the four quants at 64·jj + 4·l4 and the four 32 later, for the shared Q4_K/Q5_K loops
// (matvec_k45.wgsl, matmul4_k45.wgsl).
const K45_BLOCK: u32 = 144u;
fn k45_quants(xo: u32, jj: u32, l4: u32) -> array<vec4<i32>, 2> {
    let q = w[(xo + 16u + 32u * jj + 4u * l4) >> 2u];
    return array<vec4<i32>, 2>(nib_lo(q), nib_hi(q));
}
