//! Where one batched decode step's time goes, as the scheduler runs it: B sequences (each with
//! its own KV cache holding a short prompt) feed one token each into ONE `forward_batch`, then
//! each row is copied out and sampled greedily. Reports, per batch size, the step time, the
//! aggregate tokens/s, and the step split by op kind (matmul per weight type, attention, norms,
//! output projection...) plus sampling and the scheduler's logits copies.
//!
//!     cargo run --release -p chord-engine --example batch_profile -- \
//!         [MODEL name or .gguf] [--threads 2] [--batch 1,4,8,16] [--steps 32] [--prompt 16]
//!
//! Timings are wall-clock on whatever else the machine runs: note `uptime` beside them.

use chord_engine::{Engine, EngineOptions, SamplerConfig};
use chord_model::sampler::{argmax, Sampler};
use chord_model::{KvCache, Logits, Scratch, SeqBatch};
use std::time::{Duration, Instant};

struct Args {
    model: String,
    threads: usize,
    batches: Vec<usize>,
    steps: usize,
    prompt: usize,
}

fn args() -> Result<Args, String> {
    let mut a = Args {
        model: "qwen2.5-coder-0.5b".into(),
        threads: 2,
        batches: vec![1, 4, 8, 16],
        steps: 32,
        prompt: 16,
    };
    let mut it = std::env::args().skip(1);
    while let Some(x) = it.next() {
        let mut val = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match x.as_str() {
            "--threads" => a.threads = val("--threads")?.parse().map_err(|e| format!("{e}"))?,
            "--steps" => a.steps = val("--steps")?.parse().map_err(|e| format!("{e}"))?,
            "--prompt" => a.prompt = val("--prompt")?.parse().map_err(|e| format!("{e}"))?,
            "--batch" => {
                a.batches = val("--batch")?
                    .split(',')
                    .map(|s| s.trim().parse().map_err(|e| format!("{e}")))
                    .collect::<Result<_, _>>()?
            }
            m if !m.starts_with("--") => a.model = m.to_string(),
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(a)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let a = args()?;
    let path = if std::path::Path::new(&a.model).is_file() {
        a.model.clone().into()
    } else {
        chord_testkit::model(&a.model)
    };
    let engine = Engine::open(
        &path,
        &EngineOptions {
            n_threads: a.threads,
            ..EngineOptions::default()
        },
    )?;
    let n_vocab = engine.model.config.n_vocab;
    println!(
        "{} ({} threads), prompt {} tokens per sequence, {} decode steps per batch size",
        path.display(),
        a.threads,
        a.prompt,
        a.steps
    );
    for &b in &a.batches {
        profile_batch(&engine, &a, b, n_vocab)?;
    }
    Ok(())
}

fn profile_batch(
    engine: &Engine,
    a: &Args,
    b: usize,
    n_vocab: usize,
) -> Result<(), Box<dyn std::error::Error>> {
    let n_ctx = a.prompt + a.steps + 8;
    let mut caches: Vec<KvCache> = (0..b).map(|_| engine.new_cache(n_ctx)).collect();
    let mut scratch = Scratch::default();
    let backend = engine.backend.as_ref();
    // Distinct prompts (no shared prefix), read one sequence at a time (not measured).
    let mut next = Vec::with_capacity(b);
    for (i, cache) in caches.iter_mut().enumerate() {
        let prompt: Vec<u32> = (0..a.prompt)
            .map(|j| ((i * 7919 + j * 104_729 + 13) % (n_vocab - 1000) + 500) as u32)
            .collect();
        let logits = engine
            .model
            .forward(backend, cache, &prompt, Logits::Last, &mut scratch)?;
        next.push(argmax(logits).expect("some logit is not NaN") as u32);
    }
    let mut samplers: Vec<Sampler> = (0..b)
        .map(|_| Sampler::new(SamplerConfig::greedy(), n_vocab))
        .collect();
    let history: Vec<u32> = Vec::new();
    let (mut forward, mut copies, mut sampling) = (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    let mut step_times = Vec::with_capacity(a.steps);
    for step in 0..a.steps {
        // The first two steps warm up (threads, caches); profiling starts after them.
        if step == 2 {
            scratch.set_profiling(true);
            forward = Duration::ZERO;
            copies = Duration::ZERO;
            sampling = Duration::ZERO;
            step_times.clear();
        }
        let feeds: Vec<[u32; 1]> = next.iter().map(|&t| [t]).collect();
        let t0 = Instant::now();
        let mut batch: Vec<SeqBatch<'_>> = caches
            .iter_mut()
            .zip(&feeds)
            .map(|(cache, f)| SeqBatch {
                cache,
                tokens: f,
                logits: Logits::Last,
            })
            .collect();
        let rows = engine
            .model
            .forward_batch(backend, &mut batch, &mut scratch)?;
        let t1 = Instant::now();
        // As the scheduler does: the rows copied out of the scratch, then one row per sequence.
        let rows = rows.to_vec();
        drop(batch);
        let mut t_copy = t1.elapsed();
        let mut t_sample = Duration::ZERO;
        for (k, s) in samplers.iter_mut().enumerate() {
            let tc = Instant::now();
            let mut row = rows[k * n_vocab..(k + 1) * n_vocab].to_vec();
            let ts = Instant::now();
            t_copy += ts - tc;
            next[k] = s.sample(&mut row, &history)?;
            t_sample += ts.elapsed();
        }
        forward += t1 - t0;
        copies += t_copy;
        sampling += t_sample;
        step_times.push(t0.elapsed());
    }
    let measured = step_times.len().max(1) as f64;
    let step_ms = step_times.iter().sum::<Duration>().as_secs_f64() * 1e3 / measured;
    let per_step = |d: Duration| d.as_secs_f64() * 1e3 / measured;
    println!(
        "\nbatch {b}: {step_ms:.2} ms/step, {:.1} tokens/s aggregate, {:.1} tokens/s per sequence",
        b as f64 * 1e3 / step_ms,
        1e3 / step_ms
    );
    let mut rows: Vec<(String, f64)> = Vec::new();
    if let Some(p) = scratch.profile() {
        let profiled = p.total();
        for (k, _, d) in p.entries() {
            rows.push((k.label(), per_step(d)));
        }
        rows.push((
            "forward, outside the ops above".into(),
            per_step(forward.saturating_sub(profiled)),
        ));
    }
    rows.push(("sampling (greedy)".into(), per_step(sampling)));
    rows.push(("scheduler logits copies".into(), per_step(copies)));
    rows.sort_by(|x, y| y.1.total_cmp(&x.1));
    for (label, ms) in rows {
        println!(
            "  {label:<34} {ms:>8.3} ms/step {:>5.1}%",
            100.0 * ms / step_ms
        );
    }
    Ok(())
}
