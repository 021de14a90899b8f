// gelu_tanh(gate) · up as ggml's GGML_GELU_FP16 path, with chord-model's bits (expf.wgsl,
// f64.wgsl and exact.wgsl in front): the input rounded to f16 (nearest even, on the bits), the
// GELU of that read from chord-model's f16 table (`ops::gelu_f16_table`, uploaded once; two
// entries per word), beyond ±10 the table bypassed.
struct Params { n: u32, _p0: u32, _p1: u32, _p2: u32 }

@group(0) @binding(0) var<storage, read> gate: array<f32>;
@group(0) @binding(1) var<storage, read> up: array<f32>;
@group(0) @binding(2) var<storage, read> table: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<uniform> p: Params;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x;
    if (i >= p.n) { return; }
    let x = gate[i];
    var r: f32;
    if (x <= -10.0) {
        r = 0.0;
    } else if (x >= 10.0) {
        r = x * up[i];
    } else {
        let h = f16_bits(x);
        let g = (table[h >> 1u] >> ((h & 1u) * 16u)) & 0xffffu;
        r = f16_value(g) * up[i];
    }
    out[i] = r;
}
