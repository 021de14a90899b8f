//! Token sampling: llama.cpp's default sampler chain, reproducible from a seed.
//!
//! The chain is the one `common_sampler` builds with default settings (DRY, typical-p, XTC and
//! top-n-sigma are off by default there and are not implemented here):
//!
//! ```text
//! penalties → top-k → top-p → min-p → temperature → draw from the distribution
//! ```
//!
//! - **penalties** (only when `repeat_last_n > 0` and at least one penalty is active): for each
//!   distinct token among the last `repeat_last_n` entries of `history`, a positive logit is
//!   divided by `repeat_penalty`, a non-positive one multiplied by it, then
//!   `count * frequency_penalty + presence_penalty` is subtracted (`count` = occurrences in the
//!   window). `history` is whatever the caller passes: llama.cpp feeds the prompt tokens as well
//!   as generated ones into this window.
//! - **top-k** keeps the `top_k` highest logits (`0` = off; `top_k >= n_vocab` keeps all).
//! - **top-p** keeps the smallest prefix of the candidates sorted by probability whose
//!   cumulative probability reaches `top_p` (`>= 1` = off); probabilities are the softmax of
//!   the logits left by top-k, *before* temperature, as in llama.cpp.
//! - **min-p** keeps candidates whose probability is at least `min_p` times the largest one
//!   (`<= 0` = off). At least one candidate (the most likely) always survives.
//! - **temperature** divides the logits; the draw samples from their softmax.
//! - `temperature <= 0` is greedy: the argmax of the (penalised) logits, lowest token id on ties,
//!   and no random number is consumed.
//!
//! Determinism: the random source is xoshiro256** seeded through splitmix64, the exponential is
//! computed with a fixed polynomial in `f64` using only IEEE-exact basic operations (never the
//! platform's `libm`), and candidates are always visited in a canonical order (token id order,
//! or sorted by logit descending then id ascending). The same seed, settings, logits and history
//! therefore give the same tokens on every run and every platform (native and wasm32). The
//! random stream differs from llama.cpp's (`std::mt19937`), so seeded samples do not match
//! llama.cpp token for token; greedy decoding does.
//!
//! [`Sampler::sample`] allocates nothing once the scratch buffers have reached the vocabulary
//! size (they are preallocated by [`Sampler::new`]).

use std::cmp::Ordering;
use std::fmt;

/// The seed used by [`SamplerConfig::default`]. llama.cpp picks a random seed by default; we
/// use a fixed one so that runs reproduce unless the caller asks for something else.
pub const DEFAULT_SEED: u64 = 0x5EED_C0DE;

/// Sampling settings. `Default` gives llama.cpp's defaults (`common_params_sampling`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SamplerConfig {
    /// `<= 0` selects greedy decoding (argmax).
    pub temperature: f32,
    /// Keep the `top_k` most likely tokens; `0` disables.
    pub top_k: usize,
    /// Nucleus sampling threshold; `>= 1` disables.
    pub top_p: f32,
    /// Minimum probability relative to the most likely token; `<= 0` disables.
    pub min_p: f32,
    /// Repetition penalty; `1` disables. Must be finite and `> 0`.
    pub repeat_penalty: f32,
    /// How many of the most recent history tokens the penalties look at; `0` disables all
    /// penalties.
    pub repeat_last_n: usize,
    /// Subtracted once per occurrence in the window; `0` disables. Must be finite.
    pub frequency_penalty: f32,
    /// Subtracted once if the token occurs in the window; `0` disables. Must be finite.
    pub presence_penalty: f32,
    /// Seed of the random stream.
    pub seed: u64,
}

impl Default for SamplerConfig {
    fn default() -> Self {
        SamplerConfig {
            temperature: 0.8,
            top_k: 40,
            top_p: 0.95,
            min_p: 0.05,
            repeat_penalty: 1.0,
            repeat_last_n: 64,
            frequency_penalty: 0.0,
            presence_penalty: 0.0,
            seed: DEFAULT_SEED,
        }
    }
}

