// Q6_K blocks (ggml's block_q6_K): 210 bytes (not word-aligned): 128 bytes of low nibbles, 64
// bytes of high 2-bit pairs, 16 × i8 scales (one per 16 elements), f16 d. Per 128 elements n:
// element l (< 32) of each quarter takes ql[l] / ql[l+32] low or high nibble and bits 0-1, 2-3,
// 4-5, 6-7 of qh[l]; value - 32.
//
// Elements 4·l4 .. 4·l4+3 of the four quarters of half `n` of the block at byte `xo`, each
// minus 32 and times its sub-block scale: what the matvec and the tiled kernel multiply with
// the activations at 128·n + 4·l4 + 32·quarter (integer products: grouping cannot change them).
fn q6k_scaled(xo: u32, n: u32, l4: u32) -> array<vec4<i32>, 4> {
    let ql0 = ww(xo + 64u * n + 4u * l4);
    let ql1 = ww(xo + 64u * n + 32u + 4u * l4);
    let qh = ww(xo + 128u + 32u * n + 4u * l4);
    var h = array<vec4<i32>, 4>(vec4<i32>(0), vec4<i32>(0), vec4<i32>(0), vec4<i32>(0));
    for (var k = 0u; k < 4u; k++) {
        for (var s = 0u; s < 4u; s++) {
            h[s][k] = i32(((qh >> (8u * k + 2u * s)) & 3u) << 4u);
        }
    }
    let m32 = vec4<i32>(32);
    let sb = xo + 192u + 8u * n + l4 / 4u;
    return array<vec4<i32>, 4>(
        wi8(sb) * ((nib_lo(ql0) | h[0]) - m32),
        wi8(sb + 2u) * ((nib_lo(ql1) | h[1]) - m32),
        wi8(sb + 4u) * ((nib_hi(ql0) | h[2]) - m32),
        wi8(sb + 6u) * ((nib_hi(ql1) | h[3]) - m32));
}
