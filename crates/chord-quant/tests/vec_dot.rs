//! Vec-dot kernels: for every weight type, random valid weight rows × random activations agree
//! with the f64 dot product of the dequantized rows; every SIMD flavour agrees with the scalar
//! one; real fixture tensors; and the length/type checks.

mod common;

use chord_gguf::{GgmlType, GgufMmap};
use chord_quant::{
    act_extra_bytes, dequantize, fill_act_extra, kernel_name, quantize_activation, row_bytes,
    vec_dot, vec_dot_type, Isa, QuantError, VecDotKernel,
};
use common::Rng;

use chord_quant::WEIGHT_TYPES;

/// Byte offsets of the f16 scale fields inside one block of `ty`.
fn f16_fields(ty: GgmlType) -> &'static [usize] {
    match ty {
        GgmlType::Q4_0 | GgmlType::Q5_0 | GgmlType::Q8_0 | GgmlType::IQ4_NL => &[0],
        GgmlType::IQ4_XS => &[0],
        GgmlType::Q4_1 | GgmlType::Q5_1 | GgmlType::Q4_K | GgmlType::Q5_K => &[0, 2],
        GgmlType::Q2_K => &[80, 82],
        GgmlType::Q3_K => &[108],
        GgmlType::Q6_K => &[208],
        _ => &[],
    }
}

/// A random but valid row of `n` weights: random quant bits, small finite scales.
fn random_weights(ty: GgmlType, n: usize, rng: &mut Rng) -> Vec<u8> {
    let mut w = vec![0u8; row_bytes(ty, n).unwrap()];
    match ty {
        GgmlType::F32 => {
            for c in w.chunks_exact_mut(4) {
                c.copy_from_slice(&rng.normal(0.1).to_le_bytes());
            }
        }
        GgmlType::F16 => {
            for c in w.chunks_exact_mut(2) {
                c.copy_from_slice(&half::f16::from_f32(rng.normal(0.1)).to_le_bytes());
            }
        }
        GgmlType::BF16 => {
            for c in w.chunks_exact_mut(2) {
                c.copy_from_slice(&half::bf16::from_f32(rng.normal(0.1)).to_le_bytes());
            }
        }
        _ => {
            w.iter_mut().for_each(|b| *b = rng.byte());
            let bs = ty.type_size() as usize;
            for block in w.chunks_exact_mut(bs) {
                for &off in f16_fields(ty) {
                    let v = rng.uniform() * 0.02;
                    block[off..off + 2].copy_from_slice(&half::f16::from_f32(v).to_le_bytes());
                }
            }
        }
    }
    w
}

fn dequant(ty: GgmlType, b: &[u8], n: usize) -> Vec<f32> {
    let mut out = vec![0f32; n];
    dequantize(ty, b, &mut out).unwrap();
    out
}

/// Checks `vec_dot` against the f64 dot product of the dequantized rows. The tolerance covers
/// f32 accumulation, and for Q4_1/Q5_1 the min term `m * s`, where `s = f16(d * sum(q))` is the
/// Q8_1 block's rounded sum rather than the exact one.
fn check_row(w_ty: GgmlType, n: usize, w: &[u8], x: &[f32], what: &str) -> f32 {
    let act_ty = vec_dot_type(w_ty).unwrap();
    let mut a = vec![0u8; row_bytes(act_ty, n).unwrap()];
    quantize_activation(act_ty, x, &mut a).unwrap();
    let wf = dequant(w_ty, w, n);
    let af = dequant(act_ty, &a, n);
    let exact: f64 = wf.iter().zip(&af).map(|(&p, &q)| p as f64 * q as f64).sum();
    let abs: f64 = wf
        .iter()
        .zip(&af)
        .map(|(&p, &q)| (p as f64 * q as f64).abs())
        .sum();
    let mut tol = 2e-6 * abs + 1e-30;
    if matches!(w_ty, GgmlType::Q4_1 | GgmlType::Q5_1) {
        let mins = w
            .chunks_exact(w_ty.type_size() as usize)
            .map(|b| half::f16::from_le_bytes([b[2], b[3]]).to_f32().abs() as f64);
        let asum = af
            .chunks_exact(32)
            .map(|c| c.iter().map(|v| v.abs() as f64).sum::<f64>());
        tol += mins.zip(asum).map(|(m, s)| m * s / 1024.0).sum::<f64>();
    }
    let got = vec_dot(w_ty, n, w, &a).unwrap();
    assert!(
        (got as f64 - exact).abs() <= tol,
        "{w_ty} {what}: vec_dot {got} vs dequantized dot {exact} (tolerance {tol}, abs sum {abs})"
    );
    got
}

