//! The GPU path of the `gpu` build: `Model.useGpu()` swaps the engine's CPU backend for
//! chord-gpu on the browser's WebGPU. Every wait for the device suspends the wasm stack (JSPI,
//! see chord-gpu's `block_on`), so the exports that can reach one (`useGpu`, `startGenerate`,
//! `startChat`, `step`) are called through `WebAssembly.promising` by the package's glue.

use chord_gpu::GpuBackend;
use chord_model::{AttentionArgs, Backend, KvSlice, MatRef};
use serde_json::json;
use std::sync::Arc;

/// Opens the browser's WebGPU adapter and device (suspends while the browser answers).
pub(crate) fn open() -> Result<Arc<GpuBackend>, String> {
    GpuBackend::new()
        .map(Arc::new)
        .map_err(|e| format!("WebGPU: {e}"))
}

/// What the page is told about the adapter: wgpu's view of WebGPU's `GPUAdapterInfo` (the name
/// is its `description`, which browsers often leave empty; the JS side adds vendor and
/// architecture). `device_type` is `Cpu` for a fallback (software) adapter, else `Other`.
pub(crate) fn adapter_json(gpu: &GpuBackend) -> serde_json::Value {
    let i = gpu.gpu().adapter_info();
    json!({
        "name": i.name,
        "device_type": format!("{:?}", i.device_type),
    })
}

/// Matrix products per GPU kernel so far, as a JSON object (`{"matvec_q4_K_q8_K": 120, ...}`).
pub(crate) fn dispatch_json(gpu: &GpuBackend) -> serde_json::Value {
    let mut m = serde_json::Map::new();
    for (k, n) in gpu.dispatch_counts() {
        m.insert(k.to_string(), json!(n));
    }
    serde_json::Value::Object(m)
}

/// The GPU kernels against the scalar CPU backend where they run (the browser's WebGPU), in
/// the style of `kernelSelfCheck`: for every type chord-gpu has a matvec kernel for, `rows`
/// random rows × 1024 + a few blocks, products of 1 token (matvec) and 5 tokens (the tiled
/// kernel and its tail), then attention (F16 and F32 caches, prefill and decode, a sliding
/// window), all compared bit for bit. Returns JSON `{adapter, checked, mismatches}`.
/// Suspends (JSPI): called through `WebAssembly.promising`.
pub(crate) fn self_check(seed: u64, rows: usize) -> Result<serde_json::Value, String> {
    use crate::selfcheck::{random_row, Rng};
    use chord_cpu::CpuBackend;
    use chord_quant::Isa;

    let gpu = open()?;
    let cpu = CpuBackend::with_isa(1, Isa::Scalar).map_err(|e| e.to_string())?;
    let mut rng = Rng(seed | 1);
    let mut mismatches = Vec::new();
    let mut checked = Vec::new();
    for ty in chord_gpu::MATVEC_TYPES {
        let cols = 1024 + 3 * ty.block_size() as usize;
        let w: Vec<u8> = (0..rows)
            .flat_map(|_| random_row(ty, cols, &mut rng))
            .collect();
        let name = format!("random {ty}");
        let m = MatRef {
            name: &name,
            ty,
            rows,
            cols,
            data: &w,
        };
        for n_tokens in [1usize, 5] {
            let x: Vec<f32> = (0..n_tokens * cols).map(|_| rng.unit()).collect();
            let mut got = vec![0f32; n_tokens * rows];
            let mut want = vec![0f32; n_tokens * rows];
            gpu.matmul(m, &x, n_tokens, &mut got)
                .map_err(|e| e.to_string())?;
            cpu.matmul(m, &x, n_tokens, &mut want)
                .map_err(|e| e.to_string())?;
            checked.push(format!("{ty} x{n_tokens}"));
            let bad: Vec<usize> = (0..got.len())
                .filter(|&i| got[i].to_bits() != want[i].to_bits())
                .collect();
            if let Some(&i) = bad.first() {
                mismatches.push(json!({
                    "kernel": format!("{ty} x{n_tokens}"), "count": bad.len(), "of": got.len(),
                    "first": i, "got": got[i], "want": want[i],
                }));
            }
        }
    }
    // (f16 cache, tokens, pos0, window)
    for (f16, n_tokens, pos0, window) in [
        (true, 5, 0, 0),
        (true, 1, 70, 0),
        (false, 6, 4, 3),
        (false, 1, 130, 0),
    ] {
        let (n_head, n_head_kv, hd) = (4, 2, 64);
        let n_kv = (pos0 + n_tokens) * n_head_kv * hd;
        let q: Vec<f32> = (0..n_tokens * n_head * hd).map(|_| rng.unit()).collect();
        let k: Vec<f32> = (0..n_kv).map(|_| rng.unit()).collect();
        let v: Vec<f32> = (0..n_kv).map(|_| rng.unit()).collect();
        let k16: Vec<half::f16> = k.iter().map(|&x| half::f16::from_f32(x)).collect();
        let v16: Vec<half::f16> = v.iter().map(|&x| half::f16::from_f32(x)).collect();
        let mut outs = [vec![0f32; q.len()], vec![0f32; q.len()]];
        for (which, out) in outs.iter_mut().enumerate() {
            let mut scores = vec![0f32; pos0 + n_tokens];
            let (kk, vv) = if f16 {
                (KvSlice::F16(&k16), KvSlice::F16(&v16))
            } else {
                (KvSlice::F32(&k), KvSlice::F32(&v))
            };
            let a = AttentionArgs {
                q: &q,
                k: kk,
                v: vv,
                out,
                n_tokens,
                pos0,
                n_head,
                n_head_kv,
                head_dim: hd,
                scale: 0.125,
                window,
                scores: &mut scores,
            };
            let r = if which == 0 {
                gpu.attention(a)
            } else {
                cpu.attention(a)
            };
            r.map_err(|e| e.to_string())?;
        }
        let what = format!("attention f16={f16} tokens={n_tokens} pos0={pos0} window={window}");
        let bad = (0..q.len())
            .filter(|&i| outs[0][i].to_bits() != outs[1][i].to_bits())
            .count();
        if bad > 0 {
            mismatches.push(json!({"kernel": what, "count": bad, "of": q.len()}));
        }
        checked.push(what);
    }
    Ok(json!({
        "adapter": adapter_json(&gpu),
        "checked": checked,
        "mismatches": mismatches,
    }))
}
