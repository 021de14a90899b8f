//! The batching scheduler on a real model: batched output equals `Session` output token for
//! token, prefix reuse is visible and harmless, cancellation frees the slot, bad requests are
//! typed errors.

use chord_engine::{
    Engine, EngineError, EngineOptions, GenerateOptions, SamplerConfig, Scheduler, SchedulerConfig,
    SeqEvent, SeqHandle, SeqRequest, SeqSummary, StopReason,
};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn engine(name: &str) -> Arc<Engine> {
    let path = chord_testkit::model(name);
    Arc::new(Engine::open(&path, &EngineOptions::default()).expect("load model"))
}

fn request(engine: &Engine, prompt: &str, max_tokens: usize, sampler: SamplerConfig) -> SeqRequest {
    SeqRequest {
        prompt: engine.prompt_tokens(prompt).expect("tokenize"),
        max_tokens,
        sampler,
        stop: Vec::new(),
        ignore_eos: false,
        cache_key: "t".into(),
    }
}

/// Submits and returns the handle plus a receiver of the request's events.
fn submit(s: &Scheduler, req: SeqRequest) -> (SeqHandle, mpsc::Receiver<SeqEvent>) {
    let (tx, rx) = mpsc::channel();
    let h = s
        .submit(req, Box::new(move |ev| tx.send(ev).is_ok()))
        .expect("submit");
    (h, rx)
}

/// Collects text and the summary of a request (bounded wait).
fn collect(rx: &mpsc::Receiver<SeqEvent>) -> (String, Vec<u32>, SeqSummary) {
    let mut text = String::new();
    let mut ids = Vec::new();
    loop {
        match rx
            .recv_timeout(Duration::from_secs(120))
            .expect("event in time")
        {
            SeqEvent::Token { id, index, text: t } => {
                if index == ids.len() {
                    ids.push(id);
                }
                text.push_str(&t);
            }
            SeqEvent::Done(s) => return (text, ids, s),
            SeqEvent::Error(e) => panic!("request failed: {e}"),
        }
    }
}

/// What a `Session` reading the prompt in chunks of `n_batch` tokens generates (the scheduler's
/// `max_batch_tokens`: it reads prompts in the same chunks).
fn alone(
    engine: &Engine,
    prompt: &str,
    max_tokens: usize,
    sampler: SamplerConfig,
    n_batch: usize,
) -> (String, Vec<u32>) {
    let mut session = engine.session(256);
    let opts = GenerateOptions {
        max_tokens,
        sampler,
        n_batch,
        ..GenerateOptions::default()
    };
    let g = session.generate(prompt, &opts, |_| true).expect("generate");
    (String::from_utf8_lossy(&g.output).into_owned(), g.tokens)
}

#[test]
fn batched_requests_equal_session_output_on_gemma() {
    let eng = engine("gemma3-270m");
    let seeded = SamplerConfig {
        seed: 42,
        ..SamplerConfig::default()
    };
    let cases = [
        ("Once upon a time", 24, SamplerConfig::greedy()),
        ("The capital of France is", 16, SamplerConfig::greedy()),
        ("def fibonacci(n):", 20, seeded),
        ("A long, long prompt that needs several steps to read when the budget is small: one two three four five six seven eight nine ten", 12, SamplerConfig::greedy()),
    ];
    let expected: Vec<_> = cases
        .iter()
        .map(|(p, n, s)| alone(&eng, p, *n, *s, 8))
        .collect();
    // A small step budget: prompts are read in chunks while other sequences decode, and each
    // output equals the session's that reads its prompt in chunks of the same size.
    let sched = Scheduler::start(
        eng.clone(),
        SchedulerConfig {
            n_slots: 3,
            n_ctx: 256,
            max_batch_tokens: 8,
        },
    )
    .expect("start");
    let subs: Vec<_> = cases
        .iter()
        .map(|(p, n, s)| submit(&sched, request(&eng, p, *n, *s)))
        .collect();
    for ((_, rx), (want_text, want_ids)) in subs.iter().zip(&expected) {
        let (text, ids, sum) = collect(rx);
        assert_eq!(&ids, want_ids);
        assert_eq!(&text, want_text);
        assert_eq!(sum.completion_tokens, want_ids.len());
    }
    assert!(
        sched
            .stats()
            .steps
            .load(std::sync::atomic::Ordering::Relaxed)
            > 0
    );
    assert_eq!(
        sched
            .stats()
            .active
            .load(std::sync::atomic::Ordering::Relaxed),
        0
    );
    assert_eq!(
        sched
            .stats()
            .queued
            .load(std::sync::atomic::Ordering::Relaxed),
        0
    );
}

