//! CPU attention over the F16 KV cache (the default) against the scalar reference
//! `chord_model::ops::attention`, on random data: every ISA flavour this CPU has, one and two
//! threads, prefill from an empty cache and in chunks, decode, sliding windows, the GQA ratios of
//! the real models, head sizes the blocked x86 kernel takes and ones it leaves to the generic code,
//! and key counts that end mid-tile. Also: a token's output does not depend on how the tokens
//! were batched (prefill vs one decode step at a time) or on the thread count, bit for bit,
//! which the batched forward pass relies on.

use chord_cpu::CpuBackend;
use chord_model::{ops, AttentionArgs, Backend, KvSlice};
use chord_quant::Isa;
use half::f16;

/// xorshift64*: reproducible inputs without a dependency.
struct Rng(u64);
impl Rng {
    fn f32(&mut self) -> f32 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let x = self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 40;
        x as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
    }
}

#[derive(Clone, Copy, Debug)]
struct Case {
    n_head: usize,
    n_head_kv: usize,
    head_dim: usize,
    window: usize,
}

/// A cache of `n_ctx` positions with random keys and values, and random queries.
struct Data {
    k: Vec<f16>,
    v: Vec<f16>,
    q: Vec<f32>,
}

impl Data {
    fn new(c: Case, n_ctx: usize, seed: u64) -> Data {
        let mut rng = Rng(seed);
        let kv = n_ctx * c.n_head_kv * c.head_dim;
        // Keys scaled so scores spread over several units (softmax far from uniform).
        let k = (0..kv).map(|_| f16::from_f32(rng.f32() * 2.0)).collect();
        let v = (0..kv).map(|_| f16::from_f32(rng.f32())).collect();
        let q = (0..n_ctx * c.n_head * c.head_dim)
            .map(|_| rng.f32())
            .collect();
        Data { k, v, q }
    }

    /// Attention for tokens `pos0..pos0 + n` (their queries are rows `pos0..` of `q`).
    fn run(&self, c: Case, pos0: usize, n: usize, be: Option<&CpuBackend>) -> Vec<f32> {
        let row = c.n_head * c.head_dim;
        let kv_used = (pos0 + n) * c.n_head_kv * c.head_dim;
        let mut out = vec![f32::NAN; n * row];
        let mut scores = vec![0f32; pos0 + n];
        let args = AttentionArgs {
            q: &self.q[pos0 * row..(pos0 + n) * row],
            k: KvSlice::F16(&self.k[..kv_used]),
            v: KvSlice::F16(&self.v[..kv_used]),
            out: &mut out,
            n_tokens: n,
            pos0,
            n_head: c.n_head,
            n_head_kv: c.n_head_kv,
            head_dim: c.head_dim,
            scale: 1.0 / (c.head_dim as f32).sqrt(),
            window: c.window,
            scores: &mut scores,
        };
        match be {
            Some(be) => be.attention(args).expect("attention"),
            None => ops::attention(args),
        }
        out
    }
}

const CASES: [Case; 7] = [
    // Gemma 3 270M: 4 query heads on 1 KV head of 256, sliding window on most layers.
    Case {
        n_head: 4,
        n_head_kv: 1,
        head_dim: 256,
        window: 0,
    },
    Case {
        n_head: 4,
        n_head_kv: 1,
        head_dim: 256,
        window: 37,
    },
    // Qwen2.5-Coder 0.5B (14/2 × 64) and 1.5B (12/2 × 128).
    Case {
        n_head: 14,
        n_head_kv: 2,
        head_dim: 64,
        window: 0,
    },
    Case {
        n_head: 12,
        n_head_kv: 2,
        head_dim: 128,
        window: 0,
    },
    // Multi-head (no sharing), a small head, and a head size the blocked kernel does not take.
    Case {
        n_head: 3,
        n_head_kv: 3,
        head_dim: 16,
        window: 5,
    },
    Case {
        n_head: 6,
        n_head_kv: 2,
        head_dim: 48,
        window: 0,
    },
    Case {
        n_head: 2,
        n_head_kv: 1,
        head_dim: 40,
        window: 0,
    },
];

fn backends() -> Vec<CpuBackend> {
    let mut v = Vec::new();
    for isa in Isa::ALL.into_iter().filter(|i| i.is_available()) {
        for threads in [1, 2] {
            v.push(CpuBackend::with_isa(threads, isa).expect("available ISA"));
        }
    }
    v
}

/// Largest |got - want| over the outputs, after checking every output is finite.
fn max_err(got: &[f32], want: &[f32]) -> f32 {
    assert_eq!(got.len(), want.len());
    got.iter()
        .zip(want)
        .map(|(g, w)| {
            assert!(g.is_finite(), "non-finite output {g}");
            (g - w).abs()
        })
        .fold(0.0, f32::max)
}

/// Outputs are averages of values in [-1, 1]; the reference sums in another order (one pass
/// with the global max, f32 scores summed in element order), so a few ulps of 1 apart.
const TOL: f32 = 2e-6;

