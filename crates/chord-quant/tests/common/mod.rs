//! Shared test helpers: where fixtures, real models and expected outputs live; a tiny RNG.
#![allow(dead_code)]

use std::path::PathBuf;

/// The real models every full test walks (Q4_K_M mixes: Q4_K, Q5_0, Q6_K, Q8_0, F32).
pub const MODELS: [&str; 3] = [
    "gemma-3-270m-q4_k_m.gguf",
    "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
    "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
];

/// One tiny fixture per quantization type.
pub const FIXTURES: [&str; 15] = [
    "tiny-llama-f32.gguf",
    "tiny-llama-f16.gguf",
    "tiny-llama-bf16.gguf",
    "tiny-llama-q4_0.gguf",
    "tiny-llama-q4_1.gguf",
    "tiny-llama-q5_0.gguf",
    "tiny-llama-q5_1.gguf",
    "tiny-llama-q8_0.gguf",
    "tiny-llama-q2_k.gguf",
    "tiny-llama-q3_k.gguf",
    "tiny-llama-q4_k.gguf",
    "tiny-llama-q5_k.gguf",
    "tiny-llama-q6_k.gguf",
    "tiny-llama-iq4_nl.gguf",
    "tiny-llama-iq4_xs.gguf",
];

// Each test binary uses a different subset of these helpers.
#[allow(unused_imports)]
pub use chord_testkit::{fixture, fixtures_dir, repo_root};

/// A real model by file name from the model cache (fails the test if it is not there).
pub fn model(name: &str) -> PathBuf {
    chord_testkit::model(name)
}

/// `tests/data/quant/<stem>.json`, written by `tools/dequant_expected.py`.
pub fn expected_json(gguf_name: &str) -> serde_json::Value {
    let stem = gguf_name.trim_end_matches(".gguf");
    let p = repo_root()
        .join("tests/data/quant")
        .join(format!("{stem}.json"));
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| {
        panic!(
            "cannot read {}: {e} (run tools/dequant_expected.py)",
            p.display()
        )
    });
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("bad JSON in {}: {e}", p.display()))
}

/// xorshift64*: deterministic test data without a dependency.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn byte(&mut self) -> u8 {
        (self.next_u64() >> 56) as u8
    }
    /// Uniform in [-1, 1).
    pub fn uniform(&mut self) -> f32 {
        ((self.next_u64() >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }
    /// Roughly normal (sum of uniforms), scaled.
    pub fn normal(&mut self, scale: f32) -> f32 {
        let s: f32 = (0..4).map(|_| self.uniform()).sum();
        s * 0.866 * scale
    }
}

/// Lower-case hex to bytes.
pub fn from_hex(s: &str) -> Vec<u8> {
    assert!(s.len() / 2 * 2 == s.len(), "odd hex length");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex digit"))
        .collect()
}
