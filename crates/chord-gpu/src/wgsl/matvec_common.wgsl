// Shared head of every matvec kernel (after w_bytes.wgsl): bindings, parameters and activation
// byte access. One invocation computes one output (row, token) with exactly the operation order
// of chord-quant's scalar kernel for the type, so results match the CPU backend's to the last
// bit or close to it.

struct Params {
    rows: u32,      // rows in this part of the matrix
    cols: u32,
    n_tokens: u32,
    row0: u32,      // first row of this part within the matrix
    w_row: u32,     // bytes per weight row
    a_row: u32,     // bytes per activation row
    y_stride: u32,  // rows of the whole matrix (output row length)
    nb: u32,        // blocks per row
}

@group(0) @binding(1) var<storage, read> a: array<u32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

fn ab(o: u32) -> u32 { return (a[o >> 2u] >> ((o & 3u) << 3u)) & 0xffu; }
fn aw(o: u32) -> u32 {
    let s = (o & 3u) << 3u;
    let lo = a[o >> 2u];
    if (s == 0u) { return lo; }
    return (lo >> s) | (a[(o >> 2u) + 1u] << (32u - s));
}
fn af16(o: u32) -> f32 { return unpack2x16float(ab(o) | (ab(o + 1u) << 8u)).x; }
// Byte k of a word as a signed / unsigned value.
fn s8(x: u32, k: u32) -> i32 { return bitcast<i32>(x << (24u - 8u * k)) >> 24u; }
fn s8x4(x: u32) -> vec4<i32> { return vec4<i32>(s8(x, 0u), s8(x, 1u), s8(x, 2u), s8(x, 3u)); }
fn nib_lo(x: u32) -> vec4<i32> {
    return vec4<i32>(i32(x & 0xfu), i32((x >> 8u) & 0xfu), i32((x >> 16u) & 0xfu), i32((x >> 24u) & 0xfu));
}
fn nib_hi(x: u32) -> vec4<i32> {
    return vec4<i32>(i32((x >> 4u) & 0xfu), i32((x >> 12u) & 0xfu), i32((x >> 20u) & 0xfu), i32((x >> 28u) & 0xfu));
}
fn hsum(v: vec4<i32>) -> i32 { return v.x + v.y + v.z + v.w; }

// A Q8_K activation block: f32 d, 256 × i8, 16 × i16 group sums (292 bytes, word-aligned).
fn q8k_d(o: u32) -> f32 { return bitcast<f32>(a[o >> 2u]); }
fn q8k_q(o: u32, pos: u32) -> vec4<i32> { return s8x4(a[(o + 4u + pos) >> 2u]); }
fn q8k_bsum(o: u32, j: u32) -> i32 {
    let x = a[(o + 260u + 2u * j) >> 2u] >> (16u * (j & 1u));
    return bitcast<i32>(x << 16u) >> 16u;
}
