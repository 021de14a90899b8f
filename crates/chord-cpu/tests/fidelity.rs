//! Fidelity against llama.cpp: for every reference prompt of every model (the three real models
//! and the tiny llama in every quant type), the next-token logits after the prompt and a 32-step
//! greedy continuation must match llama.cpp's (tests/data/reference, made with an F32 KV cache
//! and flash attention off). Prompt ids come from the reference, so this tests the forward pass
//! alone; tokenization has its own tests.
//!
//! Bit-exactness. llama.cpp quantizes every activation row to 8 bits before each matrix
//! product, so one different last bit upstream (a summation order, a libm result) can flip a
//! quant and move the logits by ~1e-3 per layer, 1-3% after 18-28 layers. So the x86 backend
//! reproduces, operation for operation, what the reference build (ggml-cpu, AVX-512 VNNI, GCC,
//! glibc) computes: its kernels' reduction orders (per-ubatch gemm/gemv/tiled choices included),
//! its attention arithmetic over an F32 cache, glibc's sinf/cosf/tanhf, and GCC's fused
//! multiply-adds. With the AVX-512 flavour (the reference's build), or its emulation with AVX2
//! instructions (`avx512emu`, the default on x86 CPUs without AVX-512), the three real models
//! then give llama.cpp's logits to the precision the reference files print, and every greedy
//! step. Other flavours (AVX2, scalar, NEON, wasm) follow a different build's order (the AVX2 one
//! follows llama.cpp's AVX2 build), so against this AVX-512 reference they land where any
//! non-bit-identical implementation lands: measured on an AVX2-only EPYC (2026-12-07), worst
//! 4.0e-2 (Gemma, AVX2), 5.7e-2 (Gemma, scalar), 4.5e-2 (Qwen 1.5B, AVX2), 95-99% of greedy
//! steps equal, the rest at near-ties.
//! - EXACT_TOL: the AVX-512-order flavours (`Isa::is_avx512_order`) on the real models and on
//!   the fixture types whose llama.cpp path is reproduced (EXACT_TINY); no greedy step may
//!   differ. The real-model tests run the default flavour, so on any x86 CPU with AVX2 they
//!   demand exactness.
//! - ISSUE_TOL: the issue's 1e-2 bar, for the fixture types outside EXACT_TINY on the
//!   AVX-512-order flavours (measured 4.8e-3 IQ4_XS, 3.6e-4 F16, 1.8e-3 BF16).
//! - REAL_TOL / TINY_TOL: logit error relative to the largest |logit| of the reference row for
//!   the other flavours (real models: the measurements above with headroom; it still catches any
//!   structural error — a wrong RoPE, norm, bias or mask moves logits by tens of percent) and
//!   fixture types (the tiny fixtures meet 2e-2 on every flavour).
//! - NEAR_TIE: for those, a greedy step may differ from llama.cpp only where llama.cpp's own
//!   top-2 logits are within this fraction of the largest logit, or within the flavour's logit
//!   tolerance if that is larger (logits off by up to the tolerance can swap two that close).
//!   The continuation is teacher-forced with llama.cpp's tokens, so such a step is accepted at
//!   that step only.
//! - MIN_MATCHED: the share of all greedy steps whose argmax equals llama.cpp's.

const EXACT_TOL: f32 = 1e-6;
const REAL_TOL: f32 = 8e-2;
const TINY_TOL: f32 = 2e-2;
const ISSUE_TOL: f32 = 1e-2;
const NEAR_TIE: f32 = 2e-2;
const MIN_MATCHED: f32 = 0.9;
/// Fixture types whose llama.cpp x86 path the AVX-512 flavour reproduces exactly: all but
/// IQ4_XS (its tiled matmul for 8+ rows is not mirrored) and F16/BF16 (llama.cpp's F16 GEMMs);
/// those meet TINY_TOL.
const EXACT_TINY: [&str; 12] = [
    "f32", "q4_0", "q4_1", "q5_0", "q5_1", "q8_0", "q2_k", "q3_k", "q4_k", "q5_k", "q6_k", "iq4_nl",
];

use chord_cpu::CpuBackend;
use chord_model::sampler::argmax;
use chord_model::{KvType, Logits, Model, Scratch};
use chord_quant::Isa;
use chord_testkit::{fixture, model as model_path, reference as load_json};
use serde_json::Value;
use std::path::PathBuf;

