//! The element-wise kernels and the embedding lookup against chord-model's host ops (the ones
//! the forward pass runs today), on random inputs; the embedding also on a real model whose
//! token matrix is split into two device buffers.
//!
//! No tolerances: every kernel here has the host's bits. The embedding uses the same
//! dequantization formula; RMSNorm, RoPE, SwiGLU and GeGLU use exact.wgsl's correctly rounded
//! division, sqrt and fma (WGSL's need not be) and f16 conversions on the integers, the
//! attention kernel's expf (libm's bits) and f64 emulation (RMSNorm's f64 sum of squares), and
//! chord-model's GELU f16 table; the activation quantizers write chord-quant's bytes.

mod common;

use chord_gguf::GgmlType;
use chord_gpu::EMBED_TYPES;
use chord_model::{ops, MatRef, Model};
use common::{gpu, random_matrix, rel_err, Rng};

/// expf has libm's bits (chord-model's `math::expf`) over the range attention uses (scores
/// minus their max: 0 down to the underflow at -104) and beyond, on about 4 million inputs
/// plus the special values.
#[test]
fn expf_is_bit_identical_to_libm() {
    let mut x: Vec<f32> = Vec::new();
    // Every 509th bit pattern from 0 to 90 and from -0 to -120 (through the subnormal results).
    x.extend((0..0x42b4_0000u32).step_by(509).map(f32::from_bits));
    x.extend(
        (0x8000_0000..0xc2f0_0000u32)
            .step_by(509)
            .map(f32::from_bits),
    );
    // Densely around the branch points of the argument reduction and the subnormal range.
    for c in [
        0x3eb1_7218u32,
        0x3f85_1592,
        0x3900_0000,
        0x42ae_ac50,
        0x42b1_7218,
        0x42cf_f1b5,
    ] {
        for sign in [0, 0x8000_0000] {
            x.extend((c - 2000..c + 2000).map(|b| f32::from_bits(b | sign)));
        }
    }
    x.extend([
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::NAN,
        0.0,
        -0.0,
        f32::MIN_POSITIVE,
    ]);
    let mut got = vec![0f32; x.len()];
    for (xs, gs) in x.chunks(1 << 21).zip(got.chunks_mut(1 << 21)) {
        gpu().expf(xs, gs).unwrap();
    }
    let bad: Vec<(f32, f32, f32)> = x
        .iter()
        .zip(&got)
        .map(|(&x, &g)| (x, g, chord_model::math::expf(x)))
        .filter(|(_, g, w)| g.to_bits() != w.to_bits() && !(g.is_nan() && w.is_nan()))
        .collect();
    eprintln!("expf: {} inputs, {} differ", x.len(), bad.len());
    assert!(
        bad.is_empty(),
        "first differences (x, gpu, libm): {:?}",
        &bad[..bad.len().min(8)]
    );
}