#[test]
fn prefix_reuse_is_per_key_and_keeps_output() {
    let eng = engine("qwen2.5-coder-0.5b");
    let sched = Scheduler::start(
        eng.clone(),
        SchedulerConfig {
            n_slots: 2,
            n_ctx: 256,
            max_batch_tokens: 64,
        },
    )
    .expect("start");
    let base = "You are a helpful assistant. Answer briefly.\nQuestion: what is a prime number?";
    let (_h, rx) = submit(&sched, request(&eng, base, 8, SamplerConfig::greedy()));
    let (_, _, first) = collect(&rx);
    assert_eq!(first.cached_tokens, 0);

    let longer = format!("{base}\nAnswer:");
    let (want_text, want_ids) = alone(&eng, &longer, 12, SamplerConfig::greedy(), 64);
    let (_h, rx) = submit(&sched, request(&eng, &longer, 12, SamplerConfig::greedy()));
    let (text, ids, sum) = collect(&rx);
    let base_len = eng.prompt_tokens(base).unwrap().len();
    assert!(
        sum.cached_tokens >= base_len - 1 && sum.cached_tokens < sum.prompt_tokens,
        "cached {} of {} (base prompt {base_len})",
        sum.cached_tokens,
        sum.prompt_tokens
    );
    assert_eq!(ids, want_ids);
    assert_eq!(text, want_text);

    // Another key never sees these tokens.
    let mut other = request(&eng, &longer, 4, SamplerConfig::greedy());
    other.cache_key = "someone else".into();
    let (_h, rx) = submit(&sched, other);
    assert_eq!(collect(&rx).2.cached_tokens, 0);
}

#[test]
fn cancel_frees_the_slot_and_queued_requests_run() {
    let eng = engine("gemma3-270m");
    let sched = Scheduler::start(
        eng.clone(),
        SchedulerConfig {
            n_slots: 1,
            n_ctx: 512,
            max_batch_tokens: 64,
        },
    )
    .expect("start");
    let mut long = request(&eng, "Tell me a story.", 400, SamplerConfig::greedy());
    long.ignore_eos = true;
    let (h, rx) = submit(&sched, long);
    // A second request waits for the only slot.
    let (_h2, rx2) = submit(&sched, request(&eng, "Hello", 4, SamplerConfig::greedy()));
    match rx
        .recv_timeout(Duration::from_secs(60))
        .expect("first token")
    {
        SeqEvent::Token { index: 0, .. } => {}
        other => panic!("expected the first token, got {other:?}"),
    }
    assert_eq!(
        sched
            .stats()
            .queued
            .load(std::sync::atomic::Ordering::Relaxed),
        1
    );
    drop(h);
    let t0 = Instant::now();
    let sum = loop {
        match rx
            .recv_timeout(Duration::from_secs(60))
            .expect("done after cancel")
        {
            SeqEvent::Done(s) => break s,
            SeqEvent::Token { .. } => {}
            SeqEvent::Error(e) => panic!("{e}"),
        }
    };
    assert_eq!(sum.stop_reason, StopReason::Cancelled);
    assert!(sum.completion_tokens < 400);
    assert!(t0.elapsed() < Duration::from_secs(30));
    let (_, ids, s2) = collect(&rx2);
    assert!(!ids.is_empty() && s2.completion_tokens <= 4);
    assert_eq!(
        sched
            .stats()
            .active
            .load(std::sync::atomic::Ordering::Relaxed),
        0
    );
}

