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
