//! Our `tanhf`/`expm1f` port against this machine's glibc (what llama.cpp's GELU table is built
//! with). The full 2^32-input sweep was run once by hand (0 differences, glibc 2.36); here a
//! strided sweep plus every f16 input, and the GELU table itself.
#![cfg(all(target_arch = "x86_64", target_os = "linux", target_env = "gnu"))]

use chord_model::tanhf;

extern "C" {
    #[link_name = "tanhf"]
    fn glibc_tanhf(x: f32) -> f32;
    #[link_name = "expm1f"]
    fn glibc_expm1f(x: f32) -> f32;
}

fn same(a: f32, b: f32) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

#[test]
fn tanh_and_expm1_equal_glibc_bit_for_bit() {
    let mut bad = Vec::new();
    let mut check = |x: f32| {
        // SAFETY: pure functions of their argument.
        let (t, e) = unsafe { (glibc_tanhf(x), glibc_expm1f(x)) };
        if !same(t, tanhf::tanhf(x)) || !same(e, tanhf::expm1f(x)) {
            bad.push(format!("{x:e}"));
        }
    };
    let mut b: u64 = 0;
    while b < 1 << 32 {
        check(f32::from_bits(b as u32));
        b += 4093;
    }
    for h in 0..=u16::MAX {
        check(half::f16::from_bits(h).to_f32());
    }
    assert!(
        bad.is_empty(),
        "{} differences, e.g. {:?}",
        bad.len(),
        &bad[..bad.len().min(5)]
    );
}

/// ggml's GELU table entry for every f16 input, computed with glibc's tanhf and the fused
/// multiply-add GCC puts into `1 + A·x·x`, equals ours; and the one entry where the fusion
/// matters equals the value read out of llama.cpp's own table (`ggml_table_gelu_f16[0xBFFF]`
/// after `ggml_cpu_init()`, llama-cpp-python 0.3.36's build on this machine: 0xA9D3).
#[test]
fn gelu_table_equals_ggml_built_with_glibc() {
    const A: f32 = 0.044715;
    const S: f32 = 0.797_884_6;
    let mut gate = Vec::new();
    let mut want = Vec::new();
    for h in 0..=u16::MAX {
        let x = half::f16::from_bits(h).to_f32();
        if !x.is_finite() || x <= -10.0 || x >= 10.0 {
            continue;
        }
        // SAFETY: pure function.
        let g = 0.5 * x * (1.0 + unsafe { glibc_tanhf(S * x * (A * x).mul_add(x, 1.0)) });
        gate.push(x);
        want.push(half::f16::from_f32(g).to_f32());
    }
    let up = vec![1.0f32; gate.len()];
    chord_model::ops::geglu(&mut gate, &up);
    let bad = gate
        .iter()
        .zip(&want)
        .filter(|(a, b)| a.to_bits() != b.to_bits())
        .count();
    assert_eq!(bad, 0, "{bad} GELU table entries differ from ggml's");

    let mut one = [half::f16::from_bits(0xBFFF).to_f32()];
    chord_model::ops::geglu(&mut one, &[1.0]);
    assert_eq!(half::f16::from_f32(one[0]).to_bits(), 0xA9D3);
}