impl SamplerConfig {
    /// Greedy decoding: argmax, no filters, no penalties.
    pub fn greedy() -> Self {
        SamplerConfig {
            temperature: 0.0,
            top_k: 0,
            top_p: 1.0,
            min_p: 0.0,
            repeat_penalty: 1.0,
            repeat_last_n: 0,
            frequency_penalty: 0.0,
            presence_penalty: 0.0,
            seed: DEFAULT_SEED,
        }
    }

    /// Checks the settings the way llama.cpp does (NaN thresholds are rejected too).
    pub fn validate(&self) -> Result<(), SampleError> {
        let bad = |what: &'static str, value: f32| {
            Err(SampleError::InvalidConfig {
                what,
                value: value.to_string(),
            })
        };
        if self.temperature.is_nan() {
            return bad("temperature must not be NaN", self.temperature);
        }
        if self.top_p.is_nan() {
            return bad("top_p must not be NaN", self.top_p);
        }
        if self.min_p.is_nan() {
            return bad("min_p must not be NaN", self.min_p);
        }
        if !self.repeat_penalty.is_finite()
            || self.repeat_penalty <= 0.0
            || !(1.0 / self.repeat_penalty).is_finite()
        {
            return bad(
                "repeat_penalty must be finite and greater than 0",
                self.repeat_penalty,
            );
        }
        if !self.frequency_penalty.is_finite() {
            return bad("frequency_penalty must be finite", self.frequency_penalty);
        }
        if !self.presence_penalty.is_finite() {
            return bad("presence_penalty must be finite", self.presence_penalty);
        }
        Ok(())
    }

    /// Whether the penalty stage changes anything (llama.cpp's `is_disabled`, negated).
    pub fn penalties_active(&self) -> bool {
        self.repeat_last_n > 0
            && (self.repeat_penalty != 1.0
                || self.frequency_penalty != 0.0
                || self.presence_penalty != 0.0)
    }
}

/// Why no token could be sampled.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum SampleError {
    /// A logit is NaN or +inf (the model's output is broken). `index` is the token id.
    #[error("{}the logit of token {index} is {value}: the model produced a non-finite value", StepPrefix(*.step))]
    NonFinite {
        index: usize,
        value: f32,
        /// The generation step, if the caller attached it with [`SampleError::with_step`].
        step: Option<u64>,
    },
    /// Every logit is -inf, so every token has probability zero.
    #[error("{}every logit is -inf: no token can be sampled", StepPrefix(*.step))]
    NoCandidates { step: Option<u64> },
    /// The logits slice is empty.
    #[error("{}the logits are empty: there is no token to sample", StepPrefix(*.step))]
    EmptyVocab { step: Option<u64> },
    /// A setting is out of range.
    #[error("invalid sampler setting: {what} (got {value})")]
    InvalidConfig { what: &'static str, value: String },
}

impl SampleError {
    /// Attaches the generation step so that the message names it.
    pub fn with_step(mut self, at: u64) -> Self {
        match &mut self {
            SampleError::NonFinite { step, .. }
            | SampleError::NoCandidates { step }
            | SampleError::EmptyVocab { step } => *step = Some(at),
            SampleError::InvalidConfig { .. } => {}
        }
        self
    }

    /// The generation step attached with [`SampleError::with_step`], if any.
    pub fn step(&self) -> Option<u64> {
        match self {
            SampleError::NonFinite { step, .. }
            | SampleError::NoCandidates { step }
            | SampleError::EmptyVocab { step } => *step,
            SampleError::InvalidConfig { .. } => None,
        }
    }
}

struct StepPrefix(Option<u64>);

impl fmt::Display for StepPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(s) => write!(f, "at generation step {s}: "),
            None => Ok(()),
        }
    }
}

/// One candidate token: id, logit, and unnormalised probability once computed.
#[derive(Clone, Copy, Debug)]
struct Cand {
    id: u32,
    logit: f32,
    p: f64,
}

