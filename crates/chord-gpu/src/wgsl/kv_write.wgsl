// The step's new keys or values into a device F16 cache: rows of f32 rounded to f16 nearest
// even on the bits (exact.wgsl in front; the host cache's `half` conversion), two per word,
// written at word `off` (the first new position's; the row width is even) from element `x0`
// of the step's rows (the sequence's first). An F32 cache takes a buffer copy instead.
struct Params { n_words: u32, off: u32, x0: u32, _p0: u32 }

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> cache: array<u32>;
@group(0) @binding(2) var<uniform> p: Params;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let w = gid.x + gid.y * 65535u * 64u;
    if (w >= p.n_words) { return; }
    let i = p.x0 + 2u * w;
    cache[p.off + w] = f16_bits(x[i]) | (f16_bits(x[i + 1u]) << 16u);
}
