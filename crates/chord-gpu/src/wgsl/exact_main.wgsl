// exact.wgsl's operations element-wise (expf.wgsl, f64.wgsl, exact.wgsl in front), for the
// tests: per element a / b, sqrt(|a|), fma(a, b, c) (f32 bits), f16 bits of a, the f32 of the
// f16 bits in c's low half, and RMSNorm's mean: the f64 sum of a² and b² divided by c's bits
// as an integer (1..2^24), as f32.
struct Params { n: u32, _p0: u32, _p1: u32, _p2: u32 }

@group(0) @binding(0) var<storage, read> xa: array<f32>;
@group(0) @binding(1) var<storage, read> xb: array<f32>;
@group(0) @binding(2) var<storage, read> xc: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<u32>;
@group(0) @binding(4) var<uniform> p: Params;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x;
    if (i >= p.n) { return; }
    let a = xa[i];
    let b = xb[i];
    let c = xc[i];
    let cb = bitcast<u32>(c);
    out[6u * i] = bitcast<u32>(div_f32(a, b));
    out[6u * i + 1u] = bitcast<u32>(sqrt_f32(abs(a)));
    out[6u * i + 2u] = bitcast<u32>(fma_f32(a, b, c));
    out[6u * i + 3u] = f16_bits(a);
    out[6u * i + 4u] = bitcast<u32>(f16_value(cb & 0xffffu));
    let sum = f64_add(f64_from_f32(a * a), f64_from_f32(b * b));
    out[6u * i + 5u] = bitcast<u32>(f64_div_u32_f32(sum, max(cb & 0xffffffu, 1u)));
}
