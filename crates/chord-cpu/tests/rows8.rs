//! The matmul's eight-row K-quant kernels (x86 Q4_K / Q6_K, rows as lanes) change no bits:
//! for matrices whose row counts are not multiples of eight (so chunks end in leftover rows
//! that the four-token kernels take), several matrices sharing one dispatch, one and two
//! threads, and sequences of 1..9 tokens and longer, every output equals the kernel llama.cpp's
//! order gives that token (tiled for sequences of at least `TILED_MIN_ROWS` tokens where the
//! type has it, the grouped kernel for whole quads of a sequence, the one-token kernel for the
//! rest), computed row by row.

use chord_cpu::CpuBackend;
use chord_gguf::GgmlType;
use chord_model::{Backend, MatRef};
use chord_quant::{quantize_activation, row_bytes, Isa, VecDotKernel, TILED_MIN_ROWS};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn byte(&mut self) -> u8 {
        (self.next() >> 56) as u8
    }
    fn unit(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 24) as f32
    }
}

/// Random quant bits with small finite f16 scales (`d`, and `dmin` for Q4_K).
fn random_matrix(ty: GgmlType, rows: usize, cols: usize, rng: &mut Rng) -> Vec<u8> {
    let mut w: Vec<u8> = (0..rows * row_bytes(ty, cols).unwrap())
        .map(|_| rng.byte())
        .collect();
    let (bs, fields): (usize, &[usize]) = match ty {
        GgmlType::Q4_K => (144, &[0, 2]),
        GgmlType::Q6_K => (210, &[208]),
        _ => unreachable!("K-quant types only"),
    };
    for block in w.chunks_exact_mut(bs) {
        for &f in fields {
            let v = half::f16::from_f32(rng.unit() * 0.02);
            block[f..f + 2].copy_from_slice(&v.to_le_bytes());
        }
    }
    w
}

/// Row by row, the kernel llama.cpp's per-ubatch choice gives each token (as `run_rows`
/// documents), with the token's row repeated into the four-token kernels (their lanes are
/// independent).
fn expected(k: &VecDotKernel, w: &MatRef<'_>, acts: &[Vec<u8>], groups: &[usize]) -> Vec<f32> {
    let wr = row_bytes(w.ty, w.cols).unwrap();
    let row = |r: usize| &w.data[r * wr..(r + 1) * wr];
    let mut out = vec![0f32; acts.len() * w.rows];
    let mut t = 0;
    for &len in groups {
        let end = t + len;
        let tiled = k.func4_tiled().filter(|_| len >= TILED_MIN_ROWS);
        let quads_end = t + len / 4 * 4;
        for u in t..end {
            let a = &acts[u][..];
            for r in 0..w.rows {
                out[u * w.rows + r] = match (tiled, k.func4_grouped()) {
                    (Some(f), _) => f(w.cols, row(r), [a; 4])[0],
                    (None, Some(f)) if u < quads_end => f(w.cols, row(r), [a; 4])[0],
                    _ => k.dot(w.cols, row(r), a),
                };
            }
        }
        t = end;
    }
    out
}

#[test]
fn eight_row_kernels_in_the_matmul_equal_the_per_row_kernels() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut with_rows8 = 0;
    let isas = [Isa::Avx2, Isa::Avx512Emu, Isa::Avx512];
    for isa in isas.into_iter().filter(|i| i.is_available()) {
        for ty in [GgmlType::Q4_K, GgmlType::Q6_K] {
            let k = VecDotKernel::with_isa(ty, isa).unwrap();
            if k.rows8_grouped().is_some() || k.rows8_tiled().is_some() {
                with_rows8 += 1;
            }
            for threads in [1, 2] {
                let backend = CpuBackend::with_isa(threads, isa).unwrap();
                for cols in [256usize, 768] {
                    // Three matrices in one dispatch: the 16-row chunks straddle them.
                    let shapes = [13usize, 5, 21];
                    let data: Vec<Vec<u8>> = shapes
                        .iter()
                        .map(|&rows| random_matrix(ty, rows, cols, &mut rng))
                        .collect();
                    let mats: Vec<MatRef<'_>> = shapes
                        .iter()
                        .zip(&data)
                        .map(|(&rows, d)| MatRef {
                            name: "w",
                            ty,
                            rows,
                            cols,
                            data: d,
                        })
                        .collect();
                    let groups_list: [&[usize]; 13] = [
                        &[1],
                        &[2],
                        &[3],
                        &[4],
                        &[5],
                        &[6],
                        &[7],
                        &[8],
                        &[9],
                        &[17],
                        &[35],
                        &[5, 9, 3],
                        &[4, 8, 1],
                    ];
                    for groups in groups_list {
                        let n_tok: usize = groups.iter().sum();
                        let x: Vec<f32> =
                            (0..n_tok * cols).map(|_| rng.unit() * 2.0 - 1.0).collect();
                        let acts: Vec<Vec<u8>> = x
                            .chunks_exact(cols)
                            .map(|xr| {
                                let mut a = vec![0u8; row_bytes(k.act_ty, cols).unwrap()];
                                quantize_activation(k.act_ty, xr, &mut a).unwrap();
                                a
                            })
                            .collect();
                        let mut outs: Vec<Vec<f32>> = shapes
                            .iter()
                            .map(|&rows| vec![0f32; rows * n_tok])
                            .collect();
                        {
                            let mut ys: Vec<&mut [f32]> =
                                outs.iter_mut().map(|o| &mut o[..]).collect();
                            backend
                                .matmul_multi_grouped(&mats, &x, groups, &mut ys)
                                .unwrap();
                        }
                        for (m, (w, got)) in mats.iter().zip(&outs).enumerate() {
                            let want = expected(&k, w, &acts, groups);
                            for (i, (g, e)) in got.iter().zip(&want).enumerate() {
                                assert_eq!(
                                    g.to_bits(),
                                    e.to_bits(),
                                    "{ty} {} threads={threads} cols={cols} groups={groups:?} \
                                     matrix {m} token {} row {}: {g} vs {e}",
                                    isa.name(),
                                    i / w.rows,
                                    i % w.rows
                                );
                            }
                        }
                    }
                }
            }
        }
    }
    if Isa::Avx2.is_available() {
        // Q4_K and Q6_K in at least the avx2 and avx512emu flavours.
        assert!(with_rows8 >= 4, "{with_rows8}");
    }
}
