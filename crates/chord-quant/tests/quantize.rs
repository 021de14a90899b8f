//! Reference quantization (Q4_0, Q8_0, Q8_1, Q8_K): bit-exact against gguf-py for Q8_0/Q4_0
//! (committed expected bytes), structural invariants, and quantize→dequantize error bounds.

mod common;

use chord_gguf::GgmlType;
use chord_quant::block::{as_blocks, f16_to_f32};
use chord_quant::k::BlockQ8K;
use chord_quant::legacy::{BlockQ4_0, BlockQ8_0, BlockQ8_1};
use chord_quant::{dequantize, quantize, quantize_activation, row_bytes, QuantError};
use common::Rng;

fn quantize_vec(ty: GgmlType, x: &[f32]) -> Vec<u8> {
    let mut out = vec![0u8; row_bytes(ty, x.len()).unwrap()];
    quantize(ty, x, &mut out).unwrap();
    out
}

fn dequantize_vec(ty: GgmlType, b: &[u8], n: usize) -> Vec<f32> {
    let mut out = vec![0f32; n];
    dequantize(ty, b, &mut out).unwrap();
    out
}

fn test_data(seed: u64, n: usize) -> Vec<f32> {
    let mut rng = Rng::new(seed);
    let mut x: Vec<f32> = Vec::with_capacity(n);
    for i in 0..n {
        // Vary the magnitude per 32-element block; sprinkle outliers.
        let scale = [1e-3f32, 0.05, 1.0, 40.0][(i / 32) % 4];
        let mut v = rng.normal(scale);
        if rng.byte() == 0 {
            v *= 20.0;
        }
        x.push(v);
    }
    x
}

#[test]
fn q8_0_and_q4_0_match_gguf_py_bit_for_bit() {
    let doc = common::expected_json("quantize_ref.gguf");
    let n = doc["n"].as_u64().unwrap() as usize;
    let input = common::from_hex(doc["input_f32"].as_str().unwrap());
    let x: Vec<f32> = input
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    assert_eq!(x.len(), n);
    for (ty, key) in [(GgmlType::Q8_0, "q8_0"), (GgmlType::Q4_0, "q4_0")] {
        let want = common::from_hex(doc[key].as_str().unwrap());
        let got = quantize_vec(ty, &x);
        assert_eq!(got.len(), want.len(), "{ty}");
        let bs = ty.type_size() as usize;
        for (i, (g, w)) in got.chunks(bs).zip(want.chunks(bs)).enumerate() {
            assert_eq!(
                g,
                w,
                "{ty}: block {i} differs from gguf-py (input {:?})",
                &x[i * 32..i * 32 + 32]
            );
        }
    }
}

#[test]
fn q8_0_round_trip_error_is_within_half_a_step() {
    let x = test_data(1, 32 * 64);
    let q = quantize_vec(GgmlType::Q8_0, &x);
    let y = dequantize_vec(GgmlType::Q8_0, &q, x.len());
    for (bi, b) in as_blocks::<BlockQ8_0>(&q).iter().enumerate() {
        let d = f16_to_f32(b.d);
        let amax = x[bi * 32..bi * 32 + 32]
            .iter()
            .fold(0f32, |m, v| m.max(v.abs()));
        // Half a step of the f32 scale amax/127, plus |q| <= 127 times the error of storing
        // that scale as f16 (relative 2^-11, or absolute for f16 subnormals).
        let d32 = amax / 127.0;
        let tol = d32 * 0.5001 + 127.0 * (d32 - d).abs() + 1e-12;
        for j in 0..32 {
            let i = bi * 32 + j;
            assert!(
                (x[i] - y[i]).abs() <= tol,
                "block {bi} elem {j}: {} vs {} (d {d})",
                x[i],
                y[i]
            );
        }
    }
}

#[test]
fn q8_1_sum_field_and_round_trip() {
    let x = test_data(2, 32 * 64);
    let q = quantize_vec(GgmlType::Q8_1, &x);
    let q0 = quantize_vec(GgmlType::Q8_0, &x);
    let y = dequantize_vec(GgmlType::Q8_1, &q, x.len());
    for (bi, (b, b0)) in as_blocks::<BlockQ8_1>(&q)
        .iter()
        .zip(as_blocks::<BlockQ8_0>(&q0))
        .enumerate()
    {
        // Same scale and quants as Q8_0; s = f16(sum(q) * d).
        assert_eq!((b.d, b.qs), (b0.d, b0.qs), "block {bi}");
        let d32 = x[bi * 32..bi * 32 + 32]
            .iter()
            .fold(0f32, |m, v| m.max(v.abs()))
            / 127.0;
        let sum: i32 = b.qs.iter().map(|&q| q as i8 as i32).sum();
        assert_eq!(
            b.s,
            half::f16::from_f32(sum as f32 * d32)
                .to_bits()
                .to_le_bytes(),
            "block {bi}"
        );
        let tol = d32 * 0.5001 + 127.0 * (d32 - f16_to_f32(b.d)).abs() + 1e-12;
        for j in 0..32 {
            let i = bi * 32 + j;
            assert!((x[i] - y[i]).abs() <= tol, "block {bi} elem {j}");
        }
    }
}

