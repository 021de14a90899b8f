// Causal multi-head attention with grouped KV heads and an optional sliding window; one
// invocation per (token, head). It is chord-cpu's scalar `one_head` step for step, so the
// output has the CPU's bits: the visible keys in tiles of 64 from the window's first key;
// per tile the scores (a sequential f32 dot from -0, then times the scale) and their max;
// when the max grows, the accumulator (f32) and the denominator l (an f64 on the CPU,
// emulated exactly by f64.wgsl) are rescaled by expf(old - new); then per key
// e = expf(s - max) (libm's bits, expf.wgsl), l += e, acc += e·v; finally
// acc · (1/l rounded to f64, then to f32). Needs expf.wgsl, f64.wgsl and
// attention_common.wgsl in front.

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
    let neg_inf = inf_f32(0x80000000u);

    var acc: array<f32, MAX_HEAD_DIM>;
    for (var d = 0u; d < hd; d++) { acc[d] = 0.0; }
    var sc: array<f32, TILE>;
    var m = neg_inf;
    var l = f64_zero();
    var j0 = first;
    while (j0 <= pos) {
        let j1 = min(j0 + TILE, pos + 1u);
        var mt = neg_inf;
        for (var j = j0; j < j1; j++) {
            let base = j * kv_stride + g * hd;
            var s = -0.0;
            for (var d = 0u; d < hd; d++) { s = s + q[qo + d] * kv(true, base + d); }
            s = s * p.scale;
            sc[j - j0] = s;
            if (s > mt) { mt = s; }
        }
        if (mt > m) {
            // Rescale what was accumulated under the old max.
            let c = expf(m - mt);
            if (l.kind == 1u) {
                for (var d = 0u; d < hd; d++) { acc[d] = acc[d] * c; }
                l = f64_mul_f32(l, c);
            }
            m = mt;
        }
        for (var j = j0; j < j1; j++) {
            let base = j * kv_stride + g * hd;
            let e = expf(sc[j - j0] - m);
            l = f64_add(l, f64_from_f32(e));
            for (var d = 0u; d < hd; d++) { acc[d] = acc[d] + e * kv(false, base + d); }
        }
        j0 = j1;
    }
    var inv = 0.0;
    if (l.kind == 1u) { inv = f64_recip_f32(l); }
    for (var d = 0u; d < hd; d++) { out[qo + d] = acc[d] * inv; }
}
