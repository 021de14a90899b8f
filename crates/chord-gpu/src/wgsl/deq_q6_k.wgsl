// Element i of a Q6_K row at byte ro: (d · sc) · q per 16-element group.
fn deq(ro: u32, i: u32) -> f32 {
    let o = ro + (i / 256u) * 210u;
    let k = i % 256u;
    let n = k / 128u;
    let r = k % 128u;
    let s = r / 32u;
    let l = r % 32u;
    let byte = wb(o + 64u * n + 32u * (s & 1u) + l);
    var nib = byte & 0xfu;
    if (s >= 2u) { nib = byte >> 4u; }
    let hb = (wb(o + 128u + 32u * n + l) >> (2u * s)) & 3u;
    let q = i32(nib | (hb << 4u)) - 32;
    return (wf16(o + 208u) * f32(wi8(o + 192u + k / 16u))) * f32(q);
}