#[test]
fn q8_k_scale_quants_and_bsums() {
    let mut x = test_data(3, 256 * 8);
    x[256..512].fill(0.0); // an all-zero super-block
    let q = quantize_vec(GgmlType::Q8_K, &x);
    let y = dequantize_vec(GgmlType::Q8_K, &q, x.len());
    for (bi, b) in as_blocks::<BlockQ8K>(&q).iter().enumerate() {
        let xb = &x[bi * 256..bi * 256 + 256];
        let qs: Vec<i32> = b.qs.iter().map(|&v| v as i8 as i32).collect();
        for j in 0..16 {
            assert_eq!(
                b.bsum(j) as i32,
                qs[16 * j..16 * j + 16].iter().sum::<i32>(),
                "block {bi} bsum {j}"
            );
        }
        if bi == 1 {
            assert_eq!(b.scale(), 0.0);
            assert!(qs.iter().all(|&v| v == 0));
            continue;
        }
        // The element of largest magnitude maps to -127 exactly; d = max / -127.
        let (imax, &max) = xb.iter().enumerate().fold((0, &0f32), |(bi, bv), (i, v)| {
            if v.abs() > bv.abs() {
                (i, v)
            } else {
                (bi, bv)
            }
        });
        assert_eq!(qs[imax], -127);
        assert_eq!(b.scale(), 1.0 / (-127.0 / max));
        let d = b.scale().abs();
        for j in 0..256 {
            let i = bi * 256 + j;
            assert!(
                (x[i] - y[i]).abs() <= d * 0.5001 + 1e-12,
                "block {bi} elem {j}: {} vs {}",
                x[i],
                y[i]
            );
        }
    }
}

#[test]
fn q8_k_rounds_ties_to_even() {
    // max = -127 gives iscale = 1, so quants are nearest_int(x): ties go to even.
    let mut x = vec![0f32; 256];
    x[0] = -127.0;
    x[1] = 2.5;
    x[2] = 3.5;
    x[3] = -2.5;
    x[4] = 0.5;
    let q = quantize_vec(GgmlType::Q8_K, &x);
    let b = &as_blocks::<BlockQ8K>(&q)[0];
    let qs: Vec<i8> = b.qs[..5].iter().map(|&v| v as i8).collect();
    assert_eq!(qs, [-127, 2, 4, -2, 0]);
    assert_eq!(b.scale(), 1.0); // d = 1 / iscale = 1 / (-127 / -127)
                                // Q8_0 uses roundf (ties away from zero) instead: d = 127/127 = 1.
    let mut x0 = vec![0f32; 32];
    x0[0] = 127.0;
    x0[1] = 2.5;
    x0[2] = -2.5;
    let q0 = quantize_vec(GgmlType::Q8_0, &x0);
    let b0 = &as_blocks::<BlockQ8_0>(&q0)[0];
    assert_eq!(
        [b0.qs[0] as i8, b0.qs[1] as i8, b0.qs[2] as i8],
        [127, 3, -3]
    );
}

#[test]
fn q4_0_round_trip_error_is_within_one_step() {
    let mut x = test_data(4, 32 * 64);
    x[..32].fill(0.0);
    let q = quantize_vec(GgmlType::Q4_0, &x);
    let y = dequantize_vec(GgmlType::Q4_0, &q, x.len());
    let blocks = as_blocks::<BlockQ4_0>(&q);
    // All-zero block: d = 0, every quant 8 (zero).
    assert_eq!(f16_to_f32(blocks[0].d), 0.0);
    assert!(blocks[0].qs.iter().all(|&b| b == 0x88));
    for (bi, b) in blocks.iter().enumerate() {
        let d = f16_to_f32(b.d).abs();
        for j in 0..32 {
            let i = bi * 32 + j;
            // Half a step inside the range; the extreme opposite the max clips to +7 (one step).
            assert!(
                (x[i] - y[i]).abs() <= d * 1.01 + 1e-12,
                "block {bi} elem {j}: {} vs {}",
                x[i],
                y[i]
            );
        }
    }
}