/// The attention kernel's f64 emulation (the softmax denominator `l += e`, `l *= c`,
/// `(1 / l) as f32`) equals the host's f64 bit for bit: on random operands and on the
/// rounding ties, where an approximate f64 would go wrong (sums exactly half an ulp above a
/// value, products with the dropped bits exactly 100…0, and l just around 1/m for m halfway
/// between two f32, where the f64 quotient's rounding to f32 is a tie).
#[test]
fn f64_emulation_rounds_like_f64() {
    let mut rng = Rng::new(77);
    let (mut l, mut x, mut c) = (Vec::new(), Vec::new(), Vec::new());
    let mut bits = |lo: u64, hi: u64| lo + rng.next_u64() % (hi - lo);
    // l in [2^-20, 2^32], x in [2^-149, 2], c in [2^-60, 1]: any exponents.
    for _ in 0..200_000 {
        let lb = bits(1003u64 << 52, 1055u64 << 52);
        l.push(f64::from_bits(lb));
        x.push(f32::from_bits(bits(1, 0x4000_0000) as u32));
        c.push(f32::from_bits(bits(0x2180_0000, 0x3f80_0001) as u32));
    }
    for i in 0..200_000u64 {
        // Sum ties: x = (1, 2 or 3 halves, or a hair over one half) of an ulp of l.
        let lb = bits(1023u64 << 52, 1050u64 << 52);
        let lv = f64::from_bits(lb);
        let half_ulp = (2f64).powi(((lb >> 52) as i32) - 1023 - 53);
        let k = [1.0, 2.0, 3.0, 1.0 + 2f64.powi(-20)][(i % 4) as usize];
        l.push(lv);
        x.push((half_ulp * k) as f32);
        // Product ties: l = 1 + a·2^-52, c = (2^23 + b)·2^-24 with a·b = 2^22·odd.
        let sh = (i % 23) as u32;
        let a = (1u64 << sh) * ((bits(0, 1 << 10) << 1) | 1);
        let b = (1u64 << (22 - sh)) * ((bits(0, 1 << 10) << 1) | 1);
        let lt = f64::from_bits((1023u64 << 52) | (a & ((1 << 52) - 1)));
        let ct = ((1u64 << 23) + (b & ((1 << 23) - 1))) as f32 / (1u64 << 24) as f32;
        l.push(lt);
        x.push(0.0);
        c.push(ct);
        c.push(ct);
        // Reciprocal ties: l within 3 ulps of 1/m, m = (2j + 1)·2^-25 halfway between two f32.
        let j = bits(1 << 23, 1 << 24);
        let m = (2 * j + 1) as f64 / (1u64 << 25) as f64;
        let l0 = (1.0 / m).to_bits() as i64 + (i % 7) as i64 - 3;
        l.push(f64::from_bits(l0 as u64));
        x.push(f32::from_bits(bits(1, 0x3f80_0000) as u32));
        c.push(f32::from_bits(bits(0x3000_0000, 0x3f80_0000) as u32));
    }
    l.extend([0.0, 1.0, 2.0, 3.0, (2f64).powi(32)]);
    x.extend([0.0, 1.0, f32::from_bits(1), 0.0, 1.0]);
    c.extend([1.0, 0.0, 1.0, f32::from_bits(1), 0.5]);
    let mut bad = Vec::new();
    let n = l.len();
    for s in (0..n).step_by(1 << 20) {
        let e = (s + (1 << 20)).min(n);
        let got = gpu().f64_ops(&l[s..e], &x[s..e], &c[s..e]).unwrap();
        for (i, &(sum, prod, inv)) in (s..e).zip(&got) {
            let want = (l[i] + x[i] as f64, l[i] * c[i] as f64, (1.0 / l[i]) as f32);
            let inv_ok = l[i] == 0.0 || inv.to_bits() == want.2.to_bits();
            if sum.to_bits() != want.0.to_bits() || prod.to_bits() != want.1.to_bits() || !inv_ok {
                bad.push((l[i], x[i], c[i], (sum, prod, inv), want));
            }
        }
    }
    // How many cases are ties, where only exact f64 rounding gets the bits right.
    let sum_ties = (0..n)
        .filter(|&i| x[i] != 0.0 && (l[i] + x[i] as f64) - l[i] != x[i] as f64)
        .count();
    let inv_ties = l
        .iter()
        .filter(|&&v| v != 0.0 && (1.0 / v).to_bits() & 0x1fff_ffff == 0x1000_0000)
        .count();
    eprintln!(
        "f64 emulation: {n} cases ({sum_ties} inexact sums, {inv_ties} reciprocals halfway \
         between two f32), {} differ",
        bad.len()
    );
    assert!(inv_ties > 1000, "the reciprocal ties were not generated");
    assert!(
        bad.is_empty(),
        "first differences: {:?}",
        &bad[..bad.len().min(6)]
    );
}

/// Elements whose bits differ (NaNs of any payload count as equal).
fn bits_differ(got: &[f32], want: &[f32]) -> usize {
    assert_eq!(got.len(), want.len());
    got.iter()
        .zip(want)
        .filter(|(g, w)| g.to_bits() != w.to_bits() && !(g.is_nan() && w.is_nan()))
        .count()
}

/// A finite f32 of any exponent (subnormals included) and sign.
fn any_finite(rng: &mut Rng) -> f32 {
    loop {
        let v = f32::from_bits(rng.next_u64() as u32);
        if v.is_finite() {
            return v;
        }
    }
}

