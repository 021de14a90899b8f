//! Times CPU attention over an F16 KV cache alone, on random data in the real models' shapes:
//! a prefill of N tokens from an empty cache (one layer's call) and a decode step at position
//! N - 1. Best of several runs, so a busy machine shows as noise rather than as a slower kernel.
//!
//! `cargo run --release -p chord-cpu --example bench_attention -- [N=512] [THREADS=1]`
//! (`CHORD_ISA=scalar|avx2|...` picks the flavour as everywhere.)

use chord_cpu::CpuBackend;
use chord_model::{AttentionArgs, Backend, KvSlice};
use half::f16;
use std::time::Instant;

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("usage: bench_attention [N] [THREADS]"))
        .collect();
    let n = args.first().copied().unwrap_or(512);
    let threads = args.get(1).copied().unwrap_or(1);
    let be = CpuBackend::new(threads);
    println!("{} tokens, {}", n, be.name());
    // (name, heads, kv heads, head size, window)
    for (name, nh, nkv, hd, window) in [
        ("gemma3-270m", 4, 1, 256, 0),
        ("gemma3-270m swa", 4, 1, 256, 512),
        ("qwen2.5-0.5b", 14, 2, 64, 0),
        ("qwen2.5-1.5b", 12, 2, 128, 0),
    ] {
        let mut seed = 0x1234_5678_9abc_def1u64;
        let mut rnd = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        };
        let kv: Vec<f16> = (0..n * nkv * hd).map(|_| f16::from_f32(rnd())).collect();
        let q: Vec<f32> = (0..n * nh * hd).map(|_| rnd()).collect();
        let mut out = vec![0f32; n * nh * hd];
        let mut scores = vec![0f32; n];
        let mut time = |pos0: usize, n_tokens: usize, reps: usize| {
            let mut best = f64::INFINITY;
            for _ in 0..reps {
                let t = Instant::now();
                be.attention(AttentionArgs {
                    q: &q[pos0 * nh * hd..(pos0 + n_tokens) * nh * hd],
                    k: KvSlice::F16(&kv),
                    v: KvSlice::F16(&kv),
                    out: &mut out[..n_tokens * nh * hd],
                    n_tokens,
                    pos0,
                    n_head: nh,
                    n_head_kv: nkv,
                    head_dim: hd,
                    scale: 1.0 / (hd as f32).sqrt(),
                    window,
                    scores: &mut scores,
                })
                .expect("attention");
                best = best.min(t.elapsed().as_secs_f64());
            }
            best * 1e3
        };
        let pp = time(0, n, 20);
        let tg = time(n - 1, 1, 200);
        println!("{name:>16}: prefill {pp:8.3} ms   decode step {tg:7.4} ms");
    }
}
