// F32 × F32 for 4 tokens: each weight read once; per token matvec_f32.wgsl's loop.
fn dot_row4(wo: u32, ao: array<u32, 4>) -> vec4<f32> {
    var sumf = vec4<f32>(0.0);
    for (var c = 0u; c < p.cols; c++) {
        let x = bitcast<f32>(w[(wo >> 2u) + c]);
        let a4 = vec4<f32>(bitcast<f32>(a[(ao[0] >> 2u) + c]), bitcast<f32>(a[(ao[1] >> 2u) + c]),
                           bitcast<f32>(a[(ao[2] >> 2u) + c]), bitcast<f32>(a[(ao[3] >> 2u) + c]));
        sumf += x * a4;
    }
    return sumf;
}