#[test]
fn random_rows_match_dequantized_dot_for_every_type() {
    let mut rng = Rng::new(42);
    for w_ty in WEIGHT_TYPES {
        let bs = w_ty.block_size() as usize;
        let lens: Vec<usize> = if bs == 256 {
            vec![256, 512, 1536]
        } else {
            vec![32, 256, 896]
        };
        for n in lens {
            for trial in 0..4 {
                let w = random_weights(w_ty, n, &mut rng);
                let scale = [0.01f32, 1.0, 30.0, 1.0][trial];
                let mut x: Vec<f32> = (0..n).map(|_| rng.normal(scale)).collect();
                if trial == 3 {
                    x[n / 2] = 200.0; // an outlier
                }
                check_row(w_ty, n, &w, &x, &format!("n={n} trial={trial}"));
            }
        }
    }
}

#[test]
fn zero_activations_give_zero() {
    let mut rng = Rng::new(7);
    for w_ty in WEIGHT_TYPES {
        let n = 512;
        let w = random_weights(w_ty, n, &mut rng);
        let x = vec![0f32; n];
        let act_ty = vec_dot_type(w_ty).unwrap();
        let mut a = vec![0u8; row_bytes(act_ty, n).unwrap()];
        quantize_activation(act_ty, &x, &mut a).unwrap();
        assert_eq!(vec_dot(w_ty, n, &w, &a).unwrap(), 0.0, "{w_ty}");
    }
}

/// Property test of every SIMD flavour against the scalar truth, every weight type, random blocks
/// (random bits, random scales, random activations) and several lengths: the integer work must
/// be exact, so the two may differ only by float rounding of the block sums — bounded by a few
/// ulps of Σ|w·a| per block summed. A wrong nibble order, scale or sign moves the result by
/// whole terms, far beyond that.
#[test]
fn every_flavour_agrees_with_scalar_on_random_blocks() {
    let mut rng = Rng::new(99);
    let mut compared = 0;
    for isa in Isa::ALL.into_iter().filter(|&i| i != Isa::Scalar) {
        if !isa.is_available() {
            assert!(VecDotKernel::with_isa(GgmlType::Q4_K, isa).is_err());
            continue;
        }
        for w_ty in WEIGHT_TYPES {
            let scalar = VecDotKernel::with_isa(w_ty, Isa::Scalar).unwrap();
            let simd = VecDotKernel::with_isa(w_ty, isa).unwrap();
            assert_ne!(scalar.name, simd.name);
            for (round, n) in [256usize, 512, 2048, 4864, 256 * 5, 32 * 7]
                .into_iter()
                .enumerate()
            {
                if row_bytes(w_ty, n).is_err() {
                    continue;
                }
                for _ in 0..8 {
                    let w = random_weights(w_ty, n, &mut rng);
                    // Include rows with a huge outlier so per-block activation scales vary.
                    let x: Vec<f32> = (0..n)
                        .map(|i| {
                            if round % 2 == 1 && i == 3 {
                                50.0
                            } else {
                                rng.normal(1.0)
                            }
                        })
                        .collect();
                    let mut a = vec![0u8; row_bytes(scalar.act_ty, n).unwrap()];
                    quantize_activation(scalar.act_ty, &x, &mut a).unwrap();
                    scalar.check_rows(n, w.len(), a.len()).unwrap();
                    let s = scalar.dot(n, &w, &a);
                    let v = simd.dot(n, &w, &a);
                    let mut wd = vec![0f32; n];
                    let mut ad = vec![0f32; n];
                    dequantize(w_ty, &w, &mut wd).unwrap();
                    dequantize(scalar.act_ty, &a, &mut ad).unwrap();
                    let mag: f64 = wd
                        .iter()
                        .zip(&ad)
                        .map(|(p, q)| (*p as f64 * *q as f64).abs())
                        .sum();
                    let tol = 4.0 * f32::EPSILON as f64 * mag * (n as f64 / 32.0).sqrt() + 1e-30;
                    assert!(
                        ((s - v) as f64).abs() <= tol,
                        "{w_ty} {} n={n}: scalar {s} vs {v} (tol {tol:e})",
                        isa.name()
                    );
                    assert_eq!((simd.func())(n, &w, &a).to_bits(), v.to_bits());
                    compared += 1;
                }
            }
        }
    }
    // Wherever a SIMD flavour exists (AVX2 on x86_64, NEON on aarch64), it was compared.
    let simd: Vec<&str> = Isa::ALL
        .into_iter()
        .filter(|&i| i != Isa::Scalar && i.is_available())
        .map(|i| i.name())
        .collect();
    eprintln!("compared {compared} rows on {simd:?}");
    assert!(simd.is_empty() || compared >= 100, "{compared}");
}

