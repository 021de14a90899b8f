// Element i of a Q8_0 row at byte ro: q · d.
fn deq(ro: u32, i: u32) -> f32 {
    let o = ro + (i / 32u) * 34u;
    return f32(wi8(o + 2u + i % 32u)) * wf16(o);
}