#[test]
fn activation_quantization_of_float_types() {
    let x = [
        1.0f32,
        -2.5,
        3.3,
        65504.0,
        1e-8,
        f32::MIN_POSITIVE,
        -0.0,
        1.0 + 1.0 / 256.0,
    ];
    for ty in [GgmlType::F32, GgmlType::F16, GgmlType::BF16] {
        let mut b = vec![0u8; row_bytes(ty, x.len()).unwrap()];
        quantize_activation(ty, &x, &mut b).unwrap();
        let y = dequantize_vec(ty, &b, x.len());
        for (v, w) in x.iter().zip(&y) {
            let expect = match ty {
                GgmlType::F32 => *v,
                GgmlType::F16 => half::f16::from_f32(*v).to_f32(),
                _ => half::bf16::from_f32(*v).to_f32(),
            };
            assert_eq!(w.to_bits(), expect.to_bits(), "{ty}: {v}");
        }
    }
    // bf16 rounding: 1 + 2^-8 is a tie between 1 and 1 + 2^-7: to even gives 1.
    let mut b = [0u8; 2];
    quantize_activation(GgmlType::BF16, &[1.0 + 1.0 / 256.0], &mut b).unwrap();
    assert_eq!(u16::from_le_bytes(b), 0x3f80);
}

#[test]
fn quantize_errors_are_typed() {
    let x = vec![0.5f32; 64];
    let mut dst = vec![0u8; 1000];
    assert_eq!(
        quantize(GgmlType::Q4_K, &vec![0f32; 256], &mut dst),
        Err(QuantError::UnsupportedOp {
            op: "quantization",
            ty: GgmlType::Q4_K
        })
    );
    assert_eq!(
        quantize_activation(GgmlType::Q4_0, &x, &mut dst),
        Err(QuantError::UnsupportedOp {
            op: "activation quantization",
            ty: GgmlType::Q4_0
        })
    );
    assert!(matches!(
        quantize(GgmlType::Q8_0, &x, &mut dst),
        Err(QuantError::SizeMismatch {
            expected: 68,
            got: 1000,
            ..
        })
    ));
    assert!(matches!(
        quantize(GgmlType::Q8_K, &x, &mut dst),
        Err(QuantError::NotBlockMultiple {
            n: 64,
            block: 256,
            ..
        })
    ));
    let e = quantize(GgmlType::IQ2_XXS, &x, &mut dst).unwrap_err();
    assert_eq!(e.to_string(), "unsupported tensor type IQ2_XXS");
}

#[test]
fn q8_0_and_q8_1_activations_round_like_ggml_x86() {
    // ggml-cpu's x86 quantize_row_q8_0/q8_1 (what llama.cpp runs on this machine) use
    // id = 127/amax and round half to even; the file-format reference rounds ties away from zero.
    let mut x = vec![0f32; 32];
    x[0] = 127.0;
    x[1] = 2.5;
    x[2] = -2.5;
    x[3] = 3.5;
    for ty in [GgmlType::Q8_0, GgmlType::Q8_1] {
        let mut act = vec![0u8; ty.type_size() as usize];
        chord_quant::quantize_activation(ty, &x, &mut act).unwrap();
        let qs_at = if ty == GgmlType::Q8_0 { 2 } else { 4 };
        let qs: Vec<i8> = act[qs_at..qs_at + 4].iter().map(|&v| v as i8).collect();
        assert_eq!(qs, [127, 2, -2, 4], "{ty}");
        let reference = quantize_vec(ty, &x);
        assert_eq!(
            reference[qs_at + 1] as i8,
            3,
            "{ty} reference rounds ties away from zero"
        );
    }
    // Q8_1's s = d * Σq uses the activation's own quants: 127 + 2 - 2 + 4 = 131.
    let mut act = vec![0u8; 36];
    chord_quant::quantize_activation(GgmlType::Q8_1, &x, &mut act).unwrap();
    let s = half::f16::from_le_bytes([act[2], act[3]]).to_f32();
    assert_eq!(s, half::f16::from_f32(131.0).to_f32());
}

/// The activation quantizer's rounding (an add/subtract of 1.5·2^23, no libm call) gives exactly
/// `round_ties_even(x · 127/amax)` on random rows, ties and tiny values included.
#[test]
fn q8_0_activation_rounding_equals_round_ties_even() {
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for row in 0..4000 {
        let x: Vec<f32> = (0..32)
            .map(|i| match (row + i) % 5 {
                // Exact halves after scaling by 127/amax (amax = 127 below): ties.
                0 => ((next() % 255) as f32 - 127.0) + 0.5,
                1 => f32::from_bits((next() as u32 & 0x807f_ffff) | 0x3000_0000),
                _ => ((next() >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 300.0,
            })
            .collect();
        let mut x = x;
        x[row % 32] = if row % 2 == 0 { 127.0 } else { -127.0 };
        let amax = x.iter().fold(0.0f32, |m, &v| m.max(v.abs()));
        let id = 127.0 / amax;
        let mut act = vec![0u8; 34];
        quantize_activation(GgmlType::Q8_0, &x, &mut act).unwrap();
        for (i, &v) in x.iter().enumerate() {
            let want = (v * id).round_ties_even() as i32 as i8;
            assert_eq!(act[2 + i] as i8, want, "row {row} element {i}: {v}");
        }
    }
}