/// The VNNI flavour only swaps the instruction that sums u8×i8 pairs (exact integer work), and
/// the emulating flavour runs the AVX2 kernels, so both return the AVX2 flavour's bits exactly,
/// except Q2_K, which llama.cpp's AVX-512 build repacks (a different order) and its AVX2 build
/// does not. Where the CPU has AVX-512, the emulation equals it on every type, Q2_K included.
#[test]
fn avx512_flavours_are_bit_identical_to_avx2_but_q2_k() {
    let mut rng = Rng::new(7);
    let mut checked = 0;
    for isa in [Isa::Avx512Emu, Isa::Avx512] {
        if !isa.is_available() {
            continue;
        }
        for w_ty in WEIGHT_TYPES {
            let a2 = VecDotKernel::with_isa(w_ty, Isa::Avx2).unwrap();
            let a5 = VecDotKernel::with_isa(w_ty, isa).unwrap();
            let emu = VecDotKernel::with_isa(w_ty, Isa::Avx512Emu).unwrap();
            for n in [256usize, 4864] {
                let w = random_weights(w_ty, n, &mut rng);
                let x: Vec<f32> = (0..n).map(|_| rng.normal(1.0)).collect();
                let mut a = vec![0u8; row_bytes(a2.act_ty, n).unwrap()];
                quantize_activation(a2.act_ty, &x, &mut a).unwrap();
                let got = a5.dot(n, &w, &a).to_bits();
                if w_ty != GgmlType::Q2_K {
                    assert_eq!(a2.dot(n, &w, &a).to_bits(), got, "{w_ty} {}", isa.name());
                }
                assert_eq!(emu.dot(n, &w, &a).to_bits(), got, "{w_ty} {}", isa.name());
                let quad = [&a[..], &a[..], &a[..], &a[..]];
                for (f, g) in [
                    (a5.func4(), emu.func4()),
                    (a5.func4_grouped(), emu.func4_grouped()),
                    (a5.func4_tiled(), emu.func4_tiled()),
                ] {
                    assert_eq!(f.is_some(), g.is_some(), "{w_ty}");
                    if let (Some(f), Some(g)) = (f, g) {
                        assert_eq!(
                            f(n, &w, quad).map(f32::to_bits),
                            g(n, &w, quad).map(f32::to_bits),
                            "{w_ty}"
                        );
                    }
                }
                checked += 1;
            }
        }
    }
    if Isa::Avx2.is_available() {
        assert!(checked >= 2 * WEIGHT_TYPES.len(), "{checked}");
    }
}

