// RMSNorm of each row, times the weight: scale = 1 / sqrt(mean(x²) + eps), y = (x · scale) · w,
// one invocation per row. ggml (and chord-model::ops) sum the squares in f64; f32 here.
struct Params { n: u32, rows: u32, eps: f32, _pad: u32 }

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> wt: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let r = gid.x;
    if (r >= p.rows) { return; }
    let o = r * p.n;
    var sum = 0.0;
    for (var i = 0u; i < p.n; i++) { sum += x[o + i] * x[o + i]; }
    let mean = sum / f32(p.n);
    let scale = 1.0 / sqrt(mean + p.eps);
    for (var i = 0u; i < p.n; i++) { out[o + i] = (x[o + i] * scale) * wt[i]; }
}
