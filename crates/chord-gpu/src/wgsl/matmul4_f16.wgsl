// F16 × F16 for 4 tokens: each weight read once; per token matvec_f16.wgsl's loop.
fn dot_row4(wo: u32, ao: array<u32, 4>) -> vec4<f32> {
    var sumf = vec4<f32>(0.0);
    for (var c = 0u; c < p.cols; c++) {
        sumf += wf16(wo + 2u * c) * af16x4(ao, 2u * c);
    }
    return sumf;
}
