// F16 × F16 (activations rounded to f16 first, as ggml pairs them); f32 accumulation (ggml's
// scalar loop uses f64).
fn dot_row(wo: u32, ao: u32) -> f32 {
    var sumf = 0.0;
    for (var c = 0u; c < p.cols; c++) {
        sumf += wf16(wo + 2u * c) * af16(ao + 2u * c);
    }
    return sumf;
}