#[test]
fn fixture_tensors_rows_match_dequantized_dot() {
    let mut rng = Rng::new(5);
    for name in common::FIXTURES {
        let file = GgufMmap::open(common::fixture(name)).unwrap();
        let mut checked = 0;
        for t in &file.header().tensors {
            if t.dims.len() != 2 {
                continue;
            }
            let n = t.row_len() as usize;
            let rb = row_bytes(t.ty, n).unwrap();
            let data = file.tensor_data(t);
            let x: Vec<f32> = (0..n).map(|_| rng.normal(1.0)).collect();
            for r in [0usize, t.n_rows() as usize / 2, t.n_rows() as usize - 1] {
                let w = &data[r * rb..(r + 1) * rb];
                check_row(t.ty, n, w, &x, &format!("{name} {} row {r}", t.name));
            }
            checked += 1;
        }
        assert!(checked >= 7, "{name}: only {checked} matrices");
    }
}

#[test]
fn real_model_rows_match_dequantized_dot() {
    // A few rows of every matrix type a Q4_K_M model mixes (Q4_K, Q5_0, Q6_K, Q8_0).
    let mut rng = Rng::new(11);
    let name = common::MODELS[1];
    let file = GgufMmap::open(common::model(name)).unwrap();
    let mut seen = std::collections::HashSet::new();
    for t in &file.header().tensors {
        if t.dims.len() != 2 || !seen.insert(t.ty) {
            continue;
        }
        let n = t.row_len() as usize;
        let rb = row_bytes(t.ty, n).unwrap();
        let data = file.tensor_data(t);
        let x: Vec<f32> = (0..n).map(|_| rng.normal(1.0)).collect();
        for r in 0..4 {
            check_row(
                t.ty,
                n,
                &data[r * rb..(r + 1) * rb],
                &x,
                &format!("{name} {} row {r}", t.name),
            );
        }
    }
    for ty in [GgmlType::Q4_K, GgmlType::Q6_K] {
        assert!(seen.contains(&ty), "{name}: no {ty} matrix");
    }
}

#[test]
fn vec_dot_types_and_names() {
    use GgmlType::*;
    let pairs = [
        (Q4_0, Q8_0),
        (Q5_0, Q8_0),
        (Q8_0, Q8_0),
        (IQ4_NL, Q8_0),
        (Q4_1, Q8_1),
        (Q5_1, Q8_1),
        (Q2_K, Q8_K),
        (Q3_K, Q8_K),
        (Q4_K, Q8_K),
        (Q5_K, Q8_K),
        (Q6_K, Q8_K),
        (IQ4_XS, Q8_K),
        (F32, F32),
        (F16, F16),
        (BF16, BF16),
    ];
    for (w, a) in pairs {
        assert_eq!(vec_dot_type(w), Ok(a), "{w}");
        let k = VecDotKernel::with_isa(w, Isa::Scalar).unwrap();
        assert_eq!(k.act_ty, a);
        assert!(
            k.name.starts_with("vec_dot_") && k.name.ends_with("/scalar"),
            "{}",
            k.name
        );
        assert!(k.name.contains(w.name()), "{} for {w}", k.name);
        assert_eq!(kernel_name(w, Isa::Scalar), Some(k.name));
    }
    assert_eq!(
        kernel_name(Q4_K, Isa::Scalar),
        Some("vec_dot_q4_K_q8_K/scalar")
    );
    for ty in [Q8_1, Q8_K, IQ2_XXS, I32, TQ1_0] {
        assert_eq!(vec_dot_type(ty), Err(QuantError::Unsupported { ty }));
        assert_eq!(kernel_name(ty, Isa::Scalar), None);
    }
}

