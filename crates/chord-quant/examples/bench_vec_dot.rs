//! Rough throughput of the vec-dot kernels and of dequantization, per type and ISA flavour:
//! `[CHORD_BENCH_COLS=n] [CHORD_BENCH_ISA=avx2] [CHORD_BENCH_TOKENS=128]
//! [CHORD_BENCH_ROWS8_TOKENS=32] cargo run --release -p chord-quant --example bench_vec_dot
//! [n_rows] [TYPE...]` (best of seven runs of at least 20 ms each, in thread CPU time; K-quant
//! rows need a multiple of 256 columns, e.g. 2048 as Gemma 3 270M's FFN down projection).

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
    // Tokens of the prefill measurement: a `chord bench -p 128` batch unless
    // `CHORD_BENCH_TOKENS` (a multiple of 4) says otherwise, e.g. 8 for the server's batches.
    let prefill_tokens: usize = std::env::var("CHORD_BENCH_TOKENS")
        .ok()
        .and_then(|s| s.parse().ok())
        .map_or(128, |t: usize| t.max(4) / 4 * 4);
    // `CHORD_BENCH_ISA=avx2` measures one flavour only.
    let only_isa = std::env::var("CHORD_BENCH_ISA").ok();
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
            if only_isa.as_deref().is_some_and(|o| o != isa.name()) {
                continue;
            }
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
            // The prefill kernels as chord-cpu's matmul runs them: tiles of 16 weight rows, each
            // passed by the batch's distinct tokens four at a time (the tile stays in L1, the tokens
            // in L2), one row per call (x4) or two (2x4); token-elements per second.
            if let Some(f4) = k.func4_grouped() {
                let toks: Vec<Vec<u8>> = (0..prefill_tokens)
                    .map(|t| {
                        let xt: Vec<f32> = x.iter().map(|v| v * (1.0 + t as f32 / 64.0)).collect();
                        let mut r = vec![0u8; ab + extra];
                        let (row, ext) = r.split_at_mut(ab);
                        quantize_activation(k.act_ty, &xt, row).unwrap();
                        chord_quant::fill_act_extra(k.act_ty, n, row, ext).unwrap();
                        r
                    })
                    .collect();
                let plain: Vec<&[u8]> = toks.iter().map(|r| &r[..ab]).collect();
                let with_extra: Vec<&[u8]> = toks.iter().map(|r| &r[..]).collect();
                let sets: &[(&str, &[&[u8]])] = if extra > 0 {
                    &[("", &plain), ("+extra", &with_extra)]
                } else {
                    &[("", &plain)]
                };
                let f24 = chord_quant::vec_dot_rows2x4(ty, isa);
                let row = |r: usize| &w[r * rb..(r + 1) * rb];
                for &(label, acts) in sets {
                    let mut acc4 = 0f32;
                    let dt = best_of(|| {
                        acc4 = 0.0;
                        for r0 in (0..rows).step_by(16) {
                            for q in acts.chunks_exact(4) {
                                let q = [q[0], q[1], q[2], q[3]];
                                for r in r0..(r0 + 16).min(rows) {
                                    acc4 += f4(n, row(r), q)[3];
                                }
                            }
                        }
                    });
                    let per_s = (prefill_tokens * n * rows) as f64 / dt / 1e6;
                    line += &format!(" x4{label}: {per_s:7.1} Melem/s [{acc4:.3e}]");
                    let Some(f24) = f24 else { continue };
                    let mut acc24 = 0f32;
                    let dt = best_of(|| {
                        acc24 = 0.0;
                        for r0 in (0..rows).step_by(16) {
                            let r1 = (r0 + 16).min(rows);
                            for q in acts.chunks_exact(4) {
                                let q = [q[0], q[1], q[2], q[3]];
                                let mut r = r0;
                                while r + 2 <= r1 {
                                    acc24 += f24(n, [row(r), row(r + 1)], q)[1][3];
                                    r += 2;
                                }
                                if r < r1 {
                                    acc24 += f4(n, row(r), q)[3];
                                }
                            }
                        }
                    });
                    let per_s = (prefill_tokens * n * rows) as f64 / dt / 1e6;
                    line += &format!(" 2x4{label}: {per_s:7.1} Melem/s [{acc24:.3e}]");
                    // Rows unpacked once per tile (the unpacking timed too), then two-row quads.
                    let Some(tk) = chord_quant::tile_kernels(ty, isa) else {
                        continue;
                    };
                    let ub = (tk.row_bytes)(n);
                    let mut tile = vec![0u8; 16 * ub];
                    let mut acc_t = 0f32;
                    let dt = best_of(|| {
                        acc_t = 0.0;
                        for r0 in (0..rows).step_by(16) {
                            let r1 = (r0 + 16).min(rows);
                            for (r, out) in (r0..r1).zip(tile.chunks_exact_mut(ub)) {
                                (tk.unpack)(n, row(r), out);
                            }
                            let urow = |r: usize| &tile[(r - r0) * ub..(r - r0 + 1) * ub];
                            for q in acts.chunks_exact(4) {
                                let q = [q[0], q[1], q[2], q[3]];
                                let mut r = r0;
                                while r < r1 {
                                    let r2 = (r + 1).min(r1 - 1);
                                    acc_t += (tk.dot2x4)(n, [urow(r), urow(r2)], q)[1][3];
                                    r += 2;
                                }
                            }
                        }
                    });
                    let per_s = (prefill_tokens * n * rows) as f64 / dt / 1e6;
                    line += &format!(" tile{label}: {per_s:7.1} Melem/s [{acc_t:.3e}]");
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
            // Tokens per eight-row call: CHORD_BENCH_ROWS8_TOKENS, default 32 (what chord-cpu
            // passes; CHORD_BENCH_TOKENS is the prefill batch of the Q5_0/Q8_0 columns above).
            let tokens: usize = std::env::var("CHORD_BENCH_ROWS8_TOKENS")
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

/// Seconds per call of `f`: the shortest of seven timed runs, each repeating `f` for at least
/// 20 ms (the machine is shared: the minimum is the least disturbed run; short runs are noise).
/// Time is this thread's time on the CPU where Linux reports it, so that other processes
/// taking the core in between do not count.
fn best_of(mut f: impl FnMut()) -> f64 {
    let t0 = Clock::now();
    f();
    let once = t0.elapsed().max(1e-7);
    let reps = ((0.02 / once).ceil() as usize).max(1);
    (0..7)
        .map(|_| {
            let t0 = Clock::now();
            for _ in 0..reps {
                f();
            }
            t0.elapsed() / reps as f64
        })
        .fold(f64::INFINITY, f64::min)
}

/// This thread's CPU time (`CLOCK_THREAD_CPUTIME_ID` on Linux), or wall time elsewhere.
enum Clock {
    Cpu(f64),
    Wall(Instant),
}

#[cfg(target_os = "linux")]
fn thread_cpu_seconds() -> Option<f64> {
    #[repr(C)]
    struct Timespec {
        sec: i64,
        nsec: i64,
    }
    extern "C" {
        fn clock_gettime(clock: i32, t: *mut Timespec) -> i32;
    }
    const CLOCK_THREAD_CPUTIME_ID: i32 = 3;
    let mut t = Timespec { sec: 0, nsec: 0 };
    // SAFETY: `t` is a valid, writable timespec (64-bit Linux layout).
    let ok = unsafe { clock_gettime(CLOCK_THREAD_CPUTIME_ID, &mut t) } == 0;
    ok.then_some(t.sec as f64 + t.nsec as f64 * 1e-9)
}

#[cfg(not(target_os = "linux"))]
fn thread_cpu_seconds() -> Option<f64> {
    None
}

impl Clock {
    fn now() -> Self {
        match thread_cpu_seconds() {
            Some(t) => Clock::Cpu(t),
            None => Clock::Wall(Instant::now()),
        }
    }
    fn elapsed(&self) -> f64 {
        match self {
            Clock::Cpu(t0) => thread_cpu_seconds().map_or(0.0, |t| t - t0),
            Clock::Wall(t0) => t0.elapsed().as_secs_f64(),
        }
    }
}
