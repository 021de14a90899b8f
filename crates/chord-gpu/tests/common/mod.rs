//! Shared helpers of chord-gpu's tests: the GPU backend (a test FAILS when no adapter exists:
//! `scripts/setup.d/gpu.sh` installs lavapipe), the scalar CPU backend they are compared with,
//! random inputs and the comparison measure.
#![allow(dead_code)]

use chord_gguf::GgmlType;
use chord_gpu::GpuBackend;
use std::sync::OnceLock;

/// One device for all tests of a binary (opening lavapipe costs ~0.1 s, compiling shaders more).
pub fn gpu() -> &'static GpuBackend {
    static G: OnceLock<GpuBackend> = OnceLock::new();
    G.get_or_init(|| {
        GpuBackend::new().unwrap_or_else(|e| {
            panic!("a GPU adapter is required (run scripts/setup.d/gpu.sh for lavapipe): {e}")
        })
    })
}

/// A GPU backend of its own (dispatch counts, weights and pipelines not shared with other tests).
pub fn fresh_gpu() -> GpuBackend {
    GpuBackend::new().unwrap_or_else(|e| {
        panic!("a GPU adapter is required (run scripts/setup.d/gpu.sh for lavapipe): {e}")
    })
}

/// The CPU backend with chord-quant's scalar kernels: the operation order the GPU kernels follow.
pub fn cpu_scalar() -> chord_cpu::CpuBackend {
    chord_cpu::CpuBackend::with_isa(1, chord_quant::Isa::Scalar).expect("scalar is always there")
}

/// xorshift64*: reproducible inputs without a dependency.
pub struct Rng(u64);
impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn byte(&mut self) -> u8 {
        (self.next_u64() >> 56) as u8
    }
    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }
    /// Roughly normal with standard deviation `s` (sum of uniforms).
    pub fn normal(&mut self, s: f32) -> f32 {
        let u: f32 = (0..4).map(|_| self.uniform()).sum::<f32>() - 2.0;
        u * s * 1.732
    }
    pub fn vec(&mut self, n: usize, s: f32) -> Vec<f32> {
        (0..n).map(|_| self.normal(s)).collect()
    }
}

/// Byte offsets of the f16 scale fields inside one block of `ty` (the rest of a block may be
/// any bits).
fn f16_fields(ty: GgmlType) -> &'static [usize] {
    match ty {
        GgmlType::Q4_0 | GgmlType::Q5_0 | GgmlType::Q8_0 => &[0],
        GgmlType::Q4_K | GgmlType::Q5_K => &[0, 2],
        GgmlType::Q6_K => &[208],
        _ => &[],
    }
}

/// `rows` random but valid rows of `cols` weights of `ty`: random quant bits, small finite scales.
pub fn random_matrix(ty: GgmlType, rows: usize, cols: usize, rng: &mut Rng) -> Vec<u8> {
    let n = rows * cols;
    let mut w = vec![0u8; chord_quant::row_bytes(ty, cols).expect("supported type") * rows];
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
        _ => {
            w.iter_mut().for_each(|b| *b = rng.byte());
            for block in w.chunks_exact_mut(ty.type_size() as usize) {
                for &off in f16_fields(ty) {
                    let v = rng.uniform() * 0.02;
                    block[off..off + 2].copy_from_slice(&half::f16::from_f32(v).to_le_bytes());
                }
            }
        }
    }
    assert_eq!(w.len() % (chord_quant::row_bytes(ty, cols).unwrap()), 0);
    let _ = n;
    w
}

/// Largest |a - b| over the largest |b| (the measure the whole-model tests use for logits).
pub fn rel_err(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    let scale = b
        .iter()
        .fold(0f32, |m, v| m.max(v.abs()))
        .max(f32::MIN_POSITIVE);
    let d = a.iter().zip(b).fold(0f32, |m, (x, y)| m.max((x - y).abs()));
    d / scale
}