#[test]
fn vec_dot_checks_lengths() {
    let n = 512;
    let w = vec![0u8; row_bytes(GgmlType::Q4_K, n).unwrap()];
    let a = vec![0u8; row_bytes(GgmlType::Q8_K, n).unwrap()];
    assert_eq!(vec_dot(GgmlType::Q4_K, n, &w, &a), Ok(0.0));
    assert!(matches!(
        vec_dot(GgmlType::Q4_K, n, &w[1..], &a),
        Err(QuantError::SizeMismatch {
            ty: GgmlType::Q4_K,
            expected: 288,
            got: 287,
            ..
        })
    ));
    assert!(matches!(
        vec_dot(GgmlType::Q4_K, n, &w, &a[..292]),
        Err(QuantError::SizeMismatch {
            ty: GgmlType::Q8_K,
            ..
        })
    ));
    assert!(matches!(
        vec_dot(GgmlType::Q4_K, 100, &w, &a),
        Err(QuantError::NotBlockMultiple {
            n: 100,
            block: 256,
            ..
        })
    ));
    let e = vec_dot(GgmlType::IQ1_S, 256, &w, &a).unwrap_err();
    assert_eq!(e.to_string(), "unsupported tensor type IQ1_S");
    // The unchecked form never reads past the slices it is given.
    let k = VecDotKernel::new(GgmlType::Q4_K).unwrap();
    assert_eq!(k.dot(n, &w[..100], &a), 0.0);
}

/// The four-token kernels return, per token, exactly the single-row kernel's bits, for every
/// type and flavour that has one, on random blocks (so tokens of different sequences may be
/// grouped freely). The grouped kernels (four tokens of one sequence) equal them too, except
/// where llama.cpp's own gemm takes another order (x86 Q4_K: one FMA per pair of sub-blocks
/// instead of one per super-block), which agrees to float rounding.
#[test]
fn four_token_kernels_equal_the_single_row_kernel() {
    let mut rng = Rng::new(4);
    let mut checked = 0;
    for isa in Isa::ALL.into_iter().filter(|i| i.is_available()) {
        for w_ty in WEIGHT_TYPES {
            let k = VecDotKernel::with_isa(w_ty, isa).unwrap();
            let Some(f4) = k.func4() else { continue };
            let f4g = k
                .func4_grouped()
                .expect("a grouped kernel wherever there is a 4-token one");
            for n in [256usize, 4864] {
                if row_bytes(w_ty, n).is_err() {
                    continue;
                }
                let w = random_weights(w_ty, n, &mut rng);
                let acts: Vec<Vec<u8>> = (0..4)
                    .map(|_| {
                        let x: Vec<f32> = (0..n).map(|_| rng.normal(1.0)).collect();
                        let mut a = vec![0u8; row_bytes(k.act_ty, n).unwrap()];
                        quantize_activation(k.act_ty, &x, &mut a).unwrap();
                        a
                    })
                    .collect();
                // The same rows followed by their side data, as chord-cpu passes them: the
                // four-token kernels that read it must give the same bits, and every kernel
                // must ignore it where it does not.
                let with_extra: Vec<Vec<u8>> = acts
                    .iter()
                    .map(|a| {
                        let mut v = a.clone();
                        v.resize(a.len() + act_extra_bytes(k.act_ty, n), 0xA5);
                        let (row, ext) = v.split_at_mut(a.len());
                        fill_act_extra(k.act_ty, n, row, ext).unwrap();
                        v
                    })
                    .collect();
                let ext = [
                    &with_extra[0][..],
                    &with_extra[1][..],
                    &with_extra[2][..],
                    &with_extra[3][..],
                ];
                let grouped = f4g(n, &w, [&acts[0], &acts[1], &acts[2], &acts[3]]);
                assert_eq!(
                    f4g(n, &w, ext).map(f32::to_bits),
                    grouped.map(f32::to_bits),
                    "{w_ty} {} n={n}: grouped kernel with side data",
                    isa.name()
                );
                let gemm_order = (w_ty == GgmlType::Q4_K
                    && matches!(isa, Isa::Avx2 | Isa::Avx512Emu | Isa::Avx512))
                    || (w_ty == GgmlType::Q2_K && isa.is_avx512_order());
                let got = f4(n, &w, [&acts[0], &acts[1], &acts[2], &acts[3]]);
                let got_ext = f4(n, &w, ext);
                for t in 0..4 {
                    let one = k.dot(n, &w, &acts[t]);
                    assert_eq!(
                        k.dot(n, &w, &with_extra[t]).to_bits(),
                        one.to_bits(),
                        "{w_ty} {} n={n}: single-row kernel given a row with side data",
                        isa.name()
                    );
                    assert_eq!(
                        got_ext[t].to_bits(),
                        one.to_bits(),
                        "{w_ty} {} n={n} token {t}: four-token kernel with side data",
                        isa.name()
                    );
                    assert_eq!(
                        got[t].to_bits(),
                        one.to_bits(),
                        "{w_ty} {} n={n} token {t}",
                        isa.name()
                    );
                    if gemm_order {
                        let tol = 1e-5 * one.abs().max(1.0);
                        assert!(
                            (grouped[t] - one).abs() <= tol,
                            "{w_ty} {} n={n} token {t}: grouped {} vs {one}",
                            isa.name(),
                            grouped[t]
                        );
                    } else {
                        assert_eq!(grouped[t].to_bits(), one.to_bits(), "{w_ty} grouped");
                    }
                }
                checked += 1;
            }
        }
    }
    if Isa::Avx2.is_available() {
        assert!(checked >= 10, "{checked}");
    }
}

