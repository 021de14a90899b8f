
// Tiled form: one invocation per output row × group of 4 tokens. A group past the last token
// repeats the last token's activations (its results are not stored), so every group runs the
// same code and the tail needs no second kernel.
fn hsum4(acc: array<vec4<i32>, 4>) -> vec4<f32> {
    return vec4<f32>(f32(hsum(acc[0])), f32(hsum(acc[1])), f32(hsum(acc[2])), f32(hsum(acc[3])));
}
fn af16x4(ao: array<u32, 4>, o: u32) -> vec4<f32> {
    return vec4<f32>(af16(ao[0] + o), af16(ao[1] + o), af16(ao[2] + o), af16(ao[3] + o));
}
// The k-quants' Q8_K scales of the 4 tokens' blocks at byte yb of their rows.
fn q8k_d4(ao: array<u32, 4>, yb: u32) -> vec4<f32> {
    return vec4<f32>(q8k_d(ao[0] + yb), q8k_d(ao[1] + yb), q8k_d(ao[2] + yb), q8k_d(ao[3] + yb));
}
// The k-quants' end: the eight float lanes added to sumf one by one, as the scalar kernel does.
fn lanes8(s0: f32, lo: vec4<f32>, hi: vec4<f32>) -> f32 {
    var s = s0;
    s += lo.x; s += lo.y; s += lo.z; s += lo.w;
    s += hi.x; s += hi.y; s += hi.z; s += hi.w;
    return s;
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let r = gid.x;
    let t0 = gid.y * 4u;
    if (r >= p.rows || t0 >= p.n_tokens) { return; }
    var ao = array<u32, 4>();
    for (var k = 0u; k < 4u; k++) { ao[k] = min(t0 + k, p.n_tokens - 1u) * p.a_row; }
    let v = dot_row4(r * p.w_row, ao);
    for (var k = 0u; k < 4u; k++) {
        if (t0 + k < p.n_tokens) { y[(t0 + k) * p.y_stride + p.row0 + r] = v[k]; }
    }
}
