//! Sampler behaviour: greedy, seeded reproducibility, filters, penalties, the distribution the
//! draw follows, and errors on broken logits.

use chord_model::sampler::{SampleError, Sampler, SamplerConfig};

/// No filters, no penalties, temperature 1: samples straight from softmax(logits).
fn plain(seed: u64) -> SamplerConfig {
    SamplerConfig {
        temperature: 1.0,
        top_k: 0,
        top_p: 1.0,
        min_p: 0.0,
        repeat_penalty: 1.0,
        repeat_last_n: 0,
        frequency_penalty: 0.0,
        presence_penalty: 0.0,
        seed,
    }
}

/// Logits whose softmax is exactly `probs` (up to rounding).
fn logits_of(probs: &[f64]) -> Vec<f32> {
    probs.iter().map(|p| p.ln() as f32).collect()
}

/// A small deterministic generator of test logits (independent of the sampler's).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> f32 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 40) as f32 / (1u64 << 24) as f32) * 20.0 - 10.0
    }
    fn logits(&mut self, n: usize) -> Vec<f32> {
        (0..n).map(|_| self.next()).collect()
    }
}

fn candidate_ids(s: &Sampler) -> Vec<u32> {
    let mut ids: Vec<u32> = s.last_candidates().map(|(id, _)| id).collect();
    ids.sort_unstable();
    ids
}

#[test]
fn defaults_are_llama_cpp_defaults() {
    let c = SamplerConfig::default();
    assert_eq!(c.temperature, 0.8);
    assert_eq!(c.top_k, 40);
    assert_eq!(c.top_p, 0.95);
    assert_eq!(c.min_p, 0.05);
    assert_eq!(c.repeat_penalty, 1.0);
    assert_eq!(c.repeat_last_n, 64);
    assert_eq!(c.frequency_penalty, 0.0);
    assert_eq!(c.presence_penalty, 0.0);
    assert!(!c.penalties_active());
    let g = SamplerConfig::greedy();
    assert!(g.temperature <= 0.0);
}

#[test]
fn greedy_picks_argmax_lowest_id_on_ties() {
    let mut s = Sampler::new(SamplerConfig::greedy(), 6);
    let mut l = vec![0.5, 3.0, -1.0, 3.0, 2.9, f32::NEG_INFINITY];
    assert_eq!(s.sample(&mut l, &[]).unwrap(), 1);
    let mut l = vec![f32::NEG_INFINITY, -5.0, -7.0];
    assert_eq!(s.sample(&mut l, &[]).unwrap(), 1);
    // Greedy with other settings left at their defaults is still argmax.
    let cfg = SamplerConfig {
        temperature: 0.0,
        ..SamplerConfig::default()
    };
    let mut s = Sampler::new(cfg, 1000);
    let mut g = Lcg(7);
    for _ in 0..50 {
        let mut l = g.logits(1000);
        let best = l
            .iter()
            .enumerate()
            .fold(
                (0, f32::NEG_INFINITY),
                |b, (i, &v)| if v > b.1 { (i, v) } else { b },
            )
            .0 as u32;
        assert_eq!(s.sample(&mut l, &[]).unwrap(), best);
    }
}

#[test]
fn top_k_1_is_greedy() {
    let mut g = Lcg(3);
    let cfg = SamplerConfig {
        top_k: 1,
        temperature: 1.5,
        ..SamplerConfig::default()
    };
    let mut s = Sampler::new(cfg, 500);
    let mut greedy = Sampler::new(SamplerConfig::greedy(), 500);
    for _ in 0..100 {
        let l = g.logits(500);
        let a = s.sample(&mut l.clone(), &[]).unwrap();
        let b = greedy.sample(&mut l.clone(), &[]).unwrap();
        assert_eq!(a, b);
    }
}

#[test]
fn same_seed_same_tokens_different_seed_different_tokens() {
    let mut g = Lcg(11);
    let steps: Vec<Vec<f32>> = (0..200).map(|_| g.logits(300)).collect();
    let run = |seed: u64| -> Vec<u32> {
        let cfg = SamplerConfig {
            temperature: 1.3,
            repeat_penalty: 1.1,
            ..SamplerConfig {
                seed,
                ..SamplerConfig::default()
            }
        };
        let mut s = Sampler::new(cfg, 300);
        let mut hist = Vec::new();
        for l in &steps {
            let t = s.sample(&mut l.clone(), &hist).unwrap();
            hist.push(t);
        }
        hist
    };
    let a = run(1234);
    assert_eq!(a, run(1234));
    assert_ne!(a, run(1235));
    // reset() restarts the stream.
    let mut s = Sampler::new(plain(9), 300);
    let first: Vec<u32> = steps[..20]
        .iter()
        .map(|l| s.sample(&mut l.clone(), &[]).unwrap())
        .collect();
    s.reset();
    let again: Vec<u32> = steps[..20]
        .iter()
        .map(|l| s.sample(&mut l.clone(), &[]).unwrap())
        .collect();
    assert_eq!(first, again);
}

