// Q5_0 blocks (ggml's block_q5_0): 22 bytes: f16 d, u32 of fifth bits, 16 bytes of nibbles;
// value = (nibble | fifth bit << 4) - 16.
//
// Values j..j+3 (low nibbles) and j+16..j+19 (high nibbles) of the block at byte `xo`, whose
// fifth bits are `qh`: the lanes both the matvec and the tiled kernel multiply with activations.
fn q5_0_values(xo: u32, qh: u32, j: u32) -> array<vec4<i32>, 2> {
    let q = ww(xo + 6u + j);
    var h0 = vec4<i32>(0);
    var h1 = vec4<i32>(0);
    for (var k = 0u; k < 4u; k++) {
        h0[k] = i32(((qh >> (j + k)) << 4u) & 0x10u);
        h1[k] = i32((qh >> (j + k + 12u)) & 0x10u);
    }
    return array<vec4<i32>, 2>((nib_lo(q) | h0) - vec4<i32>(16), (nib_hi(q) | h1) - vec4<i32>(16));
}