fn open(path: PathBuf) -> Model {
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

/// Compares our logits with reference (id, logit) pairs: the largest error relative to the
/// largest |logit| of the reference row, and the worst offender.
fn logit_error(ours: &[f32], reference: &[(u32, f32)]) -> (f32, String) {
    let scale = reference
        .iter()
        .map(|p| p.1.abs())
        .fold(0.0, f32::max)
        .max(1e-6);
    let mut worst = (0f32, String::new());
    for &(id, want) in reference {
        let got = ours[id as usize];
        let err = (got - want).abs() / scale;
        if err >= worst.0 {
            worst = (
                err,
                format!("logit of token {id} is {got}, llama.cpp {want}"),
            );
        }
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

#[derive(Default)]
struct Report {
    worst: f32,
    near_ties: Vec<String>,
    failures: Vec<String>,
    /// Greedy steps whose argmax equals llama.cpp's, and steps in the reference.
    matched: usize,
    steps: usize,
}

impl Report {
    fn logits(&mut self, what: &str, ours: &[f32], reference: &[(u32, f32)], tol: f32) {
        let (err, detail) = logit_error(ours, reference);
        self.worst = self.worst.max(err);
        if err > tol {
            self.failures
                .push(format!("{what}: {detail} (rel err {err:.2e} > {tol:.0e})"));
        }
    }
}

/// Runs every prompt of a reference file; collects every mismatch instead of stopping at the
/// first, so one run shows the whole picture.
fn run_model(model: &Model, reference: &Value, tol: f32, backend: &CpuBackend) -> Report {
    let mut scratch = Scratch::default();
    let mut report = Report::default();
    let prompts = reference["prompts"].as_object().expect("prompts");
    for (name, p) in prompts {
        let prompt = ids(&p["prompt_ids"]);
        let greedy = p["greedy"].as_array().expect("greedy");
        let mut cache = model.new_cache_with(prompt.len() + greedy.len() + 1, KvType::F32);
        let logits = model
            .forward(backend, &mut cache, &prompt, Logits::Last, &mut scratch)
            .expect("forward");
        let next = pairs(&p["next_topk"]);
        let what = format!("{} / {name} / next", reference["model"]);
        report.logits(&what, logits, &next, tol);
        // Top-10 as a set; a swap across the 10th place is only allowed at a near-equal logit.
        let ours = top_k(logits, next.len());
        for (id, l) in &next {
            if !ours.contains(id) {
                let tenth = logits[*ours.last().expect("k > 0") as usize];
                if (tenth - l).abs() > tol * l.abs().max(1.0) {
                    report.failures.push(format!(
                        "{what}: llama.cpp's top-10 id {id} is not in ours {ours:?}"
                    ));
                }
            }
        }
        // The argmax after the prompt is greedy step 0 below (with the near-tie rule).
        let mut logits = logits.to_vec();
        for (step, g) in greedy.iter().enumerate() {
            let want = g["id"].as_u64().expect("id") as u32;
            let top5 = pairs(&g["top5"]);
            let what = format!("{} / {name} / greedy step {step}", reference["model"]);
            let got = argmax(&logits).expect("finite logits") as u32;
            report.steps += 1;
            if got != want {
                let scale = top5[0].1.abs().max(1e-6);
                if top5.len() > 1 && (top5[0].1 - top5[1].1).abs() < NEAR_TIE.max(tol) * scale {
                    report.near_ties.push(what.clone());
                } else {
                    report.failures.push(format!(
                        "{what}: we chose {got}, llama.cpp {want} (top5 {top5:?})"
                    ));
                }
            } else {
                report.matched += 1;
            }
            report.logits(&what, &logits, &top5, tol);
            if step + 1 == greedy.len() {
                break;
            }
            // Teacher forcing: continue with llama.cpp's token, so a near-tie step is accepted
            // at that step only and every later step is still compared.
            logits = model
                .forward(backend, &mut cache, &[want], Logits::Last, &mut scratch)
                .expect("decode")
                .to_vec();
        }
    }
    report
}

fn real_model(file: &str, pull: &str) {
    let reference = load_json(&format!("{file}.json"));
    let model = open(model_path(pull));
    let backend = CpuBackend::new(0);
    let exact = backend.isa().is_avx512_order();
    let tol = if exact { EXACT_TOL } else { REAL_TOL };
    let r = run_model(&model, &reference, tol, &backend);
    eprintln!(
        "{file} ({}): worst relative logit error {:.2e}; near-ties {:?}",
        backend.isa().name(),
        r.worst,
        r.near_ties
    );
    let share = r.matched as f32 / r.steps.max(1) as f32;
    eprintln!(
        "{file}: {} of {} greedy steps give llama.cpp's argmax ({share:.2})",
        r.matched, r.steps
    );
    assert!(
        r.failures.is_empty(),
        "{file} differs from llama.cpp:\n{}",
        r.failures.join("\n")
    );
    assert!(
        share >= MIN_MATCHED,
        "{file}: only {} of {} greedy steps match llama.cpp",
        r.matched,
        r.steps
    );
    if exact {
        assert_eq!(
            r.matched, r.steps,
            "{file}: the AVX-512 flavour must give every greedy step (near-ties {:?})",
            r.near_ties
        );
    }
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
        let model = open(fixture(&format!("{file}.gguf")));
        // Every kernel flavour this CPU has (the tiny models are cheap enough for all of them;
        // the real models run with the selected one).
        for isa in Isa::ALL.into_iter().filter(|i| i.is_available()) {
            let backend = CpuBackend::with_isa(1, isa).expect("available");
            // On the AVX-512-order flavours, the types whose reference path is not reproduced
            // still meet the issue's bar.
            let tol = match (isa.is_avx512_order(), EXACT_TINY.contains(&ty)) {
                (true, true) => EXACT_TOL,
                (true, false) => ISSUE_TOL,
                (false, _) => TINY_TOL,
            };
            let mut r = run_model(&model, &reference, tol, &backend);
            // On the AVX-512-order flavours every greedy step is llama.cpp's, on every type
            // (measured: no near-tie needed).
            if isa.is_avx512_order() && r.matched != r.steps {
                r.failures.push(format!(
                    "{file}: {} of {} greedy steps (near-ties {:?})",
                    r.matched, r.steps, r.near_ties
                ));
            }
            eprintln!(
                "{file} ({}): worst relative logit error {:.2e}; near-ties {:?}",
                isa.name(),
                r.worst,
                r.near_ties
            );
            failures.extend(
                r.failures
                    .into_iter()
                    .map(|f| format!("[{}] {f}", isa.name())),
            );
        }
    }
    assert!(
        failures.is_empty(),
        "fixtures differ from llama.cpp:\n{}",
        failures.join("\n")
    );
}

/// With the default F16 KV cache (llama.cpp's default too; the references were made with F32),
/// every reference prompt of the real models still gives llama.cpp's top-1 next token and nearly
/// the same top-10 set.
#[test]
fn f16_kv_cache_keeps_top1_and_top10() {
    let backend = CpuBackend::new(0);
    let mut scratch = Scratch::default();
    let mut failures = Vec::new();
    let mut checked = 0;
    for (file, pull) in [
        ("gemma-3-270m-q4_k_m", "gemma3-270m"),
        ("qwen2.5-coder-0.5b-instruct-q4_k_m", "qwen2.5-coder-0.5b"),
        ("qwen2.5-coder-1.5b-instruct-q4_k_m", "qwen2.5-coder-1.5b"),
    ] {
        let reference = load_json(&format!("{file}.json"));
        let model = open(model_path(pull));
        for (name, p) in reference["prompts"].as_object().expect("prompts") {
            let prompt = ids(&p["prompt_ids"]);
            let mut cache = model.new_cache_with(prompt.len(), KvType::F16);
            assert_eq!(cache.kv_type(), KvType::F16);
            let logits = model
                .forward(&backend, &mut cache, &prompt, Logits::Last, &mut scratch)
                .expect("forward");
            let next = pairs(&p["next_topk"]);
            let ours = top_k(logits, next.len());
            let shared = next.iter().filter(|(id, _)| ours.contains(id)).count();
            let tie = next.len() > 1 && (next[0].1 - next[1].1).abs() < NEAR_TIE * next[0].1.abs();
            if ours[0] != next[0].0 && !tie {
                failures.push(format!(
                    "{file}/{name}: top-1 {} vs llama.cpp {}",
                    ours[0], next[0].0
                ));
            }
            if shared < next.len() * 8 / 10 {
                failures.push(format!(
                    "{file}/{name}: only {shared} of the top-{} shared",
                    next.len()
                ));
            }
            checked += 1;
        }
    }
    assert!(checked >= 3, "no prompts checked");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
