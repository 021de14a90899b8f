//! The dispatch trace: `CHORD_TRACE_DISPATCH=1` prints one line per matrix product to stderr
//! (weight, type, shape, tokens, GPU kernel), as chord-cpu's does, so it can be shown that every
//! weight runs on a quantized GPU kernel. `RUST_LOG=chord_gpu=trace` gives the same via tracing.

use crate::weights::GpuMatrix;
use std::sync::OnceLock;

fn enabled() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| {
        std::env::var("CHORD_TRACE_DISPATCH").is_ok_and(|v| !v.is_empty() && v != "0")
    })
}

pub(crate) fn matmul(w: &GpuMatrix, n_tokens: usize, kernel: &str) {
    tracing::trace!(target: "chord_gpu", weight = %w.name, ty = %w.ty, rows = w.rows, cols = w.cols, n_tokens, kernel, parts = w.parts.len(), "matmul");
    if enabled() {
        eprintln!(
            "chord_gpu dispatch: matmul weight={} ty={} rows={} cols={} n_tokens={} kernel={}/wgsl parts={}",
            w.name,
            w.ty,
            w.rows,
            w.cols,
            n_tokens,
            kernel,
            w.parts.len()
        );
    }
}
