//! Shared by the workspace's tests: where the tiny fixtures, the real models and the llama.cpp
//! reference outputs are. A missing file fails the test with the command that fetches it; nothing
//! here skips.

use std::path::{Path, PathBuf};

/// The workspace root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `$CHORD_FIXTURES` if set, else `<repo>/../shared/fixtures` (where CI has them).
pub fn fixtures_dir() -> PathBuf {
    match std::env::var_os("CHORD_FIXTURES") {
        Some(d) => PathBuf::from(d),
        None => repo_root().join("../shared/fixtures"),
    }
}

/// A fixture file (e.g. `tiny-llama-q4_0.gguf`); fails the test with a hint if missing.
pub fn fixture(file: &str) -> PathBuf {
    let p = fixtures_dir().join(file);
    assert!(
        p.is_file(),
        "fixture {} not found: set CHORD_FIXTURES to the folder of the tiny-llama-*.gguf files \
         (default <repo>/../shared/fixtures)",
        p.display()
    );
    p
}

/// A real model by known name or file name, from the model cache (`$CHORD_HOME/models` or
/// `~/.cache/wasm-chord/models`); fails the test saying `chord pull NAME` if it is not there.
pub fn model(name: &str) -> PathBuf {
    chord_hub::resolve(name)
        .unwrap_or_else(|e| panic!("{e} (scripts/setup.sh fetches all test models)"))
}

/// A llama.cpp reference file under `tests/data/reference/` (e.g. `tiny/tiny-llama-f32.json`).
pub fn reference(rel: &str) -> serde_json::Value {
    let p = repo_root().join("tests/data/reference").join(rel);
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}
