// Activations to Q8_0 blocks (f16 scale + 32 i8 quants, 34 bytes), byte-identical to
// chord-quant's `quantize_q8_0_act` (x86 ggml-cpu rounding): d = amax / 127, id = 127 / amax
// (correctly rounded divisions, exact.wgsl), quants round-half-even(v · id) by the 1.5·2^23
// trick read off the bits (no subtraction for a compiler to fold), d to f16 nearest-even.
// Blocks are not word-aligned, so one invocation writes a pair of blocks (17 words); the last
// odd block's word is padded with zero bytes.
struct Params { n_blocks: u32, _p0: u32, _p1: u32, _p2: u32 }

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<u32>;
@group(0) @binding(2) var<uniform> p: Params;

var<private> words: array<u32, 17>;

fn put_byte(i: u32, v: u32) {
    words[i >> 2u] |= (v & 0xffu) << ((i & 3u) * 8u);
}

fn quant_block(b: u32, at: u32) {
    let o = b * 32u;
    // amax on the bits (non-negative floats order as integers; a driver may flush subnormals
    // in float compares).
    var amax_bits = 0u;
    for (var i = 0u; i < 32u; i++) { amax_bits = max(amax_bits, bitcast<u32>(x[o + i]) & 0x7fffffffu); }
    let amax = bitcast<f32>(amax_bits);
    let d = div_f32(amax, 127.0);
    var id = 0.0;
    if (amax_bits != 0u) { id = div_f32(127.0, amax); }
    let dh = f16_bits(d);
    put_byte(at, dh);
    put_byte(at + 1u, dh >> 8u);
    let id_inf = (bitcast<u32>(id) & 0x7fffffffu) == 0x7f800000u;
    for (var i = 0u; i < 32u; i++) {
        let v = x[o + i];
        var q: i32;
        if (id_inf) {
            // A subnormal amax: 127 / amax overflowed. The CPU's `(±inf) as i32 as i8` is
            // 0xff for +inf, 0x00 for -inf, and 0 * inf = NaN gives 0.
            let vb = bitcast<u32>(v);
            q = 0;
            if ((vb & 0x7fffffffu) != 0u && (vb >> 31u) == 0u) { q = -1; }
        } else {
            q = i32(bitcast<u32>(v * id + 12582912.0) & 0x7fffffu) - 0x400000;
        }
        put_byte(at + 2u + i, u32(q));
    }
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let pair = gid.x;
    let b0 = 2u * pair;
    if (b0 >= p.n_blocks) { return; }
    for (var i = 0u; i < 17u; i++) { words[i] = 0u; }
    quant_block(b0, 0u);
    var n_words = 9u;
    if (b0 + 1u < p.n_blocks) {
        quant_block(b0 + 1u, 34u);
        n_words = 17u;
    }
    for (var i = 0u; i < n_words; i++) { out[17u * pair + i] = words[i]; }
}