/// Pins the random stream: these tokens must not change across platforms (native and wasm32)
/// or releases, or seeded runs stop reproducing.
#[test]
fn seeded_stream_is_pinned() {
    let probs = [0.05, 0.1, 0.15, 0.2, 0.5];
    let mut s = Sampler::new(plain(42), probs.len());
    let got: Vec<u32> = (0..24)
        .map(|_| s.sample(&mut logits_of(&probs), &[]).unwrap())
        .collect();
    assert_eq!(
        got,
        [1, 3, 4, 4, 4, 4, 4, 4, 4, 4, 4, 2, 4, 3, 4, 4, 4, 4, 4, 4, 1, 2, 3, 4],
        "the seeded random stream changed"
    );
    // The default chain (top-k, top-p, min-p, temperature) over a larger vocabulary.
    let mut g = Lcg(1);
    let mut s = Sampler::new(SamplerConfig::default(), 1000);
    let got: Vec<u32> = (0..16)
        .map(|_| {
            let mut l: Vec<f32> = g.logits(1000).iter().map(|v| v * 0.3).collect();
            s.sample(&mut l, &[]).unwrap()
        })
        .collect();
    assert_eq!(
        got,
        [420, 522, 745, 884, 130, 274, 207, 59, 32, 37, 752, 955, 168, 987, 220, 209],
        "the seeded random stream changed"
    );
}

#[test]
fn top_k_keeps_k_best_and_tolerates_k_above_vocab() {
    let probs = [0.05, 0.4, 0.1, 0.3, 0.15];
    let mut s = Sampler::new(
        SamplerConfig {
            top_k: 2,
            ..plain(1)
        },
        5,
    );
    s.sample(&mut logits_of(&probs), &[]).unwrap();
    assert_eq!(candidate_ids(&s), vec![1, 3]);
    let p: Vec<(u32, f32)> = s.last_candidates().collect();
    assert_eq!(p[0].0, 1);
    assert!((p[0].1 - 0.4 / 0.7).abs() < 1e-6);
    let mut s = Sampler::new(
        SamplerConfig {
            top_k: 1000,
            ..plain(1)
        },
        5,
    );
    s.sample(&mut logits_of(&probs), &[]).unwrap();
    assert_eq!(candidate_ids(&s), vec![0, 1, 2, 3, 4]);
}

#[test]
fn top_p_keeps_smallest_prefix_reaching_p() {
    let probs = [0.15, 0.5, 0.05, 0.3];
    let case = |top_p: f32| {
        let mut s = Sampler::new(SamplerConfig { top_p, ..plain(5) }, 4);
        s.sample(&mut logits_of(&probs), &[]).unwrap();
        candidate_ids(&s)
    };
    assert_eq!(case(0.4), vec![1]);
    assert_eq!(case(0.75), vec![1, 3]);
    assert_eq!(case(0.9), vec![0, 1, 3]);
    assert_eq!(case(0.97), vec![0, 1, 2, 3]);
    assert_eq!(case(0.0), vec![1]); // always keeps at least one

    // Kept tokens are renormalised.
    let mut s = Sampler::new(
        SamplerConfig {
            top_p: 0.75,
            ..plain(5)
        },
        4,
    );
    s.sample(&mut logits_of(&probs), &[]).unwrap();
    let total: f32 = s.last_candidates().map(|(_, p)| p).sum();
    assert!((total - 1.0).abs() < 1e-6);
}

#[test]
fn min_p_keeps_tokens_above_fraction_of_best() {
    let probs = [0.15, 0.5, 0.05, 0.3];
    let case = |min_p: f32| {
        let mut s = Sampler::new(SamplerConfig { min_p, ..plain(5) }, 4);
        s.sample(&mut logits_of(&probs), &[]).unwrap();
        candidate_ids(&s)
    };
    assert_eq!(case(0.2), vec![0, 1, 3]); // threshold 0.1
    assert_eq!(case(0.5), vec![1, 3]); // threshold 0.25
    assert_eq!(case(0.05), vec![0, 1, 2, 3]);
    assert_eq!(case(1.5), vec![1]); // nothing qualifies: the best token stays
}