/// The eight-row kernels (rows as lanes, x86 Q4_K/Q6_K) return for every (row, token) exactly
/// the bits of the four-token kernel they stand for, for 1..7 tokens and runs longer than one
/// pass of sixteen, rows of one and several super-blocks, and activation rows with padding
/// between them.
#[test]
fn eight_row_kernels_equal_the_four_token_kernels() {
    let mut rng = Rng::new(8);
    let mut checked = 0;
    for isa in Isa::ALL.into_iter().filter(|i| i.is_available()) {
        for w_ty in WEIGHT_TYPES {
            let k = VecDotKernel::with_isa(w_ty, isa).unwrap();
            let pairs = [
                (k.rows8_grouped(), k.func4_grouped()),
                (k.rows8_tiled(), k.func4_tiled()),
            ];
            for (f8, f4) in pairs {
                let Some(f8) = f8 else { continue };
                let f4 = f4.expect("an eight-row kernel stands for a four-token one");
                for n in [256usize, 2048] {
                    let wr = row_bytes(w_ty, n).unwrap();
                    let w: Vec<u8> = (0..8)
                        .flat_map(|_| random_weights(w_ty, n, &mut rng))
                        .collect();
                    let ab = row_bytes(k.act_ty, n).unwrap();
                    for (n_tok, pad) in [(1, 0), (2, 0), (3, 4), (4, 0), (5, 0), (6, 0), (7, 0)]
                        .into_iter()
                        .chain([(16, 0), (21, 12), (35, 0)])
                    {
                        let stride = ab + pad;
                        let mut act = vec![0xA5u8; stride * n_tok];
                        for t in 0..n_tok {
                            let x: Vec<f32> = (0..n).map(|_| rng.normal(1.0)).collect();
                            let row = &mut act[t * stride..t * stride + ab];
                            quantize_activation(k.act_ty, &x, row).unwrap();
                        }
                        let mut out = vec![[0f32; 8]; n_tok];
                        f8(n, &w, wr, &act, stride, &mut out);
                        for t in 0..n_tok {
                            let a = &act[t * stride..t * stride + ab];
                            for r in 0..8 {
                                let want = f4(n, &w[r * wr..(r + 1) * wr], [a; 4])[0];
                                assert_eq!(
                                    out[t][r].to_bits(),
                                    want.to_bits(),
                                    "{w_ty} {} n={n} tokens={n_tok} t={t} r={r}: {} vs {want}",
                                    isa.name(),
                                    out[t][r]
                                );
                            }
                        }
                        checked += 1;
                    }
                    // Short slices: blocks they do not hold are skipped, never a panic.
                    let mut out = vec![[0f32; 8]; 3];
                    f8(n, &w[..w.len() - 1], wr, &[0u8; 300], ab, &mut out);
                    f8(n, &w, wr, &[], ab, &mut out);
                    f8(n, &w, wr, &[], ab, &mut []);
                }
            }
        }
    }
    if Isa::Avx2.is_available() {
        assert!(checked >= 40, "{checked}");
    }
}

