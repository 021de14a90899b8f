//! Token-at-a-time generation (`Session::start` + `Session::step`, what the wasm face drives
//! from JS's event loop) gives what the callback API gives, and ends the same ways.

use chord_engine::{Engine, EngineOptions, GenerateOptions, SamplerConfig, StopReason};

fn engine() -> Engine {
    Engine::open(
        chord_testkit::model("gemma3-270m"),
        &EngineOptions {
            n_threads: 0,
            ..EngineOptions::default()
        },
    )
    .expect("load gemma3-270m")
}

fn greedy(n: usize) -> GenerateOptions {
    GenerateOptions {
        max_tokens: n,
        sampler: SamplerConfig::greedy(),
        ..GenerateOptions::default()
    }
}

#[test]
fn stepping_equals_the_callback_api_and_ends_the_same_ways() {
    let e = engine();
    let prompt = e.tokenize("Once upon a time", true).unwrap();

    // Sampled (seeded), so the sampler state must carry across steps exactly.
    let opts = GenerateOptions {
        max_tokens: 10,
        sampler: SamplerConfig {
            seed: 42,
            ..SamplerConfig::default()
        },
        ..GenerateOptions::default()
    };
    let mut s = e.session(256);
    let mut seen = Vec::new();
    let want = s
        .generate_tokens(&prompt, &opts, |ev| {
            seen.push(ev.id);
            true
        })
        .unwrap();
    assert_eq!(seen, want.tokens);
    assert_eq!(want.tokens.len(), 10);

    let mut s = e.session(256);
    let mut g = s.start(&prompt, &opts).unwrap();
    let mut ids = Vec::new();
    let mut out = Vec::new();
    while let Some(ev) = s.step(&mut g).unwrap() {
        ids.push(ev.id);
        out.extend_from_slice(ev.output);
    }
    assert!(g.is_done());
    assert!(
        s.step(&mut g).unwrap().is_none(),
        "a finished generation stays finished"
    );
    let got = g.into_generation();
    assert_eq!(ids, want.tokens);
    assert_eq!(out, want.output);
    assert_eq!(got.stop_reason, StopReason::MaxTokens);
    // The last token is never fed: the cache holds the prompt and all tokens but the last.
    assert_eq!(s.tokens().len(), prompt.len() + 9);

    // Cancel after 3 tokens.
    let mut g = s.start(&prompt, &greedy(50)).unwrap();
    for _ in 0..3 {
        assert!(s.step(&mut g).unwrap().is_some());
    }
    assert!(g.cancel().is_none(), "no stop strings, nothing held back");
    assert!(g.cancel().is_none());
    assert!(s.step(&mut g).unwrap().is_none());
    let got = g.into_generation();
    assert_eq!(got.stop_reason, StopReason::Cancelled);
    assert_eq!(got.tokens.len(), 3);
    assert_eq!(
        got.cached_tokens,
        prompt.len() - 1,
        "the prompt prefix was reused"
    );

    // Zero tokens asked: ends at once.
    let mut g = s.start(&prompt, &greedy(0)).unwrap();
    assert!(s.step(&mut g).unwrap().is_none());
    assert_eq!(g.generation().stop_reason, StopReason::MaxTokens);
    assert!(g.generation().tokens.is_empty());
}

#[test]
fn held_back_bytes_come_as_a_last_event_when_cancelled() {
    let e = engine();
    let prompt = e.tokenize("Once upon a time", true).unwrap();
    let mut s = e.session(256);
    // Greedy output starts ", there was a little girl named Lily.": a stop string that begins
    // with the first token's text but never completes holds that text back.
    let opts = GenerateOptions {
        stop: vec![", there was a little dog".into()],
        ..greedy(8)
    };
    let mut g = s.start(&prompt, &opts).unwrap();
    let first = s.step(&mut g).unwrap().expect("a token");
    assert_eq!(first.piece, b",");
    assert!(first.output.is_empty(), "',' could begin the stop string");
    let flush = g.cancel().expect("the held-back ','");
    assert_eq!(flush.output, b",");
    assert!(flush.piece.is_empty());
    let got = g.into_generation();
    assert_eq!(got.output, b",");
    assert_eq!(got.stop_reason, StopReason::Cancelled);

    // Through the callback API: cancelling at the first token gives the same.
    let mut events = Vec::new();
    let got2 = s
        .generate_tokens(&prompt, &opts, |ev| {
            events.push(ev.output.to_vec());
            false
        })
        .unwrap();
    assert_eq!(events, vec![b"".to_vec(), b",".to_vec()]);
    assert_eq!(got2.stop_reason, StopReason::Cancelled);
}
