// Flash-style causal attention for prefill: one workgroup per (block of query tokens, KV
// head), its 64 invocations the block's tokens × the KV head's query heads (64 / group tokens
// per block). Each chunk of K and V rows is read from storage ONCE per workgroup (f16 decoded on
// the integers) into workgroup memory, and every invocation then does exactly attention.wgsl's
// arithmetic on it, so the output keeps the scalar CPU's bits: its own tiles of 64 keys from
// its window's first key, per tile the scores (sequential f32 dots from -0, times the scale)
// and their max, the rescale by expf(old - new) when the max grows, then per key in order
// e = expf(s - max), l += e (f64, emulated), acc += e·v; finally acc · (1/l as f32).
//
// Why the V rows lag the K rows: an invocation's tile may start anywhere (a sliding window
// moves each token's first key), and a key's exps need its whole tile's max. The workgroup
// walks its key range [first key of its first token, position of its last] in blocks of 64
// keys; chunk c (KS keys) of round r holds K rows of block r and V rows of block r - 1. A tile
// starting at key a in block r - 1 ends by a + 63, which is in block r no later than the chunk
// of a, so its max is known before its first V row arrives. Scores wait in a ring of 128, the
// tiles' maxima in a ring of 4 (at most 64 + KS keys lie between a score and its exp).
// Needs expf.wgsl, f64.wgsl and attention_common.wgsl in front. Workgroup memory: two chunks
// of 2048 f32 = 16 KiB, WebGPU's guaranteed minimum; KS = the largest power of two ≤ 2048 / head_dim (8 keys at 256).

const WG_SIZE: u32 = 64u;
const CHUNK: u32 = 2048u;

var<workgroup> k_chunk: array<f32, CHUNK>;
var<workgroup> v_chunk: array<f32, CHUNK>;

// The first key a token at `pos` sees (its sliding window's start, or 0).
fn first_key(pos: u32) -> u32 {
    if (p.window > 0u && pos + 1u > p.window) { return pos + 1u - p.window; }
    return 0u;
}

@compute @workgroup_size(64)
fn main(
    @builtin(local_invocation_index) li: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
) {
    let hd = p.head_dim;
    let group = p.n_head / p.n_head_kv;
    let bt = WG_SIZE / group; // tokens per workgroup (the host keeps group <= 64)
    let g = wid.y;
    let kv_stride = p.n_head_kv * hd;
    let t_begin = wid.x * bt;
    let t_end = min(t_begin + bt, p.n_tokens);
    // Workgroup-uniform key range and chunk size (barriers below need uniform loops).
    let kmin = first_key(p.pos0 + t_begin);
    let kmax = p.pos0 + t_end - 1u;
    let n_blocks = (kmax - kmin) / TILE + 1u;
    var ks = CHUNK / hd;
    ks = min(1u << (31u - countLeadingZeros(ks)), TILE);
    let n_chunks = TILE / ks;

    let tb = li / group;
    let t = t_begin + tb;
    let live = tb < bt && t < t_end;
    let h = g * group + li % group;
    let pos = p.pos0 + t;
    let first = first_key(pos);
    let qo = (t * p.n_head + h) * hd;
    let neg_inf = inf_f32(0x80000000u);

    var qv = array<f32, MAX_HEAD_DIM>();
    var acc = array<f32, MAX_HEAD_DIM>();
    if (live) {
        for (var d = 0u; d < hd; d++) { qv[d] = q[qo + d]; }
    }
    var sc = array<f32, 128>();
    var mts = array<f32, 4>(neg_inf, neg_inf, neg_inf, neg_inf);
    var m = neg_inf;
    var l = f64_zero();

    for (var r = 0u; r <= n_blocks; r++) {
        let kb = kmin + r * TILE;      // this round's K block (when r < n_blocks)
        let vb = kb - TILE;            // its V block (when r >= 1; unused and wrapped at r = 0)
        for (var c = 0u; c < n_chunks; c++) {
            workgroupBarrier();
            for (var e = li; e < ks * hd; e += WG_SIZE) {
                let o = e / hd;
                let d = e % hd;
                let jk = kb + c * ks + o;
                var kx = 0.0;
                if (r < n_blocks && jk <= kmax) { kx = kv(true, jk * kv_stride + g * hd + d); }
                k_chunk[e] = kx;
                let jv = vb + c * ks + o;
                var vx = 0.0;
                if (r >= 1u && jv <= kmax) { vx = kv(false, jv * kv_stride + g * hd + d); }
                v_chunk[e] = vx;
            }
            workgroupBarrier();
            // (No early exit for idle invocations: they load and meet every barrier.)
            if (live && r < n_blocks) {
                for (var o = 0u; o < ks; o++) {
                    let j = kb + c * ks + o;
                    if (j < first || j > pos) { continue; }
                    var s = -0.0;
                    for (var d = 0u; d < hd; d++) { s = s + qv[d] * k_chunk[o * hd + d]; }
                    s = s * p.scale;
                    sc[j & 127u] = s;
                    let ti = ((j - first) / TILE) & 3u;
                    if ((j - first) % TILE == 0u) { mts[ti] = neg_inf; }
                    if (s > mts[ti]) { mts[ti] = s; }
                }
            }
            if (live && r >= 1u) {
                for (var o = 0u; o < ks; o++) {
                    let j = vb + c * ks + o;
                    if (j < first || j > pos) { continue; }
                    if ((j - first) % TILE == 0u) {
                        // A tile's first key: rescale for its max as attention.wgsl does.
                        let mt = mts[((j - first) / TILE) & 3u];
                        if (mt > m) {
                            let cr = expf(m - mt);
                            if (l.kind == 1u) {
                                for (var d = 0u; d < hd; d++) { acc[d] = acc[d] * cr; }
                                l = f64_mul_f32(l, cr);
                            }
                            m = mt;
                        }
                    }
                    let e = expf(sc[j & 127u] - m);
                    l = f64_add(l, f64_from_f32(e));
                    for (var d = 0u; d < hd; d++) { acc[d] = acc[d] + e * v_chunk[o * hd + d]; }
                }
            }
        }
    }
    if (!live) { return; }
    var inv = 0.0;
    if (l.kind == 1u) { inv = f64_recip_f32(l); }
    for (var d = 0u; d < hd; d++) { out[qo + d] = acc[d] * inv; }
}
