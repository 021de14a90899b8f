//! A long generation must not grow memory per token beyond the KV cache it fills: weights are
//! memory-mapped (page cache, not copied), scratch buffers reach their size on the first tokens.

use chord_engine::{Engine, EngineOptions, GenerateOptions, SamplerConfig};

/// Resident set size minus file-backed pages (the mapped weights count as shared, not as ours).
fn anon_rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("RssAnon:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .expect("RssAnon line")
        * 1024
}

#[test]
fn thousand_tokens_on_qwen_05b_with_flat_memory() {
    let path = chord_testkit::model("qwen2.5-coder-0.5b");
    let engine = Engine::open(&path, &EngineOptions::default()).expect("load");
    let n_ctx = 1100;
    let mut session = engine.session(n_ctx);
    let opts = GenerateOptions {
        max_tokens: 1000,
        sampler: SamplerConfig {
            seed: 7,
            ..SamplerConfig::default()
        },
        ignore_eos: true,
        ..GenerateOptions::default()
    };
    let mut samples = Vec::new();
    let gen = session
        .generate(
            "Write a long story about a lighthouse keeper.",
            &opts,
            |ev| {
                if ev.index % 100 == 0 {
                    samples.push((ev.index, anon_rss_bytes()));
                }
                true
            },
        )
        .expect("generate");
    assert_eq!(
        gen.tokens.len(),
        1000,
        "stopped early: {:?}",
        gen.stop_reason
    );
    let (_, at_100) = samples
        .iter()
        .copied()
        .find(|s| s.0 == 100)
        .expect("sample at 100");
    let (_, last) = *samples.last().expect("samples");
    // The KV cache is allocated zeroed up front and its pages become resident as positions are
    // written: 2 (K, V) × layers × kv_dim × 4 bytes per token. Anything beyond that plus a small
    // allowance would be a per-token leak.
    let c = &engine.model.config;
    let kv_per_token = (2 * c.n_layer * c.kv_dim() * 4) as u64;
    let allowed = kv_per_token * 900 + 8 * 1024 * 1024;
    let grew = last.saturating_sub(at_100);
    eprintln!("RSS samples (token, anon bytes): {samples:?}; grew {grew} B, allowed {allowed} B");
    assert!(
        grew <= allowed,
        "anonymous RSS grew {grew} bytes over 900 tokens (allowed {allowed})"
    );
}
