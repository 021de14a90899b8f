// F32 × F32. ggml's scalar loop accumulates in f64, which WGSL lacks: f32 here, so results
// differ from the CPU's in the last bits (the tests allow for it).
fn dot_row(wo: u32, ao: u32) -> f32 {
    var sumf = 0.0;
    for (var c = 0u; c < p.cols; c++) {
        sumf += bitcast<f32>(w[(wo >> 2u) + c]) * bitcast<f32>(a[(ao >> 2u) + c]);
    }
    return sumf;
}