#[test]
fn f16_attention_matches_the_scalar_reference() {
    let bes = backends();
    // (pos0, n_tokens): prefill from empty (ragged tile ends, more than one tile, larger than
    // the row blocks), a chunk after earlier tokens, and decode steps around tile boundaries.
    let calls = [
        (0, 1),
        (0, 5),
        (0, 37),
        (0, 150),
        (50, 23),
        (1, 1),
        (31, 1),
        (32, 1),
        (33, 1),
        (127, 1),
        (128, 1),
        (200, 1),
        (260, 3),
    ];
    let mut worst = 0f32;
    for (ci, &c) in CASES.iter().enumerate() {
        let data = Data::new(c, 300, 0x9e37_79b9 + ci as u64);
        for &(pos0, n) in &calls {
            let want = data.run(c, pos0, n, None);
            for be in &bes {
                let got = data.run(c, pos0, n, Some(be));
                let e = max_err(&got, &want);
                assert!(
                    e <= TOL,
                    "{c:?} pos0 {pos0} n {n} on {}: max error {e:e}",
                    be.name()
                );
                worst = worst.max(e);
            }
        }
    }
    eprintln!("worst |error| {worst:e}");
}

/// Each token's output is a function of its query, its position and the cache: the same bits
/// from one prefill call as from decode steps one token at a time, with one thread or two.
#[test]
fn f16_attention_rows_do_not_depend_on_batching() {
    for isa in Isa::ALL.into_iter().filter(|i| i.is_available()) {
        let one = CpuBackend::with_isa(1, isa).expect("available ISA");
        let two = CpuBackend::with_isa(2, isa).expect("available ISA");
        for (ci, &c) in CASES.iter().enumerate() {
            let n = 150;
            let data = Data::new(c, n, 7 + ci as u64);
            let row = c.n_head * c.head_dim;
            let batch = data.run(c, 0, n, Some(&one));
            assert_eq!(bits(&data.run(c, 0, n, Some(&two))), bits(&batch), "{c:?}");
            // Two chunks, then single steps.
            let mut pieces = data.run(c, 0, 70, Some(&two));
            pieces.extend(data.run(c, 70, 41, Some(&one)));
            for pos in 111..n {
                pieces.extend(data.run(c, pos, 1, Some(&two)));
            }
            assert_eq!(pieces.len(), n * row);
            assert_eq!(bits(&pieces), bits(&batch), "{c:?} on {}", isa.name());
        }
    }
}

/// A prompt whose prefix came from an earlier call (the server's prefix cache) then the rest as
/// one chunk: the same bits as the whole prompt in one call, wherever the split falls (around
/// the row blocks of 4 and 6, the score blocks and every tile size of the cases).
#[test]
fn f16_attention_prefix_then_chunk_equals_one_call() {
    let splits = [
        1, 2, 3, 4, 5, 7, 11, 17, 18, 19, 31, 32, 33, 63, 64, 65, 127, 128, 129,
    ];
    for isa in Isa::ALL.into_iter().filter(|i| i.is_available()) {
        for threads in [1, 2] {
            let be = CpuBackend::with_isa(threads, isa).expect("available ISA");
            for (ci, &c) in CASES.iter().enumerate() {
                let n = 140;
                let data = Data::new(c, n, 99 + ci as u64);
                let whole = bits(&data.run(c, 0, n, Some(&be)));
                for s in splits {
                    let mut p = data.run(c, 0, s, Some(&be));
                    p.extend(data.run(c, s, n - s, Some(&be)));
                    let name = isa.name();
                    assert_eq!(bits(&p), whole, "{c:?} split at {s} on {name} ×{threads}");
                }
            }
        }
    }
}

fn bits(x: &[f32]) -> Vec<u32> {
    x.iter().map(|v| v.to_bits()).collect()
}

/// Bad shapes and short buffers are typed errors, not panics.
#[test]
fn f16_attention_rejects_bad_shapes() {
    let be = CpuBackend::new(1);
    let c = CASES[0];
    let data = Data::new(c, 4, 1);
    let mut out = vec![0f32; 4 * c.n_head * c.head_dim];
    let mut scores = vec![0f32; 8];
    let mut args = |n_head_kv: usize, pos0: usize| {
        be.attention(AttentionArgs {
            q: &data.q,
            k: KvSlice::F16(&data.k),
            v: KvSlice::F16(&data.v),
            out: &mut out,
            n_tokens: 4,
            pos0,
            n_head: c.n_head,
            n_head_kv,
            head_dim: c.head_dim,
            scale: 1.0,
            window: 0,
            scores: &mut scores,
        })
    };
    assert!(args(3, 0).is_err(), "heads not a multiple of kv heads");
    assert!(args(0, 0).is_err(), "no kv heads");
    assert!(args(1, 1).is_err(), "cache shorter than pos0 + n_tokens");
    assert!(args(1, 0).is_ok());
}
