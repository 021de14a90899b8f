//! Per-op timing of forward passes (`chord bench --profile`): where a step's time goes, by op
//! kind and by weight type, so the hotspots are visible. Off by default; when on, it costs two
//! clock reads per op and allocates nothing after the first step.

use chord_gguf::GgmlType;
use std::time::{Duration, Instant};

/// What an op was.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OpKind {
    /// Token embedding rows (dequantized).
    Embed,
    /// RMS norms (input, q/k, post-attention/FFN, final).
    Norm,
    /// Rotary position embedding of q and k.
    Rope,
    /// Q·K, softmax and the weighted sum of V, all heads, plus the KV cache write.
    Attention,
    /// Gated activation (SwiGLU / GeGLU), biases, residual adds, scaling.
    Elementwise,
    /// A transformer-block matrix product with weights of this type.
    Matmul(GgmlType),
    /// The LM head (output projection to the vocabulary).
    Output(GgmlType),
}

impl OpKind {
    pub fn label(&self) -> String {
        match self {
            OpKind::Embed => "embedding".into(),
            OpKind::Norm => "rms_norm".into(),
            OpKind::Rope => "rope".into(),
            OpKind::Attention => "attention".into(),
            OpKind::Elementwise => "activation/residual".into(),
            OpKind::Matmul(t) => format!("matmul {t}"),
            OpKind::Output(t) => format!("output projection {t}"),
        }
    }
}

/// Accumulated time per op kind.
#[derive(Clone, Debug, Default)]
pub struct Profile {
    entries: Vec<(OpKind, u64, Duration)>,
}

impl Profile {
    pub fn add(&mut self, kind: OpKind, d: Duration) {
        match self.entries.iter_mut().find(|e| e.0 == kind) {
            Some(e) => {
                e.1 += 1;
                e.2 += d;
            }
            None => self.entries.push((kind, 1, d)),
        }
    }
    /// `(kind, calls, total time)`, largest total first.
    pub fn entries(&self) -> Vec<(OpKind, u64, Duration)> {
        let mut v = self.entries.clone();
        v.sort_by_key(|e| std::cmp::Reverse(e.2));
        v
    }
    pub fn total(&self) -> Duration {
        self.entries.iter().map(|e| e.2).sum()
    }
    pub fn clear(&mut self) {
        self.entries.clear();
    }
}

/// A timer start if profiling is on.
#[inline]
pub(crate) fn start(p: &Option<Profile>) -> Option<Instant> {
    p.as_ref().map(|_| Instant::now())
}

/// Adds the time since `t0` to `kind`.
#[inline]
pub(crate) fn stop(p: &mut Option<Profile>, kind: OpKind, t0: Option<Instant>) {
    if let (Some(p), Some(t0)) = (p.as_mut(), t0) {
        p.add(kind, t0.elapsed());
    }
}

/// Splits the time of one dispatch over several matrices by their byte sizes (they run
/// interleaved in one dispatch, and their cost is proportional to the bytes streamed).
pub(crate) fn stop_split(
    p: &mut Option<Profile>,
    parts: &[(GgmlType, usize)],
    t0: Option<Instant>,
) {
    if let (Some(p), Some(t0)) = (p.as_mut(), t0) {
        let d = t0.elapsed();
        let total: usize = parts.iter().map(|x| x.1).sum::<usize>().max(1);
        for &(ty, bytes) in parts {
            p.add(OpKind::Matmul(ty), d.mul_f64(bytes as f64 / total as f64));
        }
    }
}
