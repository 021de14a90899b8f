// Embedding lookup (ggml_get_rows): rows of the token matrix dequantized into f32, one
// invocation per (element, token). The matrix may be split into parts (see weights.rs); each
// dispatch binds one part and writes the tokens whose row lies in it.
struct Params { cols: u32, n_tokens: u32, row0: u32, rows: u32, w_row: u32, _p0: u32, _p1: u32, _p2: u32 }

@group(0) @binding(1) var<storage, read> toks: array<u32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x;
    let t = gid.y;
    if (i >= p.cols || t >= p.n_tokens) { return; }
    let tok = toks[t];
    if (tok < p.row0 || tok >= p.row0 + p.rows) { return; }
    out[t * p.cols + i] = deq((tok - p.row0) * p.w_row, i);
}
