//! Times a prefill through the GPU's device step with each attention kernel (per row, flash),
//! after a warm-up that compiles the pipelines, and checks the two give the same logits.
//!
//! `cargo run --release -p chord-gpu --example prefill_attention -- MODEL.gguf [TOKENS] [RUNS]`

use chord_gpu::{AttentionKernel, GpuBackend};
use chord_model::{KvType, Logits, Model, Scratch};
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .ok_or("usage: prefill_attention MODEL.gguf [TOKENS] [RUNS]")?;
    let n: usize = args.next().map_or(Ok(128), |s| s.parse())?;
    let runs: usize = args.next().map_or(Ok(2), |s| s.parse())?;
    let model = Model::open(std::path::Path::new(&path))?;
    let gpu = GpuBackend::new()?;
    let vocab = model.config.n_vocab as u32;
    let prompt: Vec<u32> = (0..n as u32).map(|i| (i * 7919 + 13) % vocab).collect();
    let mut logits: Vec<Vec<f32>> = Vec::new();
    for kernel in [AttentionKernel::PerRow, AttentionKernel::Flash] {
        gpu.set_attention_kernel(Some(kernel));
        let mut best = f64::INFINITY;
        // Run 0 is the warm-up (pipelines compiled, weights uploaded).
        for run in 0..=runs {
            let mut cache = model.new_cache_on(&gpu, n + 1, KvType::F16)?;
            let mut s = Scratch::default();
            let t = Instant::now();
            let l = model.forward(&gpu, &mut cache, &prompt, Logits::Last, &mut s)?;
            let secs = t.elapsed().as_secs_f64();
            if run == 0 {
                logits.push(l.to_vec());
            } else {
                best = best.min(secs);
            }
        }
        println!(
            "{kernel:?}: prefill of {n} tokens, best of {runs}: {:.2} s ({:.1} tok/s)",
            best,
            n as f64 / best
        );
    }
    let same = logits[0]
        .iter()
        .zip(&logits[1])
        .all(|(a, b)| a.to_bits() == b.to_bits());
    println!("logits bit-identical across kernels: {same}");
    if !same {
        return Err("the kernels' logits differ".into());
    }
    Ok(())
}