/// The two-row four-token kernels return, per (row, token), exactly the four-token kernel's and
/// the single-row kernel's bits: with and without side data, with only some rows carrying it,
/// on random blocks and row lengths of 1 to 152 blocks; and they ignore blocks beyond the
/// shortest slice instead of reading past it.
#[test]
fn two_row_kernels_equal_the_four_token_kernel() {
    let mut rng = Rng::new(24);
    let mut checked = 0;
    for isa in Isa::ALL.into_iter().filter(|i| i.is_available()) {
        for w_ty in WEIGHT_TYPES {
            let Some(f24) = chord_quant::vec_dot_rows2x4(w_ty, isa) else {
                continue;
            };
            let k = VecDotKernel::with_isa(w_ty, isa).unwrap();
            let f4 = k
                .func4()
                .expect("a four-token kernel wherever there is a two-row one");
            let f4g = k.func4_grouped().expect("and a grouped one");
            for n in [32usize, 256, 640, 4864] {
                let w: Vec<Vec<u8>> = (0..2).map(|_| random_weights(w_ty, n, &mut rng)).collect();
                let acts: Vec<Vec<u8>> = (0..4)
                    .map(|_| {
                        let x: Vec<f32> = (0..n).map(|_| rng.normal(1.0)).collect();
                        let mut a = vec![0u8; row_bytes(k.act_ty, n).unwrap()];
                        quantize_activation(k.act_ty, &x, &mut a).unwrap();
                        let mut v = a.clone();
                        v.resize(a.len() + act_extra_bytes(k.act_ty, n), 0);
                        let (row, ext) = v.split_at_mut(a.len());
                        fill_act_extra(k.act_ty, n, row, ext).unwrap();
                        v
                    })
                    .collect();
                let ab = row_bytes(k.act_ty, n).unwrap();
                let plain: [&[u8]; 4] = std::array::from_fn(|t| &acts[t][..ab]);
                let extra: [&[u8]; 4] = std::array::from_fn(|t| &acts[t][..]);
                let mixed: [&[u8]; 4] =
                    std::array::from_fn(|t| if t == 2 { plain[t] } else { extra[t] });
                for (what, a) in [("plain", plain), ("side data", extra), ("mixed", mixed)] {
                    let got = f24(n, [&w[0], &w[1]], a);
                    for r in 0..2 {
                        let four = f4(n, &w[r], a);
                        let grouped = f4g(n, &w[r], a);
                        for t in 0..4 {
                            let one = k.dot(n, &w[r], plain[t]);
                            let msg =
                                format!("{w_ty} {} n={n} {what} row {r} token {t}", isa.name());
                            assert_eq!(got[r][t].to_bits(), four[t].to_bits(), "{msg}: vs x4");
                            assert_eq!(
                                got[r][t].to_bits(),
                                grouped[t].to_bits(),
                                "{msg}: vs grouped"
                            );
                            assert_eq!(got[r][t].to_bits(), one.to_bits(), "{msg}: vs one row");
                        }
                    }
                }
                // A shorter second row: only the blocks all slices have count, for both rows.
                if n > 32 {
                    let short = &w[1][..w[1].len() / 2];
                    let got = f24(n, [&w[0], short], extra);
                    let want = f4(n, short, extra);
                    let want0 = f4(n, &w[0][..short.len()], extra);
                    for t in 0..4 {
                        assert_eq!(got[1][t].to_bits(), want[t].to_bits(), "{w_ty} short row");
                        assert_eq!(
                            got[0][t].to_bits(),
                            want0[t].to_bits(),
                            "{w_ty} short row 0"
                        );
                    }
                }
                checked += 1;
            }
        }
    }
    if Isa::Avx2.is_available() {
        assert!(checked >= 8, "{checked}");
    }
}

