//! Fidelity against llama.cpp: for every reference prompt of every model (the three real models
//! and the tiny llama in every quant type), the next-token logits after the prompt and a 32-step
//! greedy continuation must match llama.cpp's (tests/data/reference, made with an F32 KV cache
//! and flash attention off). Prompt ids come from the reference, so this tests the forward pass
//! alone; tokenization has its own tests.

use chord_cpu::CpuBackend;
use chord_model::{Logits, Model, Scratch};
use serde_json::Value;
use std::path::PathBuf;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn models_dir() -> PathBuf {
    match std::env::var_os("CHORD_HOME") {
        Some(h) => PathBuf::from(h).join("models"),
        None => PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
            .join(".cache/wasm-chord/models"),
    }
}

fn fixtures_dir() -> PathBuf {
    std::env::var_os("CHORD_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("../shared/fixtures"))
}

fn load_json(rel: &str) -> Value {
    let p = repo().join("tests/data/reference").join(rel);
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&text).expect("reference JSON parses")
}

fn open(path: PathBuf, pull_name: &str) -> Model {
    assert!(
        path.exists(),
        "{} is missing: run `chord pull {pull_name}` (or scripts/setup.sh)",
        path.display()
    );
    Model::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn ids(v: &Value) -> Vec<u32> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_u64().expect("id") as u32)
        .collect()
}

fn pairs(v: &Value) -> Vec<(u32, f32)> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|p| {
            (
                p[0].as_u64().expect("id") as u32,
                p[1].as_f64().expect("logit") as f32,
            )
        })
        .collect()
}

fn argmax(x: &[f32]) -> u32 {
    let mut best = 0;
    for (i, &v) in x.iter().enumerate() {
        if v > x[best] {
            best = i;
        }
    }
    best as u32
}

/// Compares our logits with reference (id, logit) pairs; returns the largest error relative
/// to the largest |logit| of the reference row.
fn check_logits(ours: &[f32], reference: &[(u32, f32)], what: &str, tol: f32) -> f32 {
    let scale = reference
        .iter()
        .map(|p| p.1.abs())
        .fold(0.0, f32::max)
        .max(1e-6);
    let mut worst = 0f32;
    for &(id, want) in reference {
        let got = ours[id as usize];
        let err = (got - want).abs() / scale;
        worst = worst.max(err);
        assert!(err <= tol, "{what}: logit of token {id} is {got}, llama.cpp {want} (rel err {err:.2e} > {tol:.0e})");
    }
    worst
}

/// The ids of our k largest logits.
fn top_k(x: &[f32], k: usize) -> Vec<u32> {
    let mut idx: Vec<u32> = (0..x.len() as u32).collect();
    idx.sort_by(|&a, &b| x[b as usize].total_cmp(&x[a as usize]).then(a.cmp(&b)));
    idx.truncate(k);
    idx
}

struct Report {
    worst: f32,
    near_ties: Vec<String>,
}

fn run_model(model: &Model, reference: &Value, tol: f32, threads: usize) -> Report {
    let backend = CpuBackend::new(threads);
    let mut scratch = Scratch::default();
    let mut report = Report {
        worst: 0.0,
        near_ties: Vec::new(),
    };
    let prompts = reference["prompts"].as_object().expect("prompts");
    for (name, p) in prompts {
        let prompt = ids(&p["prompt_ids"]);
        let greedy = p["greedy"].as_array().expect("greedy");
        let mut cache = model.new_cache(prompt.len() + greedy.len() + 1);
        let logits = model
            .forward(&backend, &mut cache, &prompt, Logits::Last, &mut scratch)
            .expect("forward");
        let next = pairs(&p["next_topk"]);
        let what = format!("{} / {name} / next", reference["model"]);
        report.worst = report.worst.max(check_logits(logits, &next, &what, tol));
        // Top-10 as a set; a swap across the 10th place is only allowed at a near-equal logit.
        let ours = top_k(logits, next.len());
        for (id, l) in &next {
            if !ours.contains(id) {
                let tenth = logits[*ours.last().expect("k > 0") as usize];
                assert!(
                    (tenth - l).abs() <= tol * l.abs().max(1.0),
                    "{what}: llama.cpp's top-10 id {id} is not in ours {ours:?}"
                );
            }
        }
        assert_eq!(argmax(logits), next[0].0, "{what}: argmax differs");

        let mut logits = logits.to_vec();
        for (step, g) in greedy.iter().enumerate() {
            let want = g["id"].as_u64().expect("id") as u32;
            let top5 = pairs(&g["top5"]);
            let what = format!("{} / {name} / greedy step {step}", reference["model"]);
            let got = argmax(&logits);
            if got != want {
                let near_tie = top5.len() > 1 && (top5[0].1 - top5[1].1).abs() < 1e-3;
                assert!(
                    near_tie,
                    "{what}: we chose {got}, llama.cpp {want} (top5 {top5:?})"
                );
                report.near_ties.push(what);
                break;
            }
            report.worst = report.worst.max(check_logits(&logits, &top5, &what, tol));
            if step + 1 == greedy.len() {
                break;
            }
            logits = model
                .forward(&backend, &mut cache, &[got], Logits::Last, &mut scratch)
                .expect("decode")
                .to_vec();
        }
    }
    report
}

fn real_model(file: &str, pull: &str) {
    let reference = load_json(&format!("{file}.json"));
    let model = open(models_dir().join(format!("{file}.gguf")), pull);
    let r = run_model(&model, &reference, 1e-2, 0);
    eprintln!(
        "{file}: worst relative logit error {:.2e}; near-ties {:?}",
        r.worst, r.near_ties
    );
}

#[test]
fn gemma3_270m_matches_llama_cpp() {
    real_model("gemma-3-270m-q4_k_m", "gemma3-270m");
}

#[test]
fn qwen25_coder_05b_matches_llama_cpp() {
    real_model("qwen2.5-coder-0.5b-instruct-q4_k_m", "qwen2.5-coder-0.5b");
}

#[test]
fn qwen25_coder_15b_matches_llama_cpp() {
    real_model("qwen2.5-coder-1.5b-instruct-q4_k_m", "qwen2.5-coder-1.5b");
}

#[test]
fn tiny_llama_every_quant_type_matches_llama_cpp() {
    let types = [
        "f32", "f16", "bf16", "q4_0", "q4_1", "q5_0", "q5_1", "q8_0", "q2_k", "q3_k", "q4_k",
        "q5_k", "q6_k", "iq4_nl", "iq4_xs",
    ];
    let mut failures = Vec::new();
    for ty in types {
        let file = format!("tiny-llama-{ty}");
        let reference = load_json(&format!("tiny/{file}.json"));
        let path = fixtures_dir().join(format!("{file}.gguf"));
        assert!(
            path.exists(),
            "{} missing: set CHORD_FIXTURES or place ../shared/fixtures",
            path.display()
        );
        let model = Model::open(&path).unwrap_or_else(|e| panic!("{file}: {e}"));
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            run_model(&model, &reference, 1e-2, 1)
        })) {
            Ok(r) => eprintln!(
                "{file}: worst relative logit error {:.2e}; near-ties {:?}",
                r.worst, r.near_ties
            ),
            Err(_) => failures.push(file),
        }
    }
    assert!(
        failures.is_empty(),
        "fixtures not matching llama.cpp: {failures:?}"
    );
}