/// Descending logit, then ascending id: a total order, so sorting is canonical.
/// (Logits are never NaN here; -0.0 and 0.0 compare equal, as with `<`.)
fn by_logit_desc(a: &Cand, b: &Cand) -> Ordering {
    b.logit
        .partial_cmp(&a.logit)
        .unwrap_or(Ordering::Equal)
        .then(a.id.cmp(&b.id))
}

/// How many of the best candidates top-p sorts before falling back to sorting all of them.
const TOP_P_FIRST_TRY: usize = 256;

/// The length of the shortest prefix of `sorted` whose probability (`p / z`) reaches `top_p`.
fn top_p_cut(sorted: &[Cand], z: f64, top_p: f64) -> Option<usize> {
    let mut cum = 0.0f64;
    for (i, c) in sorted.iter().enumerate() {
        cum += c.p / z;
        if cum >= top_p {
            return Some(i + 1);
        }
    }
    None
}

/// Whether `a` ranks after `b` in the canonical order.
fn worse(a: &Cand, b: &Cand) -> bool {
    by_logit_desc(a, b) == Ordering::Greater
}

/// Token id of a logit index (vocabularies are far below 2^32 tokens; saturate, never wrap).
fn token_id(i: usize) -> u32 {
    u32::try_from(i).unwrap_or(u32::MAX)
}

/// Samples tokens from logits. Holds the random stream and scratch buffers.
#[derive(Clone, Debug)]
pub struct Sampler {
    cfg: SamplerConfig,
    rng: Xoshiro256StarStar,
    cands: Vec<Cand>,
    /// Sum of the `p` of `cands` after the last draw (normaliser for `last_candidates`).
    cands_sum: f64,
    counts: Vec<u32>,
}

impl Sampler {
    /// A sampler for a vocabulary of `n_vocab` tokens (the scratch buffers are sized for it;
    /// logits of another length still work, the buffers grow once).
    pub fn new(cfg: SamplerConfig, n_vocab: usize) -> Self {
        Sampler {
            cfg,
            rng: Xoshiro256StarStar::seed_from_u64(cfg.seed),
            cands: Vec::with_capacity(n_vocab),
            cands_sum: 0.0,
            counts: vec![0; if cfg.penalties_active() { n_vocab } else { 0 }],
        }
    }

    pub fn config(&self) -> &SamplerConfig {
        &self.cfg
    }

    /// Restarts the random stream from `seed` (and records it in the config).
    pub fn reseed(&mut self, seed: u64) {
        self.cfg.seed = seed;
        self.rng = Xoshiro256StarStar::seed_from_u64(seed);
    }

    /// Restarts the random stream from the configured seed.
    pub fn reset(&mut self) {
        self.rng = Xoshiro256StarStar::seed_from_u64(self.cfg.seed);
    }