#[test]
fn stop_strings_and_limits_match_session() {
    let eng = engine("gemma3-270m");
    let prompt = "List the numbers: 1, 2, 3,";
    let mut session = eng.session(256);
    let opts = GenerateOptions {
        max_tokens: 30,
        sampler: SamplerConfig::greedy(),
        stop: vec![" 6".into()],
        ..GenerateOptions::default()
    };
    let g = session.generate(prompt, &opts, |_| true).expect("generate");
    let sched = Scheduler::start(
        eng.clone(),
        SchedulerConfig {
            n_slots: 2,
            n_ctx: 256,
            max_batch_tokens: 32,
        },
    )
    .expect("start");
    let mut req = request(&eng, prompt, 30, SamplerConfig::greedy());
    req.stop = vec![" 6".into()];
    let (_h, rx) = submit(&sched, req);
    let (text, _, sum) = collect(&rx);
    assert_eq!(text.as_bytes(), &g.output[..]);
    assert_eq!(sum.stop_reason, g.stop_reason);
}

#[test]
fn bad_requests_are_typed_errors() {
    let eng = engine("gemma3-270m");
    assert!(matches!(
        Scheduler::start(
            eng.clone(),
            SchedulerConfig {
                n_slots: 0,
                ..SchedulerConfig::default()
            }
        ),
        Err(EngineError::BadSchedulerConfig(_))
    ));
    let sched = Scheduler::start(
        eng.clone(),
        SchedulerConfig {
            n_slots: 1,
            n_ctx: 16,
            max_batch_tokens: 16,
        },
    )
    .expect("start");
    let sink = || -> chord_engine::EventSink { Box::new(|_| true) };
    let mut req = request(&eng, "hi", 4, SamplerConfig::greedy());
    req.prompt = vec![];
    assert!(matches!(
        sched.submit(req.clone(), sink()),
        Err(EngineError::EmptyPrompt)
    ));
    req.prompt = vec![2; 17];
    assert!(matches!(
        sched.submit(req.clone(), sink()),
        Err(EngineError::PromptTooLong {
            prompt: 17,
            n_ctx: 16
        })
    ));
    req.prompt = vec![u32::MAX];
    assert!(matches!(
        sched.submit(req.clone(), sink()),
        Err(EngineError::Model(_))
    ));
    req.prompt = vec![2];
    req.sampler.temperature = f32::NAN;
    assert!(matches!(
        sched.submit(req, sink()),
        Err(EngineError::Sample(_))
    ));
}

#[test]
fn a_flood_from_one_key_does_not_starve_another() {
    let eng = engine("gemma3-270m");
    let sched = Scheduler::start(
        eng.clone(),
        SchedulerConfig {
            n_slots: 2,
            n_ctx: 128,
            max_batch_tokens: 32,
        },
    )
    .expect("start");
    let (tx, rx) = mpsc::channel::<(String, usize)>();
    let mut handles = Vec::new();
    let mut send = |key: &str, i: usize| {
        let mut req = request(&eng, "Count:", 6, SamplerConfig::greedy());
        req.cache_key = key.into();
        req.ignore_eos = true;
        let tx = tx.clone();
        let name = key.to_string();
        let h = sched
            .submit(
                req,
                Box::new(move |ev| {
                    if matches!(ev, SeqEvent::Done(_)) {
                        let _ = tx.send((name.clone(), i));
                    }
                    true
                }),
            )
            .expect("submit");
        handles.push(h);
    };
    // Six requests of "flood" queue up before the one of "quiet".
    for i in 0..6 {
        send("flood", i);
    }
    send("quiet", 0);
    let order: Vec<(String, usize)> = (0..7)
        .map(|_| {
            rx.recv_timeout(Duration::from_secs(120))
                .expect("done in time")
        })
        .collect();
    let quiet_at = order.iter().position(|(k, _)| k == "quiet").unwrap();
    // Both slots start with "flood"; "quiet" gets the first slot that frees up.
    assert!(
        quiet_at <= 3,
        "quiet finished {}th: {order:?}",
        quiet_at + 1
    );
}
