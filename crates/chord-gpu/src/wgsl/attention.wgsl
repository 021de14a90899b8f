// Causal multi-head attention with grouped KV heads and an optional sliding window; one
// invocation per (token, head): scores over the visible keys (max first, then exp(s - max)
// summed while the values are accumulated), the weighted sum divided at the end. The simple,
// correct kernel: no tiling across invocations yet.

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

fn kv(buf_is_k: bool, i: u32) -> f32 {
    var word: u32;
    if (p.kv_f16 == 1u) {
        if (buf_is_k) { word = kc[i >> 1u]; } else { word = vc[i >> 1u]; }
        let h = unpack2x16float(word);
        if ((i & 1u) == 0u) { return h.x; }
        return h.y;
    }
    if (buf_is_k) { word = kc[i]; } else { word = vc[i]; }
    return bitcast<f32>(word);
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let idx = gid.x;
    if (idx >= p.n_tokens * p.n_head) { return; }
    let t = idx / p.n_head;
    let h = idx % p.n_head;
    let hd = p.head_dim;
    let g = h / (p.n_head / p.n_head_kv);
    let kv_stride = p.n_head_kv * hd;
    let pos = p.pos0 + t;
    var first = 0u;
    if (p.window > 0u && pos + 1u > p.window) { first = pos + 1u - p.window; }
    let qo = (t * p.n_head + h) * hd;

    var m = -3.0e38;
    for (var j = first; j <= pos; j++) {
        var s = 0.0;
        for (var d = 0u; d < hd; d++) { s += q[qo + d] * kv(true, j * kv_stride + g * hd + d); }
        m = max(m, s * p.scale);
    }
    var acc: array<f32, MAX_HEAD_DIM>;
    for (var d = 0u; d < hd; d++) { acc[d] = 0.0; }
    var sum = 0.0;
    for (var j = first; j <= pos; j++) {
        var s = 0.0;
        for (var d = 0u; d < hd; d++) { s += q[qo + d] * kv(true, j * kv_stride + g * hd + d); }
        let e = exp(s * p.scale - m);
        sum += e;
        for (var d = 0u; d < hd; d++) { acc[d] += e * kv(false, j * kv_stride + g * hd + d); }
    }
    let inv = 1.0 / sum;
    for (var d = 0u; d < hd; d++) { out[qo + d] = acc[d] * inv; }
}
