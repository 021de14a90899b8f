// silu(gate) · up, element-wise, with chord-model's bits (expf.wgsl, f64.wgsl and exact.wgsl in
// front): `(x / (1 + expf(-x))) · up` with libm's expf and a correctly rounded division.
struct Params { n: u32, _p0: u32, _p1: u32, _p2: u32 }

@group(0) @binding(0) var<storage, read> gate: array<f32>;
@group(0) @binding(1) var<storage, read> up: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x;
    if (i >= p.n) { return; }
    let g = gate[i];
    out[i] = div_f32(g, 1.0 + expf(-g)) * up[i];
}
