//! The dispatch trace: `CHORD_TRACE_DISPATCH=1` prints one line per matrix product to stderr
//! (weight, type, shape, tokens, kernel), so it can be shown that every weight runs on a
//! quantized kernel and none falls back to F32. (`RUST_LOG=chord_cpu=trace` gives the same
//! through `tracing` when the program installs a subscriber.)

use chord_model::MatRef;
use std::sync::OnceLock;

pub(crate) fn enabled() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| {
        std::env::var("CHORD_TRACE_DISPATCH").is_ok_and(|v| !v.is_empty() && v != "0")
    })
}

pub(crate) fn line(w: &MatRef<'_>, n_tokens: usize, kernel: &str) {
    eprintln!(
        "chord_cpu dispatch: matmul weight={} ty={} rows={} cols={} n_tokens={} kernel={}",
        w.name, w.ty, w.rows, w.cols, n_tokens, kernel
    );
}