#[test]
fn top_p_uses_probabilities_before_min_p() {
    // llama.cpp applies top-p to the full set, then min-p. Doing min-p first and renormalising
    // would keep only {0, 1} here.
    let probs = [0.4, 0.3, 0.2, 0.1];
    let mut s = Sampler::new(
        SamplerConfig {
            top_p: 0.75,
            min_p: 0.45,
            ..plain(5)
        },
        4,
    );
    s.sample(&mut logits_of(&probs), &[]).unwrap();
    assert_eq!(candidate_ids(&s), vec![0, 1, 2]);
    // And min-p still cuts what top-p kept.
    let mut s = Sampler::new(
        SamplerConfig {
            top_p: 0.95,
            min_p: 0.6,
            ..plain(5)
        },
        4,
    );
    s.sample(&mut logits_of(&probs), &[]).unwrap();
    assert_eq!(candidate_ids(&s), vec![0, 1]);
}

#[test]
fn temperature_reshapes_the_kept_distribution() {
    let probs = [0.2, 0.8];
    let mut s = Sampler::new(
        SamplerConfig {
            temperature: 0.5,
            ..plain(1)
        },
        2,
    );
    s.sample(&mut logits_of(&probs), &[]).unwrap();
    let p: Vec<(u32, f32)> = s.last_candidates().collect();
    // softmax(l / 0.5) ∝ p^2: 0.04 : 0.64
    let p1 = p.iter().find(|(id, _)| *id == 1).unwrap().1;
    assert!((p1 - 0.64 / 0.68).abs() < 1e-6, "{p1}");
}

#[test]
fn penalties_match_llama_cpp_math() {
    let cfg = SamplerConfig {
        repeat_penalty: 2.0,
        frequency_penalty: 0.1,
        presence_penalty: 0.5,
        repeat_last_n: 4,
        ..SamplerConfig::greedy()
    };
    assert!(cfg.penalties_active());
    let mut s = Sampler::new(cfg, 5);
    let mut l = vec![2.0, -2.0, 1.0, 0.5, 0.0];
    // Window = last 4 = [1, 0, 3, 0]: token 0 ×2, token 1 ×1, token 3 ×1; 7 is out of vocab;
    // the leading 2 is outside the window.
    let tok = s.sample(&mut l, &[2, 7, 1, 0, 3, 0][..]).unwrap();
    let close = |a: f32, b: f32| (a - b).abs() < 1e-6;
    assert!(close(l[0], 2.0 / 2.0 - 2.0 * 0.1 - 0.5), "{}", l[0]);
    assert!(close(l[1], -2.0 * 2.0 - 0.1 - 0.5), "{}", l[1]);
    assert_eq!(l[2], 1.0);
    assert!(close(l[3], 0.5 / 2.0 - 0.1 - 0.5), "{}", l[3]);
    assert_eq!(l[4], 0.0);
    assert_eq!(tok, 2);
    // Scratch counts are clean: the same call again gives the same numbers.
    let mut l2 = vec![2.0, -2.0, 1.0, 0.5, 0.0];
    s.sample(&mut l2, &[2, 7, 1, 0, 3, 0][..]).unwrap();
    assert_eq!(l, l2);
    // repeat_last_n = 0 disables every penalty.
    let mut s = Sampler::new(
        SamplerConfig {
            repeat_last_n: 0,
            ..cfg
        },
        5,
    );
    let mut l = vec![2.0, -2.0, 1.0, 0.5, 0.0];
    assert_eq!(s.sample(&mut l, &[0, 0, 0]).unwrap(), 0);
    assert_eq!(l, vec![2.0, -2.0, 1.0, 0.5, 0.0]);
}

#[test]
fn draws_follow_the_softmax() {
    const N: usize = 40_000;
    let probs = [0.1, 0.2, 0.3, 0.4];
    let check = |temperature: f32, expected: [f64; 4]| {
        let mut s = Sampler::new(
            SamplerConfig {
                temperature,
                ..plain(2024)
            },
            4,
        );
        let mut counts = [0usize; 4];
        for _ in 0..N {
            counts[s.sample(&mut logits_of(&probs), &[]).unwrap() as usize] += 1;
        }
        for (i, &c) in counts.iter().enumerate() {
            let f = c as f64 / N as f64;
            // 5 standard deviations of a binomial frequency at N = 40000 is below 0.0125.
            assert!(
                (f - expected[i]).abs() < 0.0125,
                "t={temperature} token {i}: {f} vs {}",
                expected[i]
            );
        }
    };
    check(1.0, probs);
    let sq: f64 = probs.iter().map(|p| p * p).sum();
    check(0.5, probs.map(|p| p * p / sq));
}

