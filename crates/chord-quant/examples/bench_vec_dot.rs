//! Rough throughput of the vec-dot kernels and of dequantization, per type and ISA flavour:
//! `[CHORD_BENCH_COLS=n] [CHORD_BENCH_TOKENS=t] cargo run --release -p chord-quant --example
//! bench_vec_dot [n_rows] [TYPE...]` (best of five runs each; K-quant rows need a multiple of
//! 256 columns, e.g. 2048 as Gemma 3 270M's FFN down projection).

use chord_gguf::GgmlType;
use chord_quant::{dequantize, quantize_activation, row_bytes, Isa, VecDotKernel};
use std::time::Instant;

fn main() {
    let rows: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(2048);
    // Row length: 1536 unless CHORD_BENCH_COLS says otherwise (Gemma 3 270M's rows are 640).
    let n: usize = std::env::var("CHORD_BENCH_COLS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1536);
    // Optional type names after the row count restrict the run (e.g. `Q5_0 Q8_0`).
    let only: Vec<String> = std::env::args().skip(2).collect();
    let types = chord_quant::WEIGHT_TYPES
        .into_iter()
        .filter(|t| only.is_empty() || only.iter().any(|o| o.eq_ignore_ascii_case(&t.to_string())));
    let mut seed = 0x1234_5678_9abc_def0u64;
    let mut byte = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed >> 56) as u8
    };
    let x: Vec<f32> = (0..n)
        .map(|i| ((i * 7919) % 1000) as f32 / 500.0 - 1.0)
        .collect();
    println!("{rows} rows x {n} columns, one activation row");
    for ty in types {
        let rb = row_bytes(ty, n).unwrap_or(0);
        // Random bytes with the f16/f32 scale fields forced small and finite is overkill for
        // timing; a constant small scale pattern is enough (0x1000 = small positive f16).
        let mut w: Vec<u8> = (0..rb * rows).map(|_| byte() & 0x0f).collect();
        if ty == GgmlType::F32 {
            for c in w.chunks_exact_mut(4) {
                c.copy_from_slice(&0.01f32.to_le_bytes());
            }
        }
        let mut out = vec![0f32; n * rows];
        let t0 = Instant::now();
        dequantize(ty, &w, &mut out).unwrap();
        let deq = t0.elapsed().as_secs_f64();
        let mut line = format!(
            "{:>7}: dequant {:6.0} Melem/s",
            ty.to_string(),
            (n * rows) as f64 / deq / 1e6
        );
        for isa in Isa::ALL {
            let Ok(k) = VecDotKernel::with_isa(ty, isa) else {
                continue;
            };
            let (_, ab) = k.row_bytes(n).unwrap();
            let mut a = vec![0u8; ab];
            quantize_activation(k.act_ty, &x, &mut a).unwrap();
            // Plain rows, then rows followed by the side data the kernels of some types read
            // (as chord-cpu passes them), where the type has any.
            let extra = chord_quant::act_extra_bytes(k.act_ty, n);
            let mut ax = a.clone();
            ax.resize(ab + extra, 0);
            let (row, ext) = ax.split_at_mut(ab);
            chord_quant::fill_act_extra(k.act_ty, n, row, ext).unwrap();
            let runs: &[(&str, &[u8])] = if extra > 0 {
                &[("", &a), ("+extra", &ax)]
            } else {
                &[("", &a)]
            };
            line += &format!("  {}:", isa.name());
            let f = k.func();
            for &(label, a) in runs {
                let mut acc = 0f32;
                let dt = best_of(|| {
                    acc = 0.0;
                    for r in 0..rows {
                        acc += f(n, &w[r * rb..(r + 1) * rb], a);
                    }
                });
                line += &format!(
                    " x1{label}: {:7.1} Melem/s ({:.1} GB/s weights) [{acc:.3e}]",
                    (n * rows) as f64 / dt / 1e6,
                    (rb * rows) as f64 / dt / 1e9
                );
            }
            // The four-token kernel (prefill), in token-elements per second.
            if let Some(f4) = k.func4_grouped() {
                for &(label, a) in runs {
                    let mut acc4 = 0f32;
                    let dt = best_of(|| {
                        acc4 = 0.0;
                        for r in 0..rows {
                            acc4 += f4(n, &w[r * rb..(r + 1) * rb], [a, a, a, a])[3];
                        }
                    });
                    line += &format!(
                        " x4{label}: {:7.1} Melem/s [{acc4:.3e}]",
                        (4 * n * rows) as f64 / dt / 1e6
                    );
                }
            }
            // The tiled-order four-token kernel, and the eight-row kernels over runs of
            // `tokens` tokens (rows in groups of eight), in token-elements per second.
            if let Some(f4) = k.func4_tiled() {
                let mut acc4 = 0f32;
                let dt = best_of(|| {
                    acc4 = 0.0;
                    for r in 0..rows {
                        acc4 += f4(n, &w[r * rb..(r + 1) * rb], [&a, &a, &a, &a])[3];
                    }
                });
                line += &format!(
                    " x4tiled: {:7.1} Melem/s [{acc4:.3e}]",
                    (4 * n * rows) as f64 / dt / 1e6
                );
            }
            // Tokens per eight-row call: CHORD_BENCH_TOKENS, default 32 (what chord-cpu passes).
            let tokens: usize = std::env::var("CHORD_BENCH_TOKENS")
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(32);
            let act: Vec<u8> = (0..tokens).flat_map(|_| a.iter().copied()).collect();
            for (label, f8) in [("grouped", k.rows8_grouped()), ("tiled", k.rows8_tiled())] {
                let Some(f8) = f8 else { continue };
                let mut out = vec![[0f32; 8]; tokens];
                let mut acc8 = 0f32;
                let dt = best_of(|| {
                    acc8 = 0.0;
                    for r in (0..rows / 8 * 8).step_by(8) {
                        f8(n, &w[r * rb..(r + 8) * rb], rb, &act, a.len(), &mut out);
                        acc8 += out[tokens - 1][7];
                    }
                });
                line += &format!(
                    " rows8x{tokens}{label}: {:7.1} Melem/s [{acc8:.3e}]",
                    (tokens * n * (rows / 8 * 8)) as f64 / dt / 1e6
                );
            }
        }
        println!("{line}");
    }
}

/// The shortest of five timed runs of `f`, in seconds (the machine is shared: the minimum is the
/// least disturbed run).
fn best_of(mut f: impl FnMut()) -> f64 {
    (0..5)
        .map(|_| {
            let t0 = Instant::now();
            f();
            t0.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}
