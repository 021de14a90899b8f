//! A debugging aid for comparing our forward pass with llama.cpp tensor by tensor
//! (`tools/llama_dump`): with `CHORD_DUMP_DIR` set, every named intermediate of every forward
//! pass is written to `DIR/<name>-<layer>.bin` as little-endian f32 (last write wins, as
//! llama.cpp's dump does). Unset, each call costs one load of a cached flag.

use std::path::PathBuf;
use std::sync::OnceLock;

fn dir() -> Option<&'static PathBuf> {
    static DIR: OnceLock<Option<PathBuf>> = OnceLock::new();
    DIR.get_or_init(|| std::env::var_os("CHORD_DUMP_DIR").map(PathBuf::from))
        .as_ref()
}

/// Writes `data` as `<name>-<layer>.bin` when dumping is on; errors are reported, not fatal.
pub(crate) fn tensor(name: &str, layer: usize, data: &[f32]) {
    if let Some(dir) = dir() {
        let bytes: Vec<u8> = data.iter().flat_map(|v| v.to_le_bytes()).collect();
        let path = dir.join(format!("{name}-{layer}.bin"));
        if let Err(e) = std::fs::write(&path, bytes) {
            eprintln!("CHORD_DUMP_DIR: {}: {e}", path.display());
        }
    }
}
