// Element-wise arithmetic of a device step (f32 adds and multiplies are correctly rounded on
// Vulkan, so these are the host's bits): op 0 `a + b`, op 1 `a + b[i % b_len]` (a bias per
// row), op 2 `a · f`. One invocation per element.
struct Params { n: u32, op: u32, b_len: u32, f: f32 }

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x + gid.y * 65535u * 64u;
    if (i >= p.n) { return; }
    if (p.op == 0u) {
        out[i] = a[i] + b[i];
    } else if (p.op == 1u) {
        out[i] = a[i] + b[i % p.b_len];
    } else {
        out[i] = a[i] * p.f;
    }
}
