// What both attention kernels (attention.wgsl, attention_flash.wgsl) share, placed in front
// of each: the parameters, the bindings, and the K/V element reader (f16 decoded on the integers).

struct Params {
    n_tokens: u32,
    pos0: u32,
    n_head: u32,
    n_head_kv: u32,
    head_dim: u32,
    window: u32,   // 0 = none
    kv_f16: u32,   // 1: K/V elements are f16 pairs in each word; 0: f32
    scale: f32,
}

@group(0) @binding(0) var<storage, read> q: array<f32>;
@group(0) @binding(1) var<storage, read> kc: array<u32>;
@group(0) @binding(2) var<storage, read> vc: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<uniform> p: Params;

const MAX_HEAD_DIM: u32 = 256u;
const TILE: u32 = 64u;

// f16 bits to f32 on the integers: exact, subnormal halves included (a driver's conversion may
// flush those).
fn h2f(h: u32) -> f32 {
    let s = (h & 0x8000u) << 16u;
    let e = (h >> 10u) & 0x1fu;
    let m = h & 0x3ffu;
    if (e == 0u) {
        if (m == 0u) { return bitcast<f32>(s); }
        let sh = 10u - (31u - countLeadingZeros(m)); // bring the leading bit to position 10
        return bitcast<f32>(s | ((113u - sh) << 23u) | (((m << sh) & 0x3ffu) << 13u));
    }
    if (e == 31u) { return bitcast<f32>(s | 0x7f800000u | (m << 13u)); }
    return bitcast<f32>(s | ((e + 112u) << 23u) | (m << 13u));
}

fn kv(buf_is_k: bool, i: u32) -> f32 {
    var word: u32;
    if (p.kv_f16 == 1u) {
        if (buf_is_k) { word = kc[i >> 1u]; } else { word = vc[i >> 1u]; }
        return h2f((word >> (16u * (i & 1u))) & 0xffffu);
    }
    if (buf_is_k) { word = kc[i]; } else { word = vc[i]; }
    return bitcast<f32>(word);
}
