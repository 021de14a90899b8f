// The f64 emulation's three operations element-wise (f64.wgsl and expf.wgsl in front), for the
// tests: per element, l + x, l * c (f64 bits, low word first) and (1 / l) as f32 (bits).
struct Params { n: u32, _p0: u32, _p1: u32, _p2: u32 }

@group(0) @binding(0) var<storage, read> lb: array<u32>; // l's f64 bits, low word first
@group(0) @binding(1) var<storage, read> xs: array<f32>;
@group(0) @binding(2) var<storage, read> cs: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<u32>;
@group(0) @binding(4) var<uniform> p: Params;

fn from_bits(lo: u32, hi: u32) -> F64 {
    if (lo == 0u && hi == 0u) { return f64_zero(); }
    return F64((hi & 0xfffffu) | 0x100000u, lo, i32((hi >> 20u) & 0x7ffu) - 1075, 1u);
}

fn to_bits(a: F64) -> vec2<u32> {
    if (a.kind == 0u) { return vec2<u32>(0u, 0u); }
    if (a.kind == 2u) { return vec2<u32>(0x7ff80000u, 0u); }
    return vec2<u32>((u32(a.e + 1075) << 20u) | (a.hi & 0xfffffu), a.lo);
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x;
    if (i >= p.n) { return; }
    let l = from_bits(lb[2u * i], lb[2u * i + 1u]);
    let s = to_bits(f64_add(l, f64_from_f32(xs[i])));
    let m = to_bits(f64_mul_f32(l, cs[i]));
    out[5u * i] = s.y;
    out[5u * i + 1u] = s.x;
    out[5u * i + 2u] = m.y;
    out[5u * i + 3u] = m.x;
    out[5u * i + 4u] = bitcast<u32>(f64_recip_f32(l));
}
