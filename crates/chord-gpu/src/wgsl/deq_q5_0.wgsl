// Element i of a Q5_0 row at byte ro: (q - 16) · d, the fifth bit from qh.
fn deq(ro: u32, i: u32) -> f32 {
    let o = ro + (i / 32u) * 22u;
    let qh = ww(o + 2u);
    let j = i % 32u;
    let jj = j % 16u;
    let byte = wb(o + 6u + jj);
    var v: u32;
    if (j < 16u) { v = (byte & 0xfu) | (((qh >> jj) << 4u) & 0x10u); }
    else { v = (byte >> 4u) | ((qh >> (jj + 12u)) & 0x10u); }
    return f32(i32(v) - 16) * wf16(o);
}