/// The tile kernels on rows they unpacked return, per (row, token), exactly the two-row and
/// four-token kernels' bits on the packed rows: with and without side data, a row paired with
/// itself, and an unpack buffer shorter than the row (only the blocks it holds count).
#[test]
fn tile_kernels_on_unpacked_rows_equal_the_packed_kernels() {
    let mut rng = Rng::new(36);
    let mut checked = 0;
    for isa in Isa::ALL.into_iter().filter(|i| i.is_available()) {
        for w_ty in WEIGHT_TYPES {
            let Some(tk) = chord_quant::tile_kernels(w_ty, isa) else {
                continue;
            };
            let k = VecDotKernel::with_isa(w_ty, isa).unwrap();
            let f4 = k
                .func4()
                .expect("a four-token kernel wherever there are tile kernels");
            for n in [32usize, 640, 4864] {
                let w: Vec<Vec<u8>> = (0..2).map(|_| random_weights(w_ty, n, &mut rng)).collect();
                let u: Vec<Vec<u8>> = w
                    .iter()
                    .map(|w| {
                        let mut u = vec![0u8; (tk.row_bytes)(n)];
                        (tk.unpack)(n, w, &mut u);
                        u
                    })
                    .collect();
                let ab = row_bytes(k.act_ty, n).unwrap();
                let acts: Vec<Vec<u8>> = (0..4)
                    .map(|_| {
                        let x: Vec<f32> = (0..n).map(|_| rng.normal(1.0)).collect();
                        let mut v = vec![0u8; ab + act_extra_bytes(k.act_ty, n)];
                        let (row, ext) = v.split_at_mut(ab);
                        quantize_activation(k.act_ty, &x, row).unwrap();
                        fill_act_extra(k.act_ty, n, row, ext).unwrap();
                        v
                    })
                    .collect();
                let plain: [&[u8]; 4] = std::array::from_fn(|t| &acts[t][..ab]);
                let extra: [&[u8]; 4] = std::array::from_fn(|t| &acts[t][..]);
                for (what, a) in [("plain", plain), ("side data", extra)] {
                    let got = (tk.dot2x4)(n, [&u[0], &u[1]], a);
                    let same = (tk.dot2x4)(n, [&u[1], &u[1]], a);
                    for r in 0..2 {
                        let four = f4(n, &w[r], a);
                        for t in 0..4 {
                            let one = k.dot(n, &w[r], plain[t]);
                            let msg =
                                format!("{w_ty} {} n={n} {what} row {r} token {t}", isa.name());
                            assert_eq!(got[r][t].to_bits(), four[t].to_bits(), "{msg}: vs x4");
                            assert_eq!(got[r][t].to_bits(), one.to_bits(), "{msg}: vs one row");
                        }
                    }
                    assert_eq!(
                        same[0].map(f32::to_bits),
                        got[1].map(f32::to_bits),
                        "{w_ty} pair"
                    );
                    assert_eq!(
                        same[1].map(f32::to_bits),
                        got[1].map(f32::to_bits),
                        "{w_ty} pair"
                    );
                }
                // Half the unpacked row: the first half of the blocks, like a half-length row.
                if n > 32 {
                    let half = &u[0][..u[0].len() / 2];
                    let wh = &w[0][..w[0].len() / 2];
                    let got = (tk.dot2x4)(n, [half, half], extra);
                    let want = f4(n, wh, extra);
                    assert_eq!(
                        got[0].map(f32::to_bits),
                        want.map(f32::to_bits),
                        "{w_ty} half"
                    );
                }
                checked += 1;
            }
        }
    }
    if Isa::Avx2.is_available() {
        assert!(checked >= 3, "{checked}");
    }
}
