
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let r = gid.x;
    let t = gid.y;
    if (r >= p.rows || t >= p.n_tokens) { return; }
    y[t * p.y_stride + p.row0 + r] = dot_row(r * p.w_row, t * p.a_row);
}