#[test]
fn masked_tokens_are_never_sampled() {
    let mut l = vec![f32::NEG_INFINITY; 10];
    l[3] = -50.0;
    l[7] = -49.0;
    let mut s = Sampler::new(plain(3), 10);
    for _ in 0..200 {
        let t = s.sample(&mut l.clone(), &[]).unwrap();
        assert!(t == 3 || t == 7);
    }
}

#[test]
fn broken_logits_are_typed_errors() {
    let mut s = Sampler::new(SamplerConfig::default(), 4);
    let e = s.sample(&mut [0.0, f32::NAN, 1.0, 2.0], &[]).unwrap_err();
    assert!(matches!(e, SampleError::NonFinite { index: 1, step: None, value } if value.is_nan()));
    let e = s
        .sample(&mut [0.0, 1.0, f32::INFINITY, 2.0], &[])
        .unwrap_err()
        .with_step(7);
    assert!(matches!(
        e,
        SampleError::NonFinite {
            index: 2,
            step: Some(7),
            ..
        }
    ));
    let msg = e.to_string();
    assert!(msg.contains("step 7") && msg.contains("token 2"), "{msg}");
    let e = s.sample(&mut [f32::NEG_INFINITY; 4], &[]).unwrap_err();
    assert_eq!(e, SampleError::NoCandidates { step: None });
    let mut g = Sampler::new(SamplerConfig::greedy(), 4);
    let e = g.sample(&mut [f32::NEG_INFINITY; 4], &[]).unwrap_err();
    assert_eq!(e, SampleError::NoCandidates { step: None });
    let e = g.sample(&mut [1.0, f32::NAN], &[]).unwrap_err();
    assert!(matches!(e, SampleError::NonFinite { index: 1, .. }));
    let e = s.sample(&mut [], &[]).unwrap_err();
    assert_eq!(e, SampleError::EmptyVocab { step: None });
    assert!(s.last_candidates().next().is_none());
}

#[test]
fn invalid_settings_are_typed_errors() {
    for cfg in [
        SamplerConfig {
            temperature: f32::NAN,
            ..SamplerConfig::default()
        },
        SamplerConfig {
            repeat_penalty: 0.0,
            ..SamplerConfig::default()
        },
        SamplerConfig {
            frequency_penalty: f32::INFINITY,
            ..SamplerConfig::default()
        },
        SamplerConfig {
            top_p: f32::NAN,
            ..SamplerConfig::default()
        },
    ] {
        assert!(cfg.validate().is_err());
        let mut s = Sampler::new(cfg, 3);
        let e = s.sample(&mut [1.0, 2.0, 3.0], &[]).unwrap_err();
        assert!(matches!(e, SampleError::InvalidConfig { .. }), "{e}");
    }
}

#[test]
fn extreme_settings_never_panic_or_pick_impossible_tokens() {
    let mut g = Lcg(99);
    let temps = [1e-30, 1e-3, 0.7, 1.0, 3.0, 1e30, f32::INFINITY, 0.0, -1.0];
    let top_ks = [0, 1, 2, 7, 64, usize::MAX];
    let top_ps = [0.0, 1e-9, 0.5, 0.999, 1.0, 5.0, -1.0];
    let min_ps = [0.0, 0.05, 0.99, 1.0, 3.0, -1.0];
    let mut i = 0usize;
    for &temperature in &temps {
        for &top_k in &top_ks {
            for &top_p in &top_ps {
                for &min_p in &min_ps {
                    i += 1;
                    let cfg = SamplerConfig {
                        temperature,
                        top_k,
                        top_p,
                        min_p,
                        repeat_penalty: if i & 1 == 0 { 1e-3 } else { 1e3 },
                        repeat_last_n: 8,
                        frequency_penalty: -1e38,
                        presence_penalty: 1e30,
                        seed: i as u64,
                    };
                    let mut s = Sampler::new(cfg, 16);
                    let mut l = g.logits(16);
                    l[0] = f32::MAX;
                    l[1] = -f32::MAX;
                    l[2] = f32::NEG_INFINITY;
                    l[3] = f32::MAX;
                    let t = s.sample(&mut l, &[0, 1, 2, 3, 4, 0, 0, 3]).unwrap();
                    assert!(t < 16 && t != 2, "{cfg:?} -> {t}");
                    for (_, p) in s.last_candidates() {
                        assert!(p.is_finite() && (0.0..=1.0).contains(&p), "{cfg:?}");
                    }
                }
            }
        }
    }
}

