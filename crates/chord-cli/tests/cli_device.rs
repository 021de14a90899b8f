//! `--device`: `chord run --device gpu` (lavapipe after scripts/setup.d/gpu.sh) prints the CPU's
//! greedy text, the dispatch trace shows every product on a quantized WGSL kernel, and a missing
//! adapter is a clear error, not a panic.
#![cfg(feature = "gpu")]

use std::process::{Command, Output};

fn chord(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_chord"));
    c.args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("run chord")
}

const RUN: [&str; 10] = [
    "run",
    "-m",
    "gemma3-270m",
    "-p",
    "1, 2, 3, 4, 5,",
    "-n",
    "6",
    "--temp",
    "0",
    "--device",
];

#[test]
fn run_on_the_gpu_prints_the_cpu_text_on_quantized_kernels() {
    let cpu = chord(&[&RUN[..], &["cpu"]].concat(), &[]);
    assert!(
        cpu.status.success(),
        "{}",
        String::from_utf8_lossy(&cpu.stderr)
    );
    let gpu = chord(
        &[&RUN[..], &["gpu"]].concat(),
        &[("CHORD_TRACE_DISPATCH", "1")],
    );
    let err = String::from_utf8_lossy(&gpu.stderr);
    assert!(gpu.status.success(), "{err}");
    assert_eq!(gpu.stdout, cpu.stdout, "GPU text differs from the CPU's");
    let lines: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("chord_gpu dispatch: matmul"))
        .collect();
    assert!(!lines.is_empty(), "no dispatch trace: {err}");
    // Quantized kernels only: the matvec (decode, the LM head) or, from four tokens on
    // (the prompt), the tiled matmul.
    for l in &lines {
        assert!(
            (l.contains("kernel=matvec_q") || l.contains("kernel=matmul4_q"))
                && l.ends_with(|c: char| c.is_ascii_digit()),
            "not a quantized GPU kernel: {l}"
        );
    }
    assert!(
        lines.iter().any(|l| l.contains("kernel=matmul4_q")),
        "the prompt did not run on the tiled kernels"
    );
    // Every weight matrix of the model appears (7 per layer, 18 layers, plus the LM head).
    let weights: std::collections::BTreeSet<&str> = lines
        .iter()
        .filter_map(|l| l.split_whitespace().find(|w| w.starts_with("weight=")))
        .collect();
    assert_eq!(weights.len(), 18 * 7 + 1, "{weights:?}");
}

#[test]
fn no_adapter_is_a_clear_error() {
    let out = chord(
        &[&RUN[..], &["gpu"]].concat(),
        &[("CHORD_GPU_ADAPTER", "no-such-gpu")],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("no GPU adapter found") && err.contains("--device gpu"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    // `auto` falls back to the CPU instead.
    let out = chord(
        &[&RUN[..], &["auto"]].concat(),
        &[("CHORD_GPU_ADAPTER", "no-such-gpu")],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The engine's caches are made by the GPU backend, so `run` and `bench` take the device step:
/// greedy text equal to the scalar CPU kernels' (the order the GPU kernels follow), and ONE
/// queue submission per decode step in `bench --json` (the per-op path makes several per layer).
#[test]
fn run_and_bench_on_the_gpu_take_the_one_submission_step() {
    let long = [
        "run",
        "-m",
        "gemma3-270m",
        "-p",
        "The capital of France is Paris. The capital of Italy is",
        "-n",
        "16",
        "--temp",
        "0",
        "--device",
    ];
    let cpu = chord(&[&long[..], &["cpu"]].concat(), &[("CHORD_ISA", "scalar")]);
    assert!(
        cpu.status.success(),
        "{}",
        String::from_utf8_lossy(&cpu.stderr)
    );
    let gpu = chord(&[&long[..], &["gpu"]].concat(), &[]);
    assert!(
        gpu.status.success(),
        "{}",
        String::from_utf8_lossy(&gpu.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&gpu.stdout),
        String::from_utf8_lossy(&cpu.stdout),
        "GPU text differs from the scalar CPU's"
    );

    let bench = chord(
        &[
            "bench",
            "-m",
            "gemma3-270m",
            "-p",
            "16",
            "-n",
            "4",
            "-r",
            "1",
            "--no-bandwidth",
            "--json",
            "--device",
            "gpu",
        ],
        &[],
    );
    let err = String::from_utf8_lossy(&bench.stderr);
    assert!(bench.status.success(), "{err}");
    let j: serde_json::Value = serde_json::from_slice(&bench.stdout).expect("bench JSON");
    assert_eq!(j["gpu_submissions_per_decode_step"], 1.0, "{j}");
    assert!(j["decode_tokens_per_s"].as_f64().unwrap() > 0.0, "{j}");
}