    /// Picks the next token. `logits` has one entry per token id and is modified in place
    /// (penalties are applied to it, as llama.cpp does to its candidate array). `history` is
    /// the token sequence so far; only its last `repeat_last_n` entries matter, and ids outside
    /// the vocabulary are ignored.
    ///
    /// Errors: NaN or +inf logits, all logits -inf, empty logits, invalid settings. Never
    /// panics.
    pub fn sample(&mut self, logits: &mut [f32], history: &[u32]) -> Result<u32, SampleError> {
        self.cands.clear();
        self.cands_sum = 0.0;
        self.cfg.validate()?;
        if logits.is_empty() {
            return Err(SampleError::EmptyVocab { step: None });
        }
        // A branch-free scan first (it vectorizes; a batched server step runs it for every
        // row of 151936+ logits), the index only when there is something to report.
        if has_nan_or_inf(logits) {
            let Some((index, &value)) = logits
                .iter()
                .enumerate()
                .find(|(_, v)| v.is_nan() || **v == f32::INFINITY)
            else {
                return Err(SampleError::NoCandidates { step: None });
            };
            return Err(SampleError::NonFinite {
                index,
                value,
                step: None,
            });
        }
        if self.cfg.penalties_active() {
            self.apply_penalties(logits, history);
        }

        if self.cfg.temperature <= 0.0 {
            let (id, logit) = greedy(logits)?;
            self.cands.push(Cand { id, logit, p: 1.0 });
            self.cands_sum = 1.0;
            return Ok(id);
        }

        // Candidates (-inf logits have probability zero and are dropped), then top-k: either
        // the k best in canonical sorted order, or every token in id order.
        let k = self.cfg.top_k;
        let sorted = k > 0 && k < logits.len();
        if sorted {
            self.select_top_k(logits, k);
            self.cands.sort_unstable_by(by_logit_desc);
        } else {
            for (i, &logit) in logits.iter().enumerate() {
                if logit != f32::NEG_INFINITY {
                    self.cands.push(Cand {
                        id: token_id(i),
                        logit,
                        p: 0.0,
                    });
                }
            }
        }
        if self.cands.is_empty() {
            return Err(SampleError::NoCandidates { step: None });
        }

        let max_logit = if sorted {
            self.cands[0].logit
        } else {
            self.cands
                .iter()
                .map(|c| c.logit)
                .fold(f32::NEG_INFINITY, f32::max)
        };
        let top_p = f64::from(self.cfg.top_p);
        let min_p = f64::from(self.cfg.min_p);
        if top_p < 1.0 || min_p > 0.0 {
            for c in self.cands.iter_mut() {
                c.p = exp_det(f64::from(c.logit) - f64::from(max_logit));
            }
        }

        // top-p needs the normaliser of the set left by top-k (before min-p removes anything).
        let z: f64 = if top_p < 1.0 {
            self.cands.iter().map(|c| c.p).sum()
        } else {
            1.0
        };

        // min-p keeps a prefix of the sorted order, so it can run first as a filter: top-p
        // below then walks the same prefix it would have walked over the full set, with the
        // full set's normaliser, and stops at the end of the min-p set at the latest. This
        // gives exactly top-p followed by min-p without sorting the whole vocabulary.
        if min_p > 0.0 {
            let best = self.argmax_cand();
            self.cands.retain(|c| c.p >= min_p);
            if self.cands.is_empty() {
                // min_p > 1: llama.cpp keeps the single most likely token.
                self.cands.push(best);
            }
        }

        if top_p < 1.0 {
            let mut keep = None;
            if !sorted {
                // Usually a few hundred tokens reach top_p: sort only the best ones first
                // (the order of a prefix selected this way is canonical: the order is total).
                let m = TOP_P_FIRST_TRY.min(self.cands.len());
                if m < self.cands.len() {
                    self.cands.select_nth_unstable_by(m - 1, by_logit_desc);
                }
                self.cands[..m].sort_unstable_by(by_logit_desc);
                keep = top_p_cut(&self.cands[..m], z, top_p);
                if keep.is_none() && m < self.cands.len() {
                    self.cands.sort_unstable_by(by_logit_desc);
                }
            }
            let keep = match keep {
                Some(k) => k,
                None => top_p_cut(&self.cands, z, top_p).unwrap_or(self.cands.len()),
            };
            self.cands.truncate(keep);
        }

        // temperature, then softmax and the draw. (l - max) / t in f64 cannot overflow.
        let t = f64::from(self.cfg.temperature);
        let mut sum = 0.0f64;
        for c in self.cands.iter_mut() {
            c.p = exp_det((f64::from(c.logit) - f64::from(max_logit)) / t);
            sum += c.p;
        }
        self.cands_sum = sum;
        let target = self.rng.next_f64() * sum;
        let mut acc = 0.0f64;
        let mut last_positive = None;
        for c in &self.cands {
            if c.p > 0.0 {
                acc += c.p;
                last_positive = Some(c.id);
                if acc > target {
                    return Ok(c.id);
                }
            }
        }
        // Rounding left the target just above the total: take the last possible token. The
        // most likely token has p = 1, so there is always one.
        last_positive.ok_or(SampleError::NoCandidates { step: None })
    }

