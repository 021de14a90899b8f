//! Layer streaming on the real models: with a quarter of the file as the budget, greedy output
//! equals the memory-mapped model's token for token, the cache re-reads (misses, more bytes read
//! than the file holds) and stays within its budget; a budget below one layer is a typed error.

use chord_engine::{
    Engine, EngineError, EngineOptions, GenerateOptions, SamplerConfig, StreamOptions,
};
use chord_model::ModelError;

fn greedy(n: usize) -> GenerateOptions {
    GenerateOptions {
        max_tokens: n,
        sampler: SamplerConfig::greedy(),
        ..GenerateOptions::default()
    }
}

fn tokens(e: &Engine, prompt: &str) -> Vec<u32> {
    let p = e.tokenize(prompt, true).expect("tokenize");
    let mut s = e.session(512);
    s.generate_tokens(&p, &greedy(32), |_| true)
        .expect("generate")
        .tokens
}

fn streamed_equals_full(name: &str, prompt: &str, prefetch: usize) {
    let path = chord_testkit::model(name);
    let opts = EngineOptions::default();
    let full = Engine::open(&path, &opts).expect("load");
    let want = tokens(&full, prompt);
    assert_eq!(want.len(), 32);
    drop(full);

    let size = std::fs::metadata(&path).expect("stat").len();
    let budget = size / 4;
    let e = Engine::open_streamed(&path, StreamOptions { budget, prefetch }, &opts)
        .expect("load streamed");
    let got = tokens(&e, prompt);
    let s = e.model.stream_stats().expect("streamed");
    eprintln!(
        "{name} budget {budget} of {size}, prefetch {prefetch}: {s:?}, hit rate {:.3}",
        s.hit_rate()
    );
    assert_eq!(got, want, "{name}: streamed tokens differ");
    assert!(s.misses > 0, "{s:?}");
    assert!(s.bytes_read > size, "re-reads expected: {s:?}");
    assert!(s.resident_bytes <= budget, "{s:?}");
    assert!(
        s.units > e.model.config.n_layer as u64,
        "LM head chunks: {s:?}"
    );
    if prefetch > 0 {
        assert!(s.prefetched > 0 && s.hit_rate() > 0.5, "{s:?}");
    } else {
        assert_eq!(s.prefetched, 0);
    }
}

#[test]
fn gemma_streamed_with_a_quarter_budget_equals_the_full_model() {
    streamed_equals_full("gemma3-270m", "The capital of France is", 1);
}

#[test]
fn gemma_streamed_without_prefetch_equals_the_full_model() {
    streamed_equals_full("gemma3-270m", "def fibonacci(n):", 0);
}

#[test]
fn qwen_streamed_with_a_quarter_budget_equals_the_full_model() {
    streamed_equals_full("qwen2.5-coder-0.5b", "def quicksort(arr):", 2);
}

#[test]
fn a_budget_below_the_largest_layer_is_a_typed_error() {
    let path = chord_testkit::model("gemma3-270m");
    let err = Engine::open_streamed(
        &path,
        StreamOptions {
            budget: 1 << 20,
            prefetch: 1,
        },
        &EngineOptions::default(),
    )
    .err()
    .expect("1 MiB cannot hold a Gemma layer");
    match &err {
        EngineError::Model(ModelError::StreamBudget {
            unit,
            bytes,
            budget,
        }) => {
            assert_eq!(*budget, 1 << 20);
            assert!(*bytes > *budget);
            assert!(unit.starts_with("layer "), "{unit}");
        }
        other => panic!("wrong error: {other}"),
    }
    assert!(err.to_string().contains("stream budget"), "{err}");
}
