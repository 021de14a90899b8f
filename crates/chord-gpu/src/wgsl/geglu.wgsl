// gelu_tanh(gate) · up as ggml's GGML_GELU_FP16 path: the input rounded to f16, GELU evaluated
// on that and rounded to f16 (ggml reads a table of exactly these values); beyond ±10 the table
// is bypassed. tanh is the driver's.
struct Params { n: u32, _p0: u32, _p1: u32, _p2: u32 }

@group(0) @binding(0) var<storage, read> gate: array<f32>;
@group(0) @binding(1) var<storage, read> up: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

fn to_f16(v: f32) -> f32 { return unpack2x16float(pack2x16float(vec2<f32>(v, 0.0))).x; }

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
        let xh = to_f16(x);
        let g = 0.5 * xh * (1.0 + tanh(0.7978846 * xh * (1.0 + 0.044715 * xh * xh)));
        r = to_f16(g) * up[i];
    }
    out[i] = r;
}
