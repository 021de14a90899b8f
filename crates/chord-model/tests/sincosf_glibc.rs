//! Our `sinf`/`cosf` port against this machine's glibc, which is what llama.cpp calls for its
//! RoPE tables. glibc picks its FMA build on CPUs with AVX2+FMA (this machine); the port follows
//! that build. The full 2^32-input sweep was run once by hand (0 differences, glibc 2.36); here a
//! strided sweep over every exponent plus every RoPE angle of the real models' configurations.
#![cfg(all(target_arch = "x86_64", target_os = "linux", target_env = "gnu"))]

use chord_model::sincosf;

extern "C" {
    fn sinf(x: f32) -> f32;
    fn cosf(x: f32) -> f32;
}

fn same(a: f32, b: f32) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

fn check(x: f32, bad: &mut Vec<String>) {
    // SAFETY: glibc's sinf/cosf are pure functions of their argument.
    let (s, c) = unsafe { (sinf(x), cosf(x)) };
    if !same(s, sincosf::sinf(x)) || !same(c, sincosf::cosf(x)) {
        bad.push(format!(
            "{x:e}: glibc ({s:e}, {c:e}) ours ({:e}, {:e})",
            sincosf::sinf(x),
            sincosf::cosf(x)
        ));
    }
}

#[test]
fn sin_and_cos_equal_glibc_bit_for_bit() {
    assert!(
        is_x86_feature_detected!("fma") && is_x86_feature_detected!("avx2"),
        "this test describes glibc's FMA build, which needs a CPU with AVX2 and FMA"
    );
    let mut bad = Vec::new();
    // Every 4093rd bit pattern: ~1M inputs across all ranges (tiny, polynomial-only, fast and
    // large reductions, inf, NaN), both signs.
    let mut b: u64 = 0;
    while b < 1 << 32 {
        check(f32::from_bits(b as u32), &mut bad);
        b += 4093;
    }
    // Every RoPE angle (θ_i = pos · base^(-2i/n), accumulated as ggml does) of the real models.
    for (base, n_dims) in [(10_000f32, 256usize), (1_000_000.0, 256), (1_000_000.0, 64)] {
        let scale = chord_model::math::powf(base, -2.0 / n_dims as f32);
        for pos in 0..4096 {
            let mut theta = pos as f32;
            for _ in 0..n_dims / 2 {
                check(theta, &mut bad);
                theta *= scale;
            }
        }
    }
    assert!(
        bad.is_empty(),
        "{} differences, e.g. {:?}",
        bad.len(),
        &bad[..bad.len().min(5)]
    );
}