    /// The candidates that survived the filters in the last [`Sampler::sample`] call, with
    /// their final probabilities (after temperature; they sum to 1), in the order the draw
    /// visited them. After a greedy step this is just the chosen token with probability 1.
    pub fn last_candidates(&self) -> impl Iterator<Item = (u32, f32)> + '_ {
        let sum = self.cands_sum;
        self.cands
            .iter()
            .take(if sum > 0.0 { usize::MAX } else { 0 })
            .map(move |c| (c.id, (c.p / sum) as f32))
    }

    /// The candidate with the highest logit (lowest id on ties). `cands` is non-empty here.
    fn argmax_cand(&self) -> Cand {
        let mut best = self.cands[0];
        for c in &self.cands[1..] {
            if by_logit_desc(c, &best) == Ordering::Less {
                best = *c;
            }
        }
        best
    }

    /// Fills `cands` with the `k` best finite logits (in heap order) using a bounded min-heap
    /// whose root is the worst kept candidate: one comparison per token for most tokens.
    fn select_top_k(&mut self, logits: &[f32], k: usize) {
        let heap = &mut self.cands;
        for (i, &logit) in logits.iter().enumerate() {
            if logit == f32::NEG_INFINITY {
                continue;
            }
            let c = Cand {
                id: token_id(i),
                logit,
                p: 0.0,
            };
            if heap.len() < k {
                heap.push(c);
                let mut j = heap.len() - 1;
                while j > 0 {
                    let parent = (j - 1) / 2;
                    if worse(&heap[j], &heap[parent]) {
                        heap.swap(j, parent);
                        j = parent;
                    } else {
                        break;
                    }
                }
            } else if logit > heap[0].logit {
                // Ids arrive in increasing order, so an equal logit never beats the root.
                heap[0] = c;
                let mut j = 0;
                loop {
                    let (l, r) = (2 * j + 1, 2 * j + 2);
                    let mut w = j;
                    if l < heap.len() && worse(&heap[l], &heap[w]) {
                        w = l;
                    }
                    if r < heap.len() && worse(&heap[r], &heap[w]) {
                        w = r;
                    }
                    if w == j {
                        break;
                    }
                    heap.swap(j, w);
                    j = w;
                }
            }
        }
    }

    fn apply_penalties(&mut self, logits: &mut [f32], history: &[u32]) {
        let n = logits.len();
        if self.counts.len() < n {
            self.counts.resize(n, 0);
        }
        let window = &history[history.len().saturating_sub(self.cfg.repeat_last_n)..];
        for &t in window {
            if let Some(c) = self.counts.get_mut(t as usize) {
                *c = c.saturating_add(1);
            }
        }
        let (rp, freq, pres) = (
            self.cfg.repeat_penalty,
            self.cfg.frequency_penalty,
            self.cfg.presence_penalty,
        );
        // Each distinct token is penalised once; its count is reset when visited so the
        // buffer is all zeros again afterwards.
        for &t in window {
            let t = t as usize;
            let count = match self.counts.get_mut(t) {
                Some(c) if *c > 0 && t < n => std::mem::take(c),
                _ => continue,
            };
            let l = &mut logits[t];
            if *l <= 0.0 {
                *l *= rp;
            } else {
                *l /= rp;
            }
            *l -= count as f32 * freq + pres;
            if *l == f32::INFINITY {
                // A huge negative penalty overflowed: stay finite.
                *l = f32::MAX;
            }
        }
    }
}

/// Argmax over the logits, lowest id on ties (llama.cpp's greedy sampler); all `-inf` (or
/// empty) is an error. NaN is rejected by [`Sampler::sample`] before this runs.
fn greedy(logits: &[f32]) -> Result<(u32, f32), SampleError> {
    match argmax(logits) {
        Some(i) if logits[i] != f32::NEG_INFINITY => Ok((token_id(i), logits[i])),
        _ => Err(SampleError::NoCandidates { step: None }),
    }
}

