//! The memory-bandwidth bound decode is measured against: how fast `n` threads can stream a
//! buffer far larger than the caches (each reads its own part, summing 64-bit words with SIMD).
//! Decode reads every weight once per token, so weights-per-token × tokens/s can at best
//! approach this figure.

use std::time::Instant;

const BUF_BYTES: usize = 512 << 20;

/// Best of a few passes, in GB/s.
pub fn streaming_read_gbs(n_threads: usize) -> f64 {
    let words = BUF_BYTES / 8;
    // Distinct values, so the pages are really populated (not the shared zero page).
    let buf: Vec<u64> = (0..words as u64).collect();
    let n = n_threads.max(1);
    let per = words.div_ceil(n);
    let mut best = 0f64;
    for _ in 0..4 {
        let t = Instant::now();
        let total: u64 = std::thread::scope(|s| {
            let handles: Vec<_> = buf
                .chunks(per)
                .map(|part| s.spawn(move || sum(part)))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap_or(0)).sum()
        });
        std::hint::black_box(total);
        best = best.max(BUF_BYTES as f64 / t.elapsed().as_secs_f64() / 1e9);
    }
    best
}

fn sum(v: &[u64]) -> u64 {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") {
        // SAFETY: AVX2 was just detected.
        return unsafe { sum_avx2(v) };
    }
    sum_plain(v)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn sum_avx2(v: &[u64]) -> u64 {
    sum_plain(v)
}

#[inline(always)]
fn sum_plain(v: &[u64]) -> u64 {
    // Eight independent lanes, so the loop vectorises and is not latency-bound.
    let mut acc = [0u64; 8];
    let chunks = v.chunks_exact(8);
    let rest = chunks.remainder();
    for c in chunks {
        for i in 0..8 {
            acc[i] = acc[i].wrapping_add(c[i]);
        }
    }
    acc.iter().chain(rest).fold(0u64, |a, &b| a.wrapping_add(b))
}
