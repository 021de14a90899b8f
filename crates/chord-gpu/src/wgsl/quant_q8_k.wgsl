// Activations to Q8_K blocks (f32 d, 256 i8 quants, 16 i16 group sums: 292 bytes, 73 words),
// byte-identical to chord-quant's `quantize_q8_k`: the element of largest magnitude (the
// first on ties) gives iscale = -127 / max, quants min(nearest_int(iscale · v), 127), d =
// 1 / iscale (correctly rounded divisions, exact.wgsl). One invocation per block.
struct Params { n_blocks: u32, _p0: u32, _p1: u32, _p2: u32 }

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<u32>;
@group(0) @binding(2) var<uniform> p: Params;

fn nearest_int(v: f32) -> i32 {
    return i32(bitcast<u32>(v + 12582912.0) & 0x7fffffu) - 0x400000;
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let b = gid.x;
    if (b >= p.n_blocks) { return; }
    let o = b * 256u;
    let w = b * 73u;
    // The largest magnitude on the bits (non-negative floats order as integers; a driver may
    // flush subnormals in float compares).
    var mx = 0.0;
    var amax = 0u;
    for (var i = 0u; i < 256u; i++) {
        let v = x[o + i];
        let a = bitcast<u32>(v) & 0x7fffffffu;
        if (a > amax) { amax = a; mx = v; }
    }
    if (amax == 0u) {
        for (var i = 0u; i < 73u; i++) { out[w + i] = 0u; }
        return;
    }
    let iscale = div_f32(-127.0, mx);
    for (var g = 0u; g < 16u; g++) {
        var sum = 0;
        for (var j = 0u; j < 4u; j++) {
            var word = 0u;
            for (var k = 0u; k < 4u; k++) {
                let q = min(nearest_int(iscale * x[o + 16u * g + 4u * j + k]), 127);
                sum += q;
                word |= (u32(q) & 0xffu) << (8u * k);
            }
            out[w + 1u + 4u * g + j] = word;
        }
        let half_word = u32(sum) & 0xffffu;
        let at = w + 65u + g / 2u;
        if ((g & 1u) == 0u) {
            out[at] = half_word;
        } else {
            out[at] |= half_word << 16u;
        }
    }
    out[w] = bitcast<u32>(div_f32(1.0, iscale));
}