/// The index of the largest value: the first one on ties (so the lowest token id, as the
/// greedy sampler and llama.cpp pick); NaN is never chosen; `-0.0` and `0.0` tie. `None` for an
/// empty slice or one of NaN only. Infinities are ordinary values here (all `-inf` gives index
/// 0); [`Sampler::sample`] is the checked path that rejects NaN/+inf logits with an error.
pub fn argmax(logits: &[f32]) -> Option<usize> {
    // Eight lanes, each keeping its first strict maximum and where it was (selects, no
    // branches, so the loop vectorizes); then the lanes and the tail are merged, ties going to
    // the lowest index. NaN is never greater than anything, so it is skipped as in the scalar
    // loop; only a slice whose best is `-inf` (or empty, or all NaN) needs that loop's rule
    // that the first non-NaN value counts.
    const L: usize = 8;
    if logits.len() > u32::MAX as usize {
        return argmax_scalar(logits);
    }
    let chunks = logits.chunks_exact(L);
    let tail = chunks.remainder();
    let mut mx = [f32::NEG_INFINITY; L];
    let mut ix = [0u32; L];
    for (c, ch) in chunks.enumerate() {
        for k in 0..L {
            let v = ch[k];
            let better = v > mx[k];
            mx[k] = if better { v } else { mx[k] };
            ix[k] = if better { c as u32 } else { ix[k] };
        }
    }
    let mut best: Option<(usize, f32)> = None;
    for k in 0..L {
        if mx[k] == f32::NEG_INFINITY {
            continue;
        }
        let i = ix[k] as usize * L + k;
        match best {
            Some((bi, b)) if mx[k] < b || (mx[k] == b && bi < i) => {}
            _ => best = Some((i, mx[k])),
        }
    }
    let base = logits.len() - tail.len();
    for (i, &l) in (base..).zip(tail) {
        if best.is_none_or(|(_, b)| l > b) && l > f32::NEG_INFINITY {
            best = Some((i, l));
        }
    }
    match best {
        Some((i, _)) => Some(i),
        None => argmax_scalar(logits),
    }
}

/// [`argmax`] one value at a time (the definition; the fast path's fallback).
fn argmax_scalar(logits: &[f32]) -> Option<usize> {
    let mut best: Option<(usize, f32)> = None;
    for (i, &l) in logits.iter().enumerate() {
        if l.is_nan() {
            continue;
        }
        match best {
            Some((_, b)) if l <= b => {}
            _ => best = Some((i, l)),
        }
    }
    best.map(|(i, _)| i)
}

/// Whether any value is NaN or `+inf`, without branching per value (so it vectorizes).
fn has_nan_or_inf(logits: &[f32]) -> bool {
    logits.chunks(64).any(|ch| {
        ch.iter()
            .fold(false, |bad, &v| bad | v.is_nan() | (v == f32::INFINITY))
    })
}

/// `e^x`, bit-identical on every platform: range reduction by ln 2 and a degree-12 Taylor
/// polynomial, using only `+ - * /` and `round` (all exactly specified by IEEE 754), never the
/// platform's `libm`. Relative error about 1e-15. Values below `e^-708` are flushed to zero
/// (they are irrelevant as probabilities).
pub fn exp_det(x: f64) -> f64 {
    // fdlibm's split of ln 2: the high part has trailing zero bits so k * LN2_HI is exact.
    const LN2_HI: f64 = 0.693_147_180_369_123_8; // bits 0x3FE62E42FEE00000
    const LN2_LO: f64 = 1.908_214_929_270_587_7e-10; // bits 0x3DEA39EF35793C76
    const LOG2_E: f64 = std::f64::consts::LOG2_E;
    if x.is_nan() {
        return f64::NAN;
    }
    if x > 709.0 {
        return f64::INFINITY;
    }
    if x < -708.0 {
        return 0.0;
    }
    let k = (x * LOG2_E).round();
    let r = (x - k * LN2_HI) - k * LN2_LO;
    // Horner form of sum_{i=0}^{12} r^i / i!
    const INV_FACT: [f64; 13] = [
        1.0,
        1.0,
        1.0 / 2.0,
        1.0 / 6.0,
        1.0 / 24.0,
        1.0 / 120.0,
        1.0 / 720.0,
        1.0 / 5_040.0,
        1.0 / 40_320.0,
        1.0 / 362_880.0,
        1.0 / 3_628_800.0,
        1.0 / 39_916_800.0,
        1.0 / 479_001_600.0,
    ];
    let mut poly = INV_FACT[12];
    for &c in INV_FACT[..12].iter().rev() {
        poly = poly * r + c;
    }
    // k is in [-1022, 1023] for x in [-708, 709], so 2^k is a normal number.
    let scale = f64::from_bits(((k as i64 + 1023) as u64) << 52);
    poly * scale
}

