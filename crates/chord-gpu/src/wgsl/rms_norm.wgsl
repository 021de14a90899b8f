// RMSNorm of each row, times the weight, one invocation per row, with chord-model's bits
// (expf.wgsl, f64.wgsl and exact.wgsl in front): the squares summed in f64 (emulated), the
// mean `(sum / n as f64) as f32`, scale = 1 / sqrt(mean + eps) correctly rounded (WGSL's `/`
// and `sqrt` need not be), y = (x · scale) · w.
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
    var sum = f64_zero();
    for (var i = 0u; i < p.n; i++) {
        let v = x[o + i];
        sum = f64_add(sum, f64_from_f32(v * v));
    }
    let mean = f64_div_u32_f32(sum, p.n);
    let scale = div_f32(1.0, sqrt_f32(mean + p.eps));
    for (var i = 0u; i < p.n; i++) { out[o + i] = (x[o + i] * scale) * wt[i]; }
}