/// exact.wgsl's division, sqrt, fma and f16 conversions, and RMSNorm's f64 mean, equal the
/// host's correctly rounded operations bit for bit: on random finite operands of any exponent
/// (subnormal results included), on operands near each other's size, and on the cases where
/// rounding is hardest: fma's `c = -RN(a·b)` (the result is the product's rounding error,
/// massive cancellation), quotients and products landing on halfway points, f16 ties.
#[test]
fn exact_ops_are_correctly_rounded() {
    let mut rng = Rng::new(91);
    let (mut a, mut b, mut c) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..300_000u32 {
        match i % 6 {
            // Any exponents.
            0 => {
                a.push(any_finite(&mut rng));
                b.push(any_finite(&mut rng));
                c.push(any_finite(&mut rng));
            }
            // Ordinary sizes; c near a·b.
            1 => {
                let (x, y) = (rng.normal(3.0), rng.normal(3.0));
                a.push(x);
                b.push(y);
                c.push(x * y * rng.normal(2.0));
            }
            // c = -RN(a·b): the fma is the product's rounding error.
            2 => {
                let (x, y) = (rng.normal(1.0), rng.normal(100.0));
                a.push(x);
                b.push(y);
                c.push(-(x * y));
            }
            // Quotients of small integers (exact and halfway cases), c an f16 bit pattern.
            3 => {
                let x = (rng.next_u64() % (1 << 24)) as f32;
                let y = [1.0, 2.0, 3.0, 127.0, 0.5, 1024.0][(i / 6 % 6) as usize];
                a.push(x * [1.0, 2f32.powi(-30), 2f32.powi(-130)][(i / 36 % 3) as usize]);
                b.push(y);
                c.push(f32::from_bits(rng.next_u64() as u32 & 0xffff));
            }
            // f16 halfway cases (normal and subnormal halves) and overflow edges.
            4 => {
                let h = (rng.next_u64() % 0x7bff) as u32;
                let base = half::f16::from_bits(h as u16).to_f32();
                let next = half::f16::from_bits(h as u16 + 1).to_f32();
                let mid = ((base as f64 + next as f64) / 2.0) as f32;
                a.push(if i % 12 == 4 { mid } else { -mid });
                b.push(65504.0 + (rng.next_u64() % 32) as f32);
                c.push(f32::from_bits(
                    (rng.next_u64() as u32 & 0x3ff) | (0x7c00 * (i / 6 % 2)),
                ));
            }
            // Squares for the mean, n up to 2^24.
            _ => {
                a.push(rng.normal(10.0));
                b.push(rng.normal(0.01));
                c.push(f32::from_bits((rng.next_u64() % (1 << 24)) as u32));
            }
        }
    }
    a.extend([
        0.0,
        -0.0,
        1.0,
        -1.0,
        f32::MAX,
        f32::MIN_POSITIVE,
        f32::from_bits(1),
    ]);
    b.extend([1.0, 3.0, -0.0, f32::MAX, 0.5, 3.0, 0.5]);
    c.extend([-0.0, 0.0, 0.0, f32::MAX, -f32::MAX, f32::from_bits(1), 0.0]);
    let got = gpu().exact_ops(&a, &b, &c).unwrap();
    let mut bad = Vec::new();
    let mut worst = [0usize; 6];
    for (i, g) in got.iter().enumerate() {
        let (x, y, z) = (a[i], b[i], c[i]);
        let cb = z.to_bits();
        let n = (cb & 0xff_ffff).max(1);
        let sum = (x * x) as f64 + (y * y) as f64;
        let want = [
            (x / y).to_bits(),
            x.abs().sqrt().to_bits(),
            x.mul_add(y, z).to_bits(),
            half::f16::from_f32(x).to_bits() as u32,
            half::f16::from_bits(cb as u16).to_f32().to_bits(),
            ((sum / n as f64) as f32).to_bits(),
        ];
        // The mean is RMSNorm's, of finite squares.
        let ops = if (x * x).is_finite() && (y * y).is_finite() {
            6
        } else {
            5
        };
        for k in 0..ops {
            let nan = |b: u32| f32::from_bits(b).is_nan();
            let nan16 = |b: u32| (b & 0x7c00) == 0x7c00 && (b & 0x3ff) != 0;
            let both_nan = if k == 3 {
                nan16(g[k]) && nan16(want[k])
            } else {
                nan(g[k]) && nan(want[k])
            };
            if g[k] != want[k] && !both_nan {
                worst[k] += 1;
                if bad.len() < 12 {
                    bad.push((k, x, y, z, g[k], want[k]));
                }
            }
        }
    }
    eprintln!(
        "exact ops: {} cases; differ: div {}, sqrt {}, fma {}, f16 {}, f16->f32 {}, mean {}",
        a.len(),
        worst[0],
        worst[1],
        worst[2],
        worst[3],
        worst[4],
        worst[5]
    );
    assert!(
        bad.is_empty(),
        "(op, a, b, c, gpu bits, host bits): {bad:?}"
    );
}

#[test]
fn rms_norm_matches_host() {
    let mut rng = Rng::new(1);
    for (n, rows, s) in [(640, 5, 2.0), (1536, 3, 0.01), (896, 4, 300.0)] {
        let x = rng.vec(n * rows, s);
        let w = rng.vec(n, 1.0);
        let mut want = vec![0f32; x.len()];
        ops::rms_norm_into(&x, &w, 1e-6, &mut want);
        let mut got = vec![0f32; x.len()];
        gpu().rms_norm(&x, &w, 1e-6, &mut got).unwrap();
        let d = bits_differ(&got, &want);
        eprintln!("rms_norm n={n}: {d} of {} differ", x.len());
        assert_eq!(d, 0, "rms_norm n={n}: rel err {:.2e}", rel_err(&got, &want));
    }
}