/// xoshiro256** (Blackman & Vigna), seeded through splitmix64.
#[derive(Clone, Debug)]
struct Xoshiro256StarStar {
    s: [u64; 4],
}

impl Xoshiro256StarStar {
    fn seed_from_u64(seed: u64) -> Self {
        let mut sm = seed;
        let mut next = || {
            sm = sm.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = sm;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        // splitmix64 never yields four zeros in a row, so the state is valid.
        Xoshiro256StarStar {
            s: [next(), next(), next(), next()],
        }
    }

    fn next_u64(&mut self) -> u64 {
        let s = &mut self.s;
        let result = s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// Uniform in [0, 1) with 53 random bits.
    fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argmax_first_wins_on_ties_and_skips_nan() {
        let nan = f32::NAN;
        assert_eq!(argmax(&[]), None);
        assert_eq!(argmax(&[nan, nan]), None);
        assert_eq!(argmax(&[1.0, 3.0, 2.0]), Some(1));
        assert_eq!(
            argmax(&[1.0, 3.0, 3.0, 2.0]),
            Some(1),
            "first index on a tie"
        );
        assert_eq!(argmax(&[-0.0, 0.0]), Some(0), "-0 and 0 tie");
        assert_eq!(
            argmax(&[nan, 1.0, nan, 2.0, nan]),
            Some(3),
            "NaN never chosen"
        );
        assert_eq!(argmax(&[nan, -1.0]), Some(1), "a NaN first does not stick");
        assert_eq!(argmax(&[f32::NEG_INFINITY; 3]), Some(0));
        assert_eq!(argmax(&[1.0, f32::INFINITY, f32::INFINITY]), Some(1));
        assert_eq!(argmax(&[f32::MIN, f32::NEG_INFINITY]), Some(0));
    }

    #[test]
    fn exp_det_matches_std() {
        let mut x = -700.0f64;
        while x <= 700.0 {
            let a = exp_det(x);
            let b = x.exp();
            assert!(((a - b) / b).abs() < 4e-15, "x={x} {a} {b}");
            x += 0.37;
        }
        assert_eq!(exp_det(0.0), 1.0);
        // The reduction constants are fdlibm's exact bit patterns.
        assert_eq!(0.693_147_180_369_123_8f64.to_bits(), 0x3FE6_2E42_FEE0_0000);
        assert_eq!(
            1.908_214_929_270_587_7e-10f64.to_bits(),
            0x3DEA_39EF_3579_3C76
        );
        assert_eq!(exp_det(-1000.0), 0.0);
        assert_eq!(exp_det(f64::NEG_INFINITY), 0.0);
    }

    #[test]
    fn xoshiro_reference_values() {
        // Reference outputs of the C implementation (xoshiro256starstar.c) from state 1,2,3,4.
        let mut r = Xoshiro256StarStar { s: [1, 2, 3, 4] };
        let got: Vec<u64> = (0..4).map(|_| r.next_u64()).collect();
        assert_eq!(got, [11520, 0, 1509978240, 1215971899390074240]);
        // splitmix64(0)'s first output (reference value of splitmix64.c).
        let r = Xoshiro256StarStar::seed_from_u64(0);
        assert_eq!(r.s[0], 0xE220_A839_7B1D_CDAF);
        let mut r = Xoshiro256StarStar::seed_from_u64(0);
        for _ in 0..1000 {
            let f = r.next_f64();
            assert!((0.0..1.0).contains(&f));
        }
    }
}
