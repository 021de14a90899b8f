// Binding 0 of the kernels that read weights: raw GGUF / ggml block bytes viewed as u32 words,
// and readers for bytes, unaligned words, f16 and i8 (blocks of 18, 22, 34 or 210 bytes are not
// word-aligned).
@group(0) @binding(0) var<storage, read> w: array<u32>;

fn wb(o: u32) -> u32 { return (w[o >> 2u] >> ((o & 3u) << 3u)) & 0xffu; }
// Four bytes from any byte offset, little-endian.
fn ww(o: u32) -> u32 {
    let s = (o & 3u) << 3u;
    let lo = w[o >> 2u];
    if (s == 0u) { return lo; }
    return (lo >> s) | (w[(o >> 2u) + 1u] << (32u - s));
}
fn wf16(o: u32) -> f32 { return unpack2x16float(wb(o) | (wb(o + 1u) << 8u)).x; }
fn wi8(o: u32) -> i32 { return bitcast<i32>(wb(o) << 24u) >> 24u; }
