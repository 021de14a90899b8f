// Element i of a Q4_K row at byte ro: (d · sc) · q - (dmin · m) per 32-element group.
fn deq(ro: u32, i: u32) -> f32 {
    let o = ro + (i / 256u) * 144u;
    let k = i % 256u;
    let j = k / 64u;
    let l = k % 64u;
    let sm = k4_scale_min(o + 4u, 2u * j + l / 32u);
    let byte = wb(o + 16u + 32u * j + l % 32u);
    var q = byte & 0xfu;
    if (l >= 32u) { q = byte >> 4u; }
    let d1 = wf16(o) * f32(sm.x);
    let m1 = wf16(o + 2u) * f32(sm.y);
    return d1 * f32(q) - m1;
}
