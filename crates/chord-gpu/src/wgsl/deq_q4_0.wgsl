// Element i of a Q4_0 row at byte ro: (q - 8) · d.
fn deq(ro: u32, i: u32) -> f32 {
    let o = ro + (i / 32u) * 18u;
    let j = i % 32u;
    let byte = wb(o + 2u + j % 16u);
    var q = byte & 0xfu;
    if (j >= 16u) { q = byte >> 4u; }
    return f32(i32(q) - 8) * wf16(o);
}
