// Shared by Q4_K and Q5_K: the packed 6-bit (scale, min) pairs of a block (get_scale_min_k4).
fn k4_scale_min(so: u32, j: u32) -> vec2<i32> {
    if (j < 4u) {
        return vec2<i32>(i32(wb(so + j) & 63u), i32(wb(so + j + 4u) & 63u));
    }
    let s = (wb(so + j + 4u) & 0xfu) | ((wb(so + j - 4u) >> 6u) << 4u);
    let m = (wb(so + j + 4u) >> 4u) | ((wb(so + j) >> 6u) << 4u);
    return vec2<i32>(i32(s), i32(m));
}
