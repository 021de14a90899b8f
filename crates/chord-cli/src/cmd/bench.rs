//! `chord bench`: prefill and decode speed the way llama-bench measures them (random tokens,
//! prefill of `-p` tokens in one batch from an empty cache; `-n` single-token decode steps from an
//! empty cache), plus what a user feels (time to first token, inter-token latency percentiles),
//! load time, peak RSS, and how close decode gets to the machine's memory bandwidth (decode reads
//! every weight once per token).

use crate::cmd::common::{load_engine, resolve_model, DeviceArg, KvTypeArg, ModelArgs};
use chord_model::{Logits, Scratch};
use serde_json::json;
use std::time::{Duration, Instant};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Model: a GGUF path or a known name.
    #[arg(short = 'm', long = "model")]
    pub model: String,
    /// Prompt tokens processed in one batch (prefill).
    #[arg(short = 'p', long = "n-prompt", default_value_t = 128)]
    pub n_prompt: usize,
    /// Tokens generated one at a time (decode).
    #[arg(short = 'n', long = "n-gen", default_value_t = 64)]
    pub n_gen: usize,
    /// CPU threads (0 = all cores).
    #[arg(short = 't', long = "threads", default_value_t = 0)]
    pub threads: usize,
    /// Repetitions (mean ± stddev over them).
    #[arg(short = 'r', long = "repetitions", default_value_t = 3)]
    pub reps: usize,
    /// KV cache element type.
    #[arg(long = "kv-type", value_enum, default_value_t = KvTypeArg::F16)]
    pub kv_type: KvTypeArg,
    /// Where the model runs (`cpu`, `gpu`, `auto`), as for `chord run`.
    #[arg(long = "device", value_enum, default_value_t = DeviceArg::Cpu)]
    pub device: DeviceArg,
    /// Layer streaming with this budget (as for `chord run`), to measure its cost.
    #[arg(long = "stream-budget", value_parser = super::bytesize::parse)]
    pub stream_budget: Option<u64>,
    /// With --stream-budget: layers read ahead by a background thread.
    #[arg(long = "prefetch", default_value_t = 1, requires = "stream_budget")]
    pub prefetch: usize,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Time per op kind (matmul per weight type, attention, norms, RoPE, output projection,
    /// sampling).
    #[arg(long)]
    pub profile: bool,
    /// Skip measuring the memory bandwidth bound (a few hundred ms).
    #[arg(long = "no-bandwidth")]
    pub no_bandwidth: bool,
}

struct Stats {
    mean: f64,
    std: f64,
}