#[test]
fn rope_normal_and_neox_match_host() {
    let mut rng = Rng::new(2);
    let (n_tokens, n_heads, head_dim) = (5, 4, 64);
    for (neox, n_dims) in [(false, 64), (true, 64), (true, 32)] {
        let x = rng.vec(n_tokens * n_heads * head_dim, 1.0);
        let mut table = vec![0f32; n_tokens * n_dims];
        let mut want = x.clone();
        for t in 0..n_tokens {
            let tab = &mut table[t * n_dims..(t + 1) * n_dims];
            ops::rope_cache(7 + 1000 * t, n_dims, 10000.0, None, tab);
            let row = &mut want[t * n_heads * head_dim..(t + 1) * n_heads * head_dim];
            ops::rope_apply(row, head_dim, n_dims, neox, tab);
        }
        let mut got = x.clone();
        gpu()
            .rope(&mut got, n_tokens, n_heads, head_dim, n_dims, neox, &table)
            .unwrap();
        let d = bits_differ(&got, &want);
        eprintln!(
            "rope neox={neox} n_dims={n_dims}: {d} of {} differ",
            x.len()
        );
        assert_eq!(
            d,
            0,
            "rope neox={neox}: rel err {:.2e}",
            rel_err(&got, &want)
        );
    }
}

#[test]
fn swiglu_and_geglu_match_host() {
    let mut rng = Rng::new(3);
    let n = 30_000;
    let gate: Vec<f32> = (0..n)
        .map(|i| match i % 97 {
            0 => 11.0 + rng.normal(1.0),
            1 => -11.0 + rng.normal(1.0),
            2 => rng.normal(60.0),
            _ => rng.normal(4.0),
        })
        .collect();
    let up = rng.vec(n, 1.0);
    for name in ["swiglu", "geglu"] {
        let mut want = gate.clone();
        let mut got = gate.clone();
        if name == "swiglu" {
            ops::swiglu(&mut want, &up);
            gpu().swiglu(&mut got, &up).unwrap();
        } else {
            ops::geglu(&mut want, &up);
            gpu().geglu(&mut got, &up).unwrap();
        }
        let d = bits_differ(&got, &want);
        eprintln!("{name}: {d} of {n} differ");
        assert_eq!(d, 0, "{name}: rel err {:.2e}", rel_err(&got, &want));
    }
}

/// Inputs for the quantizers: ordinary rows, all-zero blocks, huge and tiny magnitudes,
/// subnormals, and rounding ties (a block whose largest magnitude is 127, the rest k + 0.5,
/// so `v · 127 / amax` is a tie; Q8_K's `-127 / max` is then ±1 too).
fn quant_inputs(rng: &mut Rng, n_blocks: usize, block: usize) -> Vec<f32> {
    let mut x = Vec::new();
    for b in 0..n_blocks {
        let scale = [1.0, 0.0, 1e30, 1e-30, 1e-40, 1.0, 3.0, 1e-3][b % 8];
        for i in 0..block {
            let v = match b % 8 {
                5 if i == 0 => 127.0,
                5 | 6 => {
                    let k = (rng.next_u64() % 250) as f32 - 125.0;
                    if b % 8 == 6 && i == 3 {
                        -127.0
                    } else {
                        k + 0.5
                    }
                }
                _ => rng.normal(1.0) * scale,
            };
            x.push(v);
        }
    }
    x
}

/// The device quantizers write `chord_quant::quantize_activation`'s bytes: Q8_0 (odd and even
/// block counts: two blocks share words), Q8_K and F16 (odd lengths).
#[test]
fn activation_quantizers_are_byte_identical() {
    let mut rng = Rng::new(5);
    for (ty, block, counts) in [
        (GgmlType::Q8_0, 32, &[1usize, 2, 7, 40, 161][..]),
        (GgmlType::Q8_K, 256, &[1, 3, 16][..]),
        (GgmlType::F16, 1, &[1, 2, 333, 5000][..]),
    ] {
        for &nb in counts {
            let x = if ty == GgmlType::F16 {
                let mut v = rng.vec(nb, 10.0);
                for (i, e) in v.iter_mut().enumerate() {
                    *e *= [1.0, 1e4, 1e-5, 1e-8, 7000.0][i % 5];
                }
                v
            } else {
                quant_inputs(&mut rng, nb, block)
            };
            let mut want = vec![0u8; chord_quant::row_bytes(ty, x.len()).unwrap()];
            chord_quant::quantize_activation(ty, &x, &mut want).unwrap();
            let got = gpu().quantize_activation(ty, &x).unwrap();
            assert_eq!(got.len(), want.len());
            let differ = got.iter().zip(&want).filter(|(g, w)| g != w).count();
            eprintln!("quantize {ty} x {}: {differ} bytes differ", x.len());
            assert_eq!(got, want, "quantize {ty}, {} values", x.len());
        }
    }
    assert!(gpu()
        .quantize_activation(GgmlType::Q8_0, &[1.0; 33])
        .is_err());
    assert!(gpu()
        .quantize_activation(GgmlType::Q4_K, &[1.0; 256])
        .is_err());
}

