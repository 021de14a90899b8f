//! `chord bench` (a smoke run: the command and its JSON contract, not a timing) and the dispatch
//! trace (`CHORD_TRACE_DISPATCH=1`): every weight matrix of every real model runs on a quantized
//! kernel of its own type, none falls back to F32.

use serde_json::Value;
use std::collections::BTreeSet;
use std::process::Command;

fn chord(args: &[&str], env: &[(&str, &str)]) -> (String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_chord"))
        .args(args)
        .envs(env.iter().copied())
        .output()
        .expect("run chord");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "chord {args:?} failed: {err}");
    (String::from_utf8_lossy(&out.stdout).into_owned(), err)
}

#[test]
fn bench_json_has_the_contract_fields() {
    for kv in ["f16", "f32"] {
        let (out, _) = chord(
            &[
                "bench",
                "-m",
                "gemma3-270m",
                "-p",
                "8",
                "-n",
                "4",
                "-r",
                "2",
                "-t",
                "2",
                "--json",
                "--profile",
                "--kv-type",
                kv,
            ],
            &[],
        );
        let j: Value = serde_json::from_str(out.trim()).expect("one JSON object");
        for key in [
            "prompt_tokens_per_s",
            "decode_tokens_per_s",
            "ttft_ms",
            "itl_p50_ms",
            "itl_p99_ms",
            "load_ms",
            "peak_rss_bytes",
            "model_bytes_per_token",
            "decode_bandwidth_gb_per_s",
            "bandwidth_bound_gb_per_s",
            "bandwidth_share",
        ] {
            let v = j[key]
                .as_f64()
                .unwrap_or_else(|| panic!("{key} missing in {j}"));
            assert!(v.is_finite() && v > 0.0, "{key} = {v}");
        }
        assert!(j["itl_p99_ms"].as_f64() >= j["itl_p50_ms"].as_f64());
        assert_eq!(j["kv_type"], kv);
        assert_eq!(j["repetitions"], 2);
        // The LM head of Gemma (262k × 640 Q8_0) dominates the bytes per token.
        let bytes = j["model_bytes_per_token"].as_f64().unwrap_or(0.0);
        assert!(bytes > 200e6 && bytes < 300e6, "{bytes}");
        // The profile names the op kinds, with the output projection among them.
        let ops: Vec<&str> = j["profile"]
            .as_array()
            .expect("profile")
            .iter()
            .filter_map(|r| r["op"].as_str())
            .collect();
        for want in [
            "output projection Q8_0",
            "attention",
            "rms_norm",
            "rope",
            "matmul Q5_0",
        ] {
            assert!(ops.contains(&want), "{want} not in {ops:?}");
        }
    }
}

#[test]
fn bench_rejects_nonsense() {
    let out = Command::new(env!("CARGO_BIN_EXE_chord"))
        .args(["bench", "-m", "gemma3-270m", "-p", "0", "-n", "0"])
        .output()
        .expect("run chord");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing to measure"));
}

/// Every matrix product of a real model, as the dispatch trace reports it.
fn dispatch(model: &str) -> Vec<(String, String, String)> {
    let (_, err) = chord(
        &[
            "run",
            "-m",
            model,
            "-p",
            "Hello there",
            "-n",
            "2",
            "--temp",
            "0",
        ],
        &[("CHORD_TRACE_DISPATCH", "1")],
    );
    err.lines()
        .filter(|l| l.starts_with("chord_cpu dispatch: matmul"))
        .map(|l| {
            let field = |k: &str| {
                l.split_whitespace()
                    .find_map(|w| w.strip_prefix(k))
                    .unwrap_or_default()
                    .to_string()
            };
            (field("weight="), field("ty="), field("kernel="))
        })
        .collect()
}

#[test]
fn dispatch_trace_shows_only_quantized_kernels() {
    for (model, n_layer) in [
        ("gemma3-270m", 18),
        ("qwen2.5-coder-0.5b", 24),
        ("qwen2.5-coder-1.5b", 28),
    ] {
        let rows = dispatch(model);
        // 7 matrices per block + the LM head, for the prompt pass and the one decode step.
        assert!(
            rows.len() >= 2 * (7 * n_layer + 1),
            "{model}: {} lines",
            rows.len()
        );
        let weights: BTreeSet<&str> = rows.iter().map(|r| r.0.as_str()).collect();
        assert_eq!(weights.len(), 7 * n_layer + 1, "{model}: {weights:?}");
        for (w, ty, kernel) in &rows {
            assert!(!ty.starts_with('F'), "{model}: {w} is {ty}");
            assert!(
                !kernel.contains("f32_f32") && kernel.starts_with("vec_dot_"),
                "{model}: {w} on {kernel}"
            );
            // The kernel is the one for the weight's own type.
            let stem = ty.to_lowercase();
            assert!(
                kernel
                    .to_lowercase()
                    .starts_with(&format!("vec_dot_{stem}_")),
                "{model}: {w} ({ty}) on {kernel}"
            );
        }
    }
}