fn stats(v: &[f64]) -> Stats {
    let n = v.len().max(1) as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var = if v.len() > 1 {
        v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    Stats {
        mean,
        std: var.sqrt(),
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// xorshift, for reproducible random token ids.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Greedy pick; the model's logits all NaN is an error, not a token.
fn argmax(v: &[f32]) -> anyhow::Result<u32> {
    chord_model::sampler::argmax(v)
        .map(|i| i as u32)
        .ok_or_else(|| anyhow::anyhow!("the model's logits are all NaN"))
}

pub fn run(args: Args) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.n_prompt > 0 || args.n_gen > 0,
        "nothing to measure: -p 0 -n 0"
    );
    anyhow::ensure!(args.reps > 0, "-r must be at least 1");
    let path = resolve_model(&args.model)?;
    let t0 = Instant::now();
    let engine = load_engine(&ModelArgs {
        model: path.display().to_string(),
        threads: args.threads,
        ctx: 0,
        kv_type: args.kv_type,
        device: args.device,
        stream_budget: args.stream_budget,
        prefetch: args.prefetch,
    })?;
    let load_ms = t0.elapsed().as_secs_f64() * 1e3;
    let model = &engine.model;
    let backend = engine.backend.as_ref();
    let n_vocab = model.config.n_vocab;
    let n_ctx = (args.n_prompt.max(args.n_gen) + 1).max(16);
    let mut cache = engine.new_cache(n_ctx);
    let mut scratch = Scratch::default();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut random_tokens = |n: usize| -> Vec<u32> {
        (0..n)
            .map(|_| (rng.next() % n_vocab as u64) as u32)
            .collect()
    };
    if !args.json {
        eprintln!(
            "{}: {} on {}, kv {:?}, load {load_ms:.0} ms",
            path.display(),
            model.config.arch.name(),
            backend.name(),
            args.kv_type
        );
    }

    // Warm-up: fault the weights in and let the threads spin up (not measured).
    let warm = random_tokens(args.n_prompt.clamp(1, 16));
    model.forward(backend, &mut cache, &warm, Logits::Last, &mut scratch)?;
    cache.clear();
    if args.profile {
        scratch.set_profiling(true);
    }

    let mut pp_rates = Vec::new();
    let mut tg_rates = Vec::new();
    let mut ttfts = Vec::new();
    let mut itls = Vec::new();
    let mut sampling = Duration::ZERO;
    for _ in 0..args.reps {
        if args.n_prompt > 0 {
            let prompt = random_tokens(args.n_prompt);
            cache.clear();
            let t = Instant::now();
            let logits = model.forward(backend, &mut cache, &prompt, Logits::Last, &mut scratch)?;
            let pp = t.elapsed();
            let ts = Instant::now();
            std::hint::black_box(argmax(logits)?);
            sampling += ts.elapsed();
            ttfts.push(t.elapsed().as_secs_f64() * 1e3);
            pp_rates.push(args.n_prompt as f64 / pp.as_secs_f64());
        }
        if args.n_gen > 0 {
            cache.clear();
            let mut tok = random_tokens(1)[0];
            let t = Instant::now();
            for _ in 0..args.n_gen {
                let ts = Instant::now();
                let logits =
                    model.forward(backend, &mut cache, &[tok], Logits::Last, &mut scratch)?;
                let tsm = Instant::now();
                tok = argmax(logits)?;
                sampling += tsm.elapsed();
                itls.push(ts.elapsed().as_secs_f64() * 1e3);
            }
            tg_rates.push(args.n_gen as f64 / t.elapsed().as_secs_f64());
        }
    }
    itls.sort_by(|a, b| a.total_cmp(b));
    let pp = stats(&pp_rates);
    let tg = stats(&tg_rates);
    let ttft = stats(&ttfts);
    let bytes_per_token = model.weights.bytes_per_token();
    let decode_gbs = bytes_per_token as f64 * tg.mean / 1e9;
    // Before the bandwidth probe, whose buffer would count.
    let peak_rss = peak_rss_bytes();
    let bound = if args.no_bandwidth {
        None
    } else {
        Some(crate::cmd::bandwidth::streaming_read_gbs(backend_threads(
            args.threads,
        )))
    };

    let profile = scratch.profile().map(|p| {
        let mut rows: Vec<(String, u64, f64)> = p
            .entries()
            .into_iter()
            .map(|(k, calls, d)| (k.label(), calls, d.as_secs_f64() * 1e3))
            .collect();
        rows.push(("sampling (argmax)".into(), 0, sampling.as_secs_f64() * 1e3));
        rows.sort_by(|a, b| b.2.total_cmp(&a.2));
        rows
    });

    if args.json {
        let mut o = json!({
            "model": path.display().to_string(),
            "arch": model.config.arch.name(),
            "backend": backend.name(),
            "isa": chord_quant::selected_isa().name(),
            "threads": backend_threads(args.threads),
            "kv_type": format!("{:?}", args.kv_type).to_lowercase(),
            "n_prompt": args.n_prompt,
            "n_gen": args.n_gen,
            "repetitions": args.reps,
            "prompt_tokens_per_s": pp.mean,
            "prompt_tokens_per_s_std": pp.std,
            "decode_tokens_per_s": tg.mean,
            "decode_tokens_per_s_std": tg.std,
            "ttft_ms": ttft.mean,
            "itl_p50_ms": percentile(&itls, 0.5),
            "itl_p99_ms": percentile(&itls, 0.99),
            "load_ms": load_ms,
            "peak_rss_bytes": peak_rss,
            "model_bytes_per_token": bytes_per_token,
            "decode_bandwidth_gb_per_s": decode_gbs,
        });
        if let Some(b) = bound {
            o["bandwidth_bound_gb_per_s"] = json!(b);
            o["bandwidth_share"] = json!(decode_gbs / b);
        }
        if let Some(rows) = &profile {
            o["profile"] = rows
                .iter()
                .map(|(op, calls, ms)| json!({"op": op, "calls": calls, "ms": ms}))
                .collect();
        }
        println!("{o}");
        return Ok(());
    }

    println!("| test | tokens/s | ± |");
    println!("|---|---:|---:|");
    if args.n_prompt > 0 {
        println!("| pp{} | {:.1} | {:.1} |", args.n_prompt, pp.mean, pp.std);
    }
    if args.n_gen > 0 {
        println!("| tg{} | {:.1} | {:.1} |", args.n_gen, tg.mean, tg.std);
    }
    println!();
    if args.n_prompt > 0 {
        println!("time to first token: {:.1} ± {:.1} ms", ttft.mean, ttft.std);
    }
    if args.n_gen > 0 {
        println!(
            "inter-token latency: p50 {:.2} ms, p99 {:.2} ms",
            percentile(&itls, 0.5),
            percentile(&itls, 0.99)
        );
        print!(
            "weights read per token: {:.1} MB -> {decode_gbs:.1} GB/s",
            bytes_per_token as f64 / 1e6
        );
        if let Some(b) = bound {
            print!(
                " = {:.0}% of the {b:.1} GB/s streaming-read bound",
                100.0 * decode_gbs / b
            );
        }
        println!();
    }
    println!(
        "load: {load_ms:.0} ms, peak RSS: {:.1} MiB",
        peak_rss as f64 / (1 << 20) as f64
    );
    crate::cmd::common::report_stream(&engine);
    if let Some(rows) = profile {
        let total: f64 = rows.iter().map(|r| r.2).sum();
        println!("\nprofile (all measured runs):");
        println!("| op | calls | ms | share |");
        println!("|---|---:|---:|---:|");
        for (op, calls, ms) in rows {
            println!(
                "| {op} | {calls} | {ms:.1} | {:.1}% |",
                100.0 * ms / total.max(1e-9)
            );
        }
    }
    Ok(())
}

fn backend_threads(t: usize) -> usize {
    if t == 0 {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    } else {
        t
    }
}

/// Peak resident set size of this process (Linux `VmHWM`; 0 where unknown).
pub fn peak_rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}
