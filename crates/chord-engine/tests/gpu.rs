//! The engine on the GPU backend (lavapipe: `scripts/setup.d/gpu.sh`; the tests FAIL without an
//! adapter): sessions and the scheduler make their KV caches through the engine's backend, so
//! they live in device memory and every forward pass is chord-gpu's one-submission step. The
//! tokens equal the scalar CPU engine's (the operation order the GPU kernels follow), and the
//! GPU's queue submissions equal the forward passes: the per-op path would submit several per
//! layer, so these tests fail if the device step is not taken.

use chord_cpu::CpuBackend;
use chord_engine::{
    Engine, EngineOptions, GenerateOptions, SamplerConfig, Scheduler, SchedulerConfig, SeqEvent,
    SeqRequest,
};
use chord_gpu::GpuBackend;
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

fn gemma() -> Engine {
    Engine::open(
        chord_testkit::model("gemma3-270m"),
        &EngineOptions::default(),
    )
    .expect("load gemma3-270m")
}

/// The engine on the CPU with the scalar kernels.
fn on_scalar_cpu(mut e: Engine) -> Engine {
    e.backend = Box::new(
        CpuBackend::with_isa(1, chord_quant::Isa::Scalar).expect("scalar is always there"),
    );
    e
}

/// The engine on a GPU backend of its own, and a handle on it to count submissions.
fn on_gpu(mut e: Engine) -> (Engine, Arc<GpuBackend>) {
    let gpu = Arc::new(GpuBackend::new().unwrap_or_else(|e| {
        panic!("a GPU adapter is required (run scripts/setup.d/gpu.sh for lavapipe): {e}")
    }));
    e.backend = Box::new(gpu.clone());
    (e, gpu)
}

fn greedy(n: usize) -> GenerateOptions {
    GenerateOptions {
        max_tokens: n,
        sampler: SamplerConfig::greedy(),
        ignore_eos: true,
        ..GenerateOptions::default()
    }
}

#[test]
fn a_session_on_the_gpu_runs_one_submission_per_step_and_matches_the_cpu() {
    let cpu = on_scalar_cpu(gemma());
    let (gpu_engine, gpu) = on_gpu(gemma());
    let first = cpu
        .tokenize(
            "The capital of France is Paris. The capital of Italy is",
            true,
        )
        .unwrap();
    const N: usize = 12;

    let mut want = cpu.session(128).unwrap();
    let want1 = want.generate_tokens(&first, &greedy(N), |_| true).unwrap();

    let mut s = gpu_engine.session(128).unwrap();
    let before = gpu.submissions();
    let got1 = s.generate_tokens(&first, &greedy(N), |_| true).unwrap();
    assert_eq!(
        got1.tokens, want1.tokens,
        "GPU tokens differ from the scalar CPU's"
    );
    // The prompt in one step, then one step per token but the last (never fed back).
    assert_eq!(
        gpu.submissions() - before,
        N,
        "not one submission per forward step: the per-op path ran"
    );

    // The conversation goes on: the session keeps the cached prefix and cuts the device cache
    // back to it (a rewind is only a length: the device writes a step's rows at the length).
    let mut second = first.clone();
    second.extend_from_slice(&got1.tokens[..N / 2]);
    second.extend(cpu.tokenize(" and the capital of Spain is", false).unwrap());
    let want2 = want.generate_tokens(&second, &greedy(N), |_| true).unwrap();
    let before = gpu.submissions();
    let got2 = s.generate_tokens(&second, &greedy(N), |_| true).unwrap();
    assert_eq!(got2.cached_tokens, want2.cached_tokens);
    assert!(
        got2.cached_tokens > first.len(),
        "the prefix was not reused"
    );
    assert_eq!(
        got2.tokens, want2.tokens,
        "after a rewind on the device cache"
    );
    assert_eq!(gpu.submissions() - before, N);
}

fn request(engine: &Engine, prompt: &str, max_tokens: usize) -> SeqRequest {
    SeqRequest {
        prompt: engine.prompt_tokens(prompt).expect("tokenize"),
        max_tokens,
        sampler: SamplerConfig::greedy(),
        stop: Vec::new(),
        ignore_eos: true,
        cache_key: "t".into(),
    }
}

/// Token ids of every request, run through a scheduler of two slots, in order of submission
/// (the third request waits for a slot and reuses the first's cached prefix).
fn schedule(engine: Arc<Engine>, prompts: &[&str]) -> (Vec<Vec<u32>>, u64, Vec<usize>) {
    let sched = Scheduler::start(
        engine.clone(),
        SchedulerConfig {
            n_slots: 2,
            n_ctx: 160,
            max_batch_tokens: 64,
        },
    )
    .expect("start");
    let mut out = Vec::new();
    let mut cached = Vec::new();
    let rxs: Vec<_> = prompts
        .iter()
        .map(|p| {
            let (tx, rx) = mpsc::channel();
            let h = sched
                .submit(
                    request(&engine, p, 10),
                    Box::new(move |ev| tx.send(ev).is_ok()),
                )
                .expect("submit");
            (h, rx)
        })
        .collect();
    for (_h, rx) in &rxs {
        let mut ids = Vec::new();
        loop {
            match rx.recv_timeout(Duration::from_secs(300)).expect("event") {
                SeqEvent::Token { id, index, .. } => {
                    if index == ids.len() {
                        ids.push(id);
                    }
                }
                SeqEvent::Done(sum) => {
                    cached.push(sum.cached_tokens);
                    break;
                }
                SeqEvent::Error(e) => panic!("request failed: {e}"),
            }
        }
        out.push(ids);
    }
    let steps = sched
        .stats()
        .steps
        .load(std::sync::atomic::Ordering::Relaxed);
    (out, steps, cached)
}

#[test]
fn the_scheduler_on_the_gpu_batches_device_caches_in_one_submission_per_step() {
    let shared =
        "You are a helpful assistant. Answer in one short sentence, and be precise. Question:";
    let prompts = [
        format!("{shared} what is the capital of France?"),
        "def fibonacci(n):".to_string(),
        format!("{shared} what is the capital of Italy?"),
    ];
    let prompts: Vec<&str> = prompts.iter().map(String::as_str).collect();
    let (want, _, want_cached) = schedule(Arc::new(on_scalar_cpu(gemma())), &prompts);
    let (engine, gpu) = on_gpu(gemma());
    let before = gpu.submissions();
    let (got, steps, cached) = schedule(Arc::new(engine), &prompts);
    assert_eq!(
        got, want,
        "GPU scheduler tokens differ from the scalar CPU's"
    );
    assert_eq!(cached, want_cached);
    assert!(
        cached[2] >= 16,
        "the third request did not reuse the first's prefix: {cached:?}"
    );
    assert_eq!(
        (gpu.submissions() - before) as u64,
        steps,
        "not one submission per scheduler step: the per-op path ran"
    );
}
