//! A batched forward pass over several sequences gives each sequence exactly the logits it gets
//! alone: batching is a scheduling choice and must never change results (the server relies on
//! it). Checked on a real model with sequences at different positions, prefill and decode mixed.

use chord_cpu::CpuBackend;
use chord_model::{Logits, Model, Scratch, SeqBatch};
use chord_testkit::model as model_path;

fn open(name: &str) -> Model {
    let p = model_path(name);
    Model::open(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn batch_equals_one_at_a_time() {
    let prompts: [&[u32]; 3] = [
        &[785, 6722, 315, 9625, 374],
        &[40, 1079],
        &[1, 2, 3, 4, 5, 6, 7],
    ];
    let next: [&[u32]; 3] = [&[12095], &[264, 1273, 11], &[13]];
    check_batch_equals_alone("qwen2.5-coder-0.5b", prompts, next);
}

/// Gemma: sliding-window layers, Q5_0/Q8_0 weights, the tied 262k-row output; prompts of the
/// lengths the server tests batch (BOS + a few words), one long enough for the tiled order.
#[test]
fn gemma_batch_equals_one_at_a_time() {
    let prompts: [&[u32]; 3] = [
        &[2, 818, 5279, 529, 7001, 563],
        &[2, 2063, 139, 9400, 236769, 236749, 1473],
        &[2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
    ];
    let next: [&[u32]; 3] = [&[506], &[107, 138, 1027], &[236761]];
    check_batch_equals_alone("gemma3-270m", prompts, next);
}

fn check_batch_equals_alone(name: &str, prompts: [&[u32]; 3], next: [&[u32]; 3]) {
    let model = open(name);
    let be = CpuBackend::new(2);

    // Alone: prompt, then the next chunk; keep the logits of every step.
    let mut alone = Vec::new();
    for (p, nx) in prompts.iter().zip(&next) {
        let mut cache = model.new_cache(64);
        let mut s = Scratch::default();
        let a = model
            .forward(&be, &mut cache, p, Logits::Last, &mut s)
            .unwrap()
            .to_vec();
        let b = model
            .forward(&be, &mut cache, nx, Logits::All, &mut s)
            .unwrap()
            .to_vec();
        alone.push((a, b));
    }

    // Together: all prompts in one pass, then all next chunks in one pass.
    let mut caches: Vec<_> = (0..3).map(|_| model.new_cache(64)).collect();
    let mut s = Scratch::default();
    let n_vocab = model.config.n_vocab;
    let mut seqs: Vec<SeqBatch> = caches
        .iter_mut()
        .zip(prompts)
        .map(|(cache, tokens)| SeqBatch {
            cache,
            tokens,
            logits: Logits::Last,
        })
        .collect();
    let first = model
        .forward_batch(&be, &mut seqs, &mut s)
        .unwrap()
        .to_vec();
    assert_eq!(first.len(), 3 * n_vocab);
    let mut seqs: Vec<SeqBatch> = caches
        .iter_mut()
        .zip(next)
        .map(|(cache, tokens)| SeqBatch {
            cache,
            tokens,
            logits: Logits::All,
        })
        .collect();
    let second = model
        .forward_batch(&be, &mut seqs, &mut s)
        .unwrap()
        .to_vec();
    assert_eq!(second.len(), (1 + 3 + 1) * n_vocab);

    let mut row = 0;
    for (i, (a, b)) in alone.iter().enumerate() {
        assert_eq!(&first[i * n_vocab..(i + 1) * n_vocab], &a[..], "prompt {i}");
        let rows = b.len() / n_vocab;
        assert_eq!(
            &second[row * n_vocab..(row + rows) * n_vocab],
            &b[..],
            "continuation {i}"
        );
        row += rows;
    }
    for (c, (p, nx)) in caches.iter().zip(prompts.iter().zip(&next)) {
        assert_eq!(c.len(), p.len() + nx.len());
    }
}

#[test]
fn batch_errors_leave_every_cache_untouched() {
    let model = open("gemma3-270m");
    let be = CpuBackend::new(1);
    let mut a = model.new_cache(8);
    let mut b = model.new_cache(4);
    let mut s = Scratch::default();
    // The second sequence does not fit: nothing may be written to either cache.
    let err = model.forward_batch(
        &be,
        &mut [
            SeqBatch {
                cache: &mut a,
                tokens: &[2, 100],
                logits: Logits::Last,
            },
            SeqBatch {
                cache: &mut b,
                tokens: &[2, 3, 4, 5, 6],
                logits: Logits::Last,
            },
        ],
        &mut s,
    );
    assert!(err.is_err());
    assert_eq!((a.len(), b.len()), (0, 0));
    // A bad token id in one sequence also leaves both untouched.
    let err = model.forward_batch(
        &be,
        &mut [
            SeqBatch {
                cache: &mut a,
                tokens: &[2, 100],
                logits: Logits::Last,
            },
            SeqBatch {
                cache: &mut b,
                tokens: &[u32::MAX],
                logits: Logits::Last,
            },
        ],
        &mut s,
    );
    assert!(err.is_err());
    assert_eq!((a.len(), b.len()), (0, 0));
    // An empty batch is an error, not a panic.
    assert!(model.forward_batch(&be, &mut [], &mut s).is_err());
}
