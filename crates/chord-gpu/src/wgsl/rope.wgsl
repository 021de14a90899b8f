// RoPE, normal (adjacent pairs) or NeoX (pairs half a rotation apart), one invocation per
// element. The cos/sin table of each token's position (`table[t][2i]`, `[2i+1]`) is computed
// by chord-model::ops::rope_cache on the host, and the rotation does the same fused
// multiply-adds as chord-model::ops::rope_apply (ggml's contraction) with exact.wgsl's
// correctly rounded `fma_f32` (WGSL's `fma` may be unfused: lavapipe's is), so the result is
// the CPU's bit for bit (expf.wgsl, f64.wgsl and exact.wgsl in front).
struct Params { n_tokens: u32, n_heads: u32, head_dim: u32, n_dims: u32, neox: u32, _p0: u32, _p1: u32, _p2: u32 }

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> table: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let idx = gid.x;
    let per_token = p.n_heads * p.head_dim;
    if (idx >= p.n_tokens * per_token) { return; }
    let t = idx / per_token;
    let d = idx % p.head_dim;
    let base = idx - d;            // first element of this head
    let tb = t * p.n_dims;         // this token's table
    if (d >= p.n_dims) { out[idx] = x[idx]; return; }
    if (p.neox == 1u) {
        let half = p.n_dims / 2u;
        let ic = d % half;
        let c = table[tb + 2u * ic];
        let s = table[tb + 2u * ic + 1u];
        let x0 = x[base + ic];
        let x1 = x[base + ic + half];
        if (d < half) { out[idx] = fma_f32(x0, c, -(x1 * s)); } else { out[idx] = fma_f32(x0, s, x1 * c); }
    } else {
        let i0 = d & ~1u;
        let c = table[tb + i0];
        let s = table[tb + i0 + 1u];
        let x0 = x[base + i0];
        let x1 = x[base + i0 + 1u];
        if (d == i0) { out[idx] = fma_f32(x0, c, -(x1 * s)); } else { out[idx] = fma_f32(x0, s, x1 * c); }
    }
}
