//! The prefill matmul deals rows out in tiles and runs them through one-, four-token and
//! two-row four-token kernels (and an odd row through the four-token one), from 8 tokens over
//! Q5_0 rows unpacked per tile (in sub-tiles for long rows): whatever the row and
//! token counts and sequence grouping, every output must have the bits of the single-row
//! kernel on that token's quantized activation row. Random Q5_0 / Q8_0 weights (the types with
//! two-row kernels) and random activations, every kernel flavour this CPU has.

use chord_cpu::CpuBackend;
use chord_gguf::GgmlType;
use chord_model::{Backend, MatRef};
use chord_quant::{quantize_activation, row_bytes, Isa, VecDotKernel};

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn byte(&mut self) -> u8 {
        (self.next() >> 56) as u8
    }
    /// Roughly normal (sum of uniforms), scaled.
    fn normal(&mut self, s: f32) -> f32 {
        let u: f32 = (0..4)
            .map(|_| (self.next() >> 40) as f32 / (1u64 << 24) as f32)
            .sum();
        (u - 2.0) * s
    }
}

/// Random quants with small finite f16 scales (the first two bytes of each block).
fn random_weights(ty: GgmlType, rows: usize, cols: usize, rng: &mut Rng) -> Vec<u8> {
    let mut w: Vec<u8> = (0..rows * row_bytes(ty, cols).unwrap())
        .map(|_| rng.byte())
        .collect();
    for b in w.chunks_exact_mut(ty.type_size() as usize) {
        let d = half::f16::from_f32(0.001 + (rng.byte() as f32) * 1e-4);
        b[..2].copy_from_slice(&d.to_le_bytes());
    }
    w
}

#[test]
fn every_tile_shape_gives_the_single_row_bits() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut checked = 0;
    for isa in Isa::ALL.into_iter().filter(|i| i.is_available()) {
        let be = CpuBackend::with_isa(2, isa).unwrap();
        for ty in [GgmlType::Q5_0, GgmlType::Q8_0] {
            let k = VecDotKernel::with_isa(ty, isa).unwrap();
            // 4864 columns: Q5_0 rows too long for a 16-row unpacked tile (sub-tiles of 4 rows).
            for (rows, cols) in [
                (1, 64),
                (3, 640),
                (16, 96),
                (17, 640),
                (33, 96),
                (40, 256),
                (17, 4864),
            ] {
                let w = random_weights(ty, rows, cols, &mut rng);
                let wr = row_bytes(ty, cols).unwrap();
                let m = MatRef {
                    name: "w",
                    ty,
                    rows,
                    cols,
                    data: &w,
                };
                for n_tokens in 1..=12 {
                    let x: Vec<f32> = (0..n_tokens * cols).map(|_| rng.normal(1.0)).collect();
                    // The reference: each token quantized alone, each row by the one-row kernel.
                    let ab = row_bytes(k.act_ty, cols).unwrap();
                    let mut want = vec![0f32; n_tokens * rows];
                    for t in 0..n_tokens {
                        let mut a = vec![0u8; ab];
                        quantize_activation(k.act_ty, &x[t * cols..(t + 1) * cols], &mut a)
                            .unwrap();
                        for r in 0..rows {
                            want[t * rows + r] = k.dot(cols, &w[r * wr..(r + 1) * wr], &a);
                        }
                    }
                    // One sequence, then the same tokens as sequences of 1..3 tokens (the
                    // server's batches: tokens pooled across sequences four at a time).
                    let mut ragged = Vec::new();
                    let (mut left, mut len) = (n_tokens, 1);
                    while left > 0 {
                        ragged.push(len.min(left));
                        left -= len.min(left);
                        len = len % 3 + 1;
                    }
                    for groups in [vec![n_tokens], ragged] {
                        let mut y = vec![f32::NAN; n_tokens * rows];
                        be.matmul_multi_grouped(&[m], &x, &groups, &mut [&mut y])
                            .unwrap();
                        for (i, (g, e)) in y.iter().zip(&want).enumerate() {
                            assert_eq!(
                                g.to_bits(),
                                e.to_bits(),
                                "{ty} {} {rows}x{cols}, {n_tokens} tokens {groups:?}: token {} row {}",
                                isa.name(),
                                i / rows,
                                i % rows
                            );
                        }
                        checked += 1;
                    }
                }
            }
        }
    }
    assert!(checked >= 2 * 7 * 12 * 2, "{checked}");
}
