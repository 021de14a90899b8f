//! Arguments and loading shared by the commands that run a model.

use anyhow::Context;
use chord_engine::{Engine, EngineOptions, SamplerConfig};
use std::path::PathBuf;
use std::time::Instant;

#[derive(clap::Args, Debug, Clone)]
pub struct ModelArgs {
    /// Model: a GGUF path or a known name (`chord pull --list`).
    #[arg(short = 'm', long = "model")]
    pub model: String,
    /// CPU threads (0 = all cores).
    #[arg(short = 't', long = "threads", default_value_t = 0)]
    pub threads: usize,
    /// Context size in tokens (0 = the model's, capped at 4096).
    #[arg(short = 'c', long = "ctx-size", default_value_t = 0)]
    pub ctx: usize,
    /// KV cache element type.
    #[arg(long = "kv-type", value_enum, default_value_t = KvTypeArg::F16)]
    pub kv_type: KvTypeArg,
    /// Where the model runs: `gpu` (wgpu; an error without an adapter), `cpu`, or `auto` (a
    /// hardware GPU if there is one, else the CPU: a software adapter such as lavapipe is
    /// slower than the CPU backend, so `auto` never picks it).
    #[arg(long = "device", value_enum, default_value_t = DeviceArg::Cpu)]
    pub device: DeviceArg,
    /// Layer streaming: keep at most this many bytes of weights in memory (`256M`, `1.5G`,
    /// `4096`; K/M/G are powers of 1024) and read the rest from the file as each layer runs.
    #[arg(long = "stream-budget", value_parser = super::bytesize::parse)]
    pub stream_budget: Option<u64>,
    /// With --stream-budget: layers read ahead by a background thread.
    #[arg(long = "prefetch", default_value_t = 1, requires = "stream_budget")]
    pub prefetch: usize,
}

/// `--device cpu|gpu|auto`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceArg {
    Cpu,
    Gpu,
    Auto,
}

/// `--kv-type f16|f32`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum KvTypeArg {
    F16,
    F32,
}

impl From<KvTypeArg> for chord_engine::KvType {
    fn from(k: KvTypeArg) -> Self {
        match k {
            KvTypeArg::F16 => chord_engine::KvType::F16,
            KvTypeArg::F32 => chord_engine::KvType::F32,
        }
    }
}

#[derive(clap::Args, Debug, Clone)]
pub struct SamplingArgs {
    /// Temperature; 0 = greedy.
    #[arg(long = "temp", default_value_t = 0.8)]
    pub temp: f32,
    /// Keep only the k most likely tokens (0 = off).
    #[arg(long = "top-k", default_value_t = 40)]
    pub top_k: usize,
    /// Nucleus sampling threshold (1 = off).
    #[arg(long = "top-p", default_value_t = 0.95)]
    pub top_p: f32,
    /// Drop tokens less likely than min-p × the most likely (0 = off).
    #[arg(long = "min-p", default_value_t = 0.05)]
    pub min_p: f32,
    /// Repetition penalty (1 = off).
    #[arg(long = "repeat-penalty", default_value_t = 1.0)]
    pub repeat_penalty: f32,
    /// Tokens of history the penalties look at.
    #[arg(long = "repeat-last-n", default_value_t = 64)]
    pub repeat_last_n: usize,
    #[arg(long = "frequency-penalty", default_value_t = 0.0)]
    pub frequency_penalty: f32,
    #[arg(long = "presence-penalty", default_value_t = 0.0)]
    pub presence_penalty: f32,
    /// Random seed (same seed, same output).
    #[arg(long = "seed")]
    pub seed: Option<u64>,
}

impl SamplingArgs {
    pub fn config(&self) -> SamplerConfig {
        let mut c = SamplerConfig {
            temperature: self.temp,
            top_k: self.top_k,
            top_p: self.top_p,
            min_p: self.min_p,
            repeat_penalty: self.repeat_penalty,
            repeat_last_n: self.repeat_last_n,
            frequency_penalty: self.frequency_penalty,
            presence_penalty: self.presence_penalty,
            ..SamplerConfig::default()
        };
        if let Some(s) = self.seed {
            c.seed = s;
        }
        c
    }
}

/// A path or a known model name to a file path.
pub fn resolve_model(name_or_path: &str) -> anyhow::Result<PathBuf> {
    let hub = chord_hub::Hub::from_env()?;
    Ok(hub.resolve(name_or_path)?)
}

pub fn load_engine(args: &ModelArgs) -> anyhow::Result<Engine> {
    let path = resolve_model(&args.model)?;
    let t0 = Instant::now();
    let opts = EngineOptions {
        n_threads: args.threads,
        kv_type: args.kv_type.into(),
    };
    let engine = match args.stream_budget {
        None => Engine::open(&path, &opts),
        Some(budget) => Engine::open_streamed(
            &path,
            chord_engine::StreamOptions {
                budget,
                prefetch: args.prefetch,
            },
            &opts,
        ),
    }
    .with_context(|| format!("loading {}", path.display()))?;
    let mut engine = engine;
    select_device(&mut engine, args.device)?;
    tracing::info!(
        "loaded {} in {:.0} ms on {}",
        path.display(),
        t0.elapsed().as_secs_f64() * 1e3,
        engine.backend.name()
    );
    Ok(engine)
}

/// Puts the engine on the device `--device` asks for (the CPU backend is the engine's default).
#[cfg(feature = "gpu")]
fn select_device(engine: &mut Engine, device: DeviceArg) -> anyhow::Result<()> {
    match device {
        DeviceArg::Cpu => {}
        DeviceArg::Gpu => {
            let gpu = chord_gpu::GpuBackend::new().context("--device gpu")?;
            engine.backend = Box::new(gpu);
        }
        DeviceArg::Auto => match chord_gpu::Gpu::new() {
            Ok(g) if g.adapter_info().device_type != chord_gpu::DeviceType::Cpu => {
                engine.backend = Box::new(chord_gpu::GpuBackend::with_gpu(g));
            }
            Ok(g) => tracing::info!(
                "--device auto: only a software GPU adapter ({}); using the CPU",
                g.adapter_name()
            ),
            Err(e) => tracing::info!("--device auto: no GPU ({e}); using the CPU"),
        },
    }
    Ok(())
}

#[cfg(not(feature = "gpu"))]
fn select_device(_engine: &mut Engine, device: DeviceArg) -> anyhow::Result<()> {
    anyhow::ensure!(
        device != DeviceArg::Gpu,
        "--device gpu: this chord was built without the `gpu` feature"
    );
    Ok(())
}

/// With layer streaming, what the cache did (to stderr, after a command's own stats).
pub fn report_stream(engine: &Engine) {
    if let Some(s) = engine.model.stream_stats() {
        eprintln!(
            "[stream: budget {} bytes, {} units; {} hits, {} misses ({:.1}% hits, {} prefetched), \
             {} bytes read, {} resident]",
            s.budget,
            s.units,
            s.hits,
            s.misses,
            100.0 * s.hit_rate(),
            s.prefetched,
            s.bytes_read,
            s.resident_bytes
        );
    }
}