#[test]
fn embedding_every_type_matches_dequantize() {
    let mut rng = Rng::new(4);
    let (rows, cols) = (50, 512);
    for &ty in &EMBED_TYPES {
        let data = random_matrix(ty, rows, cols, &mut rng);
        let w = MatRef {
            name: "tok",
            ty,
            rows,
            cols,
            data: &data,
        };
        let tokens = [3u32, 49, 0, 3];
        let rb = chord_quant::row_bytes(ty, cols).unwrap();
        let mut want = vec![0f32; tokens.len() * cols];
        for (i, &t) in tokens.iter().enumerate() {
            let row = &data[t as usize * rb..(t as usize + 1) * rb];
            chord_quant::dequantize(ty, row, &mut want[i * cols..(i + 1) * cols]).unwrap();
        }
        let mut got = vec![f32::NAN; want.len()];
        gpu().embed(&w, &tokens, &mut got).unwrap();
        let e = rel_err(&got, &want);
        assert!(e == 0.0, "embed {ty}: {e}");
    }
    // A token past the matrix is a typed error.
    let data = random_matrix(GgmlType::Q8_0, 2, 32, &mut rng);
    let w = MatRef {
        name: "tok",
        ty: GgmlType::Q8_0,
        rows: 2,
        cols: 32,
        data: &data,
    };
    let mut out = vec![0f32; 32];
    assert!(gpu().embed(&w, &[2], &mut out).is_err());
}

#[test]
fn embedding_of_a_split_real_matrix() {
    // Gemma 3 270M's Q8_0 token matrix is 178 MB: two buffers under lavapipe's 128 MiB binding.
    let path = chord_testkit::model("gemma3-270m");
    let model = Model::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let t = &model.weights.tok_embd;
    let w = model.file.mat(t).expect("a mapped file is resident");
    let parts = gpu().upload(&w).unwrap();
    assert!(parts >= 2, "expected a split matrix, got {parts} part(s)");
    let tokens = [2u32, 1000, (w.rows - 1) as u32, 200_000];
    let rb = chord_quant::row_bytes(w.ty, w.cols).unwrap();
    let mut want = vec![0f32; tokens.len() * w.cols];
    for (i, &tok) in tokens.iter().enumerate() {
        let row = &w.data[tok as usize * rb..(tok as usize + 1) * rb];
        chord_quant::dequantize(w.ty, row, &mut want[i * w.cols..(i + 1) * w.cols]).unwrap();
    }
    let mut got = vec![f32::NAN; want.len()];
    gpu().embed(&w, &tokens, &mut got).unwrap();
    assert_eq!(rel_err(&got, &want), 0.0);
}

#[test]
fn new_bytes_at_a_reused_address_are_uploaded_again() {
    // Two matrices of the same name, type, shape and length, one after the other in the same
    // buffer: the second must not be served from the first's upload.
    let mut rng = Rng::new(9);
    let mut buf = random_matrix(GgmlType::Q8_0, 4, 64, &mut rng);
    let x = rng.vec(64, 1.0);
    let mut outs = Vec::new();
    for _ in 0..2 {
        let w = MatRef {
            name: "reused",
            ty: GgmlType::Q8_0,
            rows: 4,
            cols: 64,
            data: &buf,
        };
        let mut got = vec![0f32; 4];
        let mut want = vec![0f32; 4];
        chord_model::Backend::matmul(gpu(), w, &x, 1, &mut got).unwrap();
        chord_model::Backend::matmul(&common::cpu_scalar(), w, &x, 1, &mut want).unwrap();
        assert_eq!(got, want);
        outs.push(got);
        let fresh = random_matrix(GgmlType::Q8_0, 4, 64, &mut rng);
        buf.copy_from_slice(&fresh);
    }
    assert_ne!(outs[0], outs[1]);
}