#[test]
fn large_vocab_filters_agree_with_a_full_sort() {
    // The fast paths (partial selection, min-p prefilter) must keep exactly the set a
    // straightforward sort-everything implementation keeps.
    let mut g = Lcg(5);
    let n = 5000;
    for round in 0..36 {
        // Flat and peaked distributions: top-p then needs thousands of tokens, or a few dozen.
        let scale = if round % 2 == 0 { 0.6 } else { 3.0 };
        let l: Vec<f32> = g.logits(n).iter().map(|v| v * scale).collect();
        let top_k = [0, 40, 300][round % 3];
        let top_p = [0.95f32, 0.5, 1.0][(round / 2) % 3];
        let min_p = [0.05f32, 0.0, 0.2][(round / 3) % 3];
        let cfg = SamplerConfig {
            top_k,
            top_p,
            min_p,
            ..plain(round as u64)
        };
        let mut s = Sampler::new(cfg, n);
        s.sample(&mut l.clone(), &[]).unwrap();
        let got = candidate_ids(&s);

        // Reference: sort everything, apply the chain literally.
        let mut idx: Vec<usize> = (0..n).collect();
        idx.sort_by(|&a, &b| l[b].total_cmp(&l[a]).then(a.cmp(&b)));
        if top_k > 0 {
            idx.truncate(top_k);
        }
        let m = l[idx[0]] as f64;
        let w: Vec<f64> = idx.iter().map(|&i| (l[i] as f64 - m).exp()).collect();
        let z: f64 = w.iter().sum();
        let mut keep = idx.len();
        if top_p < 1.0 {
            let mut cum = 0.0;
            for (j, wj) in w.iter().enumerate() {
                cum += wj / z;
                if cum >= top_p as f64 {
                    keep = j + 1;
                    break;
                }
            }
        }
        let mut kept: Vec<u32> = idx[..keep]
            .iter()
            .zip(&w)
            .filter(|(_, &wj)| min_p <= 0.0 || wj >= min_p as f64)
            .map(|(&i, _)| i as u32)
            .collect();
        kept.sort_unstable();
        assert_eq!(got, kept, "round {round}: {cfg:?}");
    }
}

/// The definition `argmax`'s lane-parallel loop must match: the first non-NaN value that no
/// later value exceeds.
fn argmax_reference(l: &[f32]) -> Option<usize> {
    let mut best: Option<(usize, f32)> = None;
    for (i, &v) in l.iter().enumerate() {
        if v.is_nan() {
            continue;
        }
        if best.is_none_or(|(_, b)| v > b) {
            best = Some((i, v));
        }
    }
    best.map(|(i, _)| i)
}

#[test]
fn argmax_equals_the_scalar_definition_on_ties_nan_infinities_and_signed_zeros() {
    use chord_model::sampler::argmax;
    let mut g = Lcg(11);
    // Few distinct values (many ties across lanes and the tail), special values mixed in, at
    // lengths around the eight-lane chunks.
    let pool = [
        0.0,
        -0.0,
        1.5,
        -2.0,
        f32::NEG_INFINITY,
        f32::INFINITY,
        f32::NAN,
        1.5,
    ];
    for n in (0..40).chain([151_936, 262_144]) {
        for round in 0..30 {
            let l: Vec<f32> = (0..n)
                .map(|_| {
                    let r = g.next();
                    match round % 3 {
                        0 => pool[((r + 10.0) * 4.0) as usize % pool.len()],
                        // Mostly -inf and NaN: the fallback rule (first non-NaN value).
                        1 if r < 8.0 => [f32::NEG_INFINITY, f32::NAN][(r > 0.0) as usize],
                        _ => (r * 2.0).round() / 2.0,
                    }
                })
                .collect();
            assert_eq!(argmax(&l), argmax_reference(&l), "n {n} round {round}");
        }
    }
    assert_eq!(argmax(&[]), None);
    assert_eq!(argmax(&[f32::NAN; 9]), None);
    assert_eq!(argmax(&[f32::NEG_INFINITY; 17]), Some(0));
    let mut l = vec![f32::NEG_INFINITY; 17];
    l[3] = f32::NAN;
    l[16] = -1e30;
    assert_eq!(argmax(&l), Some(16));
    // -0.0 then 0.0 in different lanes: a tie, the first wins.
    let mut l = vec![-1.0; 16];
    (l[9], l[2]) = (0.0, -0.0);
    assert_eq!(argmax(&l), Some(2));
}
