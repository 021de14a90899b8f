// Activations to f16 (nearest even on the bits, as chord-quant's `f32_to_f16`), two per word;
// an odd count's last word has a zero upper half.
struct Params { n: u32, _p0: u32, _p1: u32, _p2: u32 }

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<u32>;
@group(0) @binding(2) var<uniform> p: Params;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let w = gid.x;
    let i = 2u * w;
    if (i >= p.n) { return; }
    var hi = 0u;
    if (i + 1u < p.n) { hi = f16_bits(x[i + 1u]); }
    out[w] = f16_bits(x[i]) | (hi << 16u);
}
