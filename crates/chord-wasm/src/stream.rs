//! Layer streaming in WebAssembly: the model file stays outside wasm memory and the engine reads
//! the ranges it needs through a JS object with a *synchronous* `readAt(offset, dst)` (wasm
//! cannot wait for a promise): `fs.readSync` on a Node file descriptor, `FileReaderSync` on
//! `Blob.slice` in a Worker, or a synchronous XHR with a `Range` header. At most `budget` bytes of
//! weights are resident (see `chord_model::stream`); there are no threads here, so nothing is
//! prefetched: each unit is read when the forward pass reaches it.

use crate::model::Model;
use chord_engine::{Engine, EngineOptions};
use chord_gguf::RangeSource;
use chord_model::{ModelFile, StreamOptions};
use std::sync::Arc;
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    /// The JS side's reader (`bindings/js/src/ranges.js`).
    pub type RangeReader;
    /// Fills `dst` with the file's bytes at `offset`; returns an error message, or nothing.
    /// It must not throw (the JS wrapper catches), so no JS exception unwinds through Rust.
    #[wasm_bindgen(method, js_name = readAt)]
    fn read_at(this: &RangeReader, offset: f64, dst: &mut [u8]) -> Option<String>;
}

struct JsSource {
    reader: RangeReader,
    len: u64,
}

// SAFETY: chord-wasm is built for wasm32/wasm64 without the `atomics` feature: one thread, so the
// reader is never touched from two threads. (The store's prefetch thread is not spawned on
// wasm32.) Natively this type is never built: `load_streamed` is only exported to JS.
unsafe impl Send for JsSource {}
unsafe impl Sync for JsSource {}

impl RangeSource for JsSource {
    fn len(&self) -> u64 {
        self.len
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
        match self.reader.read_at(offset as f64, buf) {
            None => Ok(()),
            Some(msg) => Err(std::io::Error::other(msg)),
        }
    }
}

/// Loads a model for layer streaming: `size` is the file's length, `budget` the most bytes of
/// weights held in wasm memory at once (every layer must fit).
#[wasm_bindgen(js_name = loadStreamed)]
pub fn load_streamed(reader: RangeReader, size: f64, budget: f64) -> Result<Model, JsError> {
    let whole = |n: f64, what: &str| {
        if n.is_finite() && n >= 1.0 && n.fract() == 0.0 && n <= 2f64.powi(53) {
            Ok(n as u64)
        } else {
            Err(JsError::new(&format!(
                "{what} {n} is not a positive whole number of bytes"
            )))
        }
    };
    let src = JsSource {
        reader,
        len: whole(size, "model size")?,
    };
    let opts = StreamOptions {
        budget: whole(budget, "stream budget")?,
        prefetch: 0,
    };
    let file = ModelFile::stream(Arc::new(src), opts)
        .map_err(|e| JsError::new(&format!("not a usable GGUF model: {e}")))?;
    let engine = Engine::from_file(
        file,
        &EngineOptions {
            n_threads: 1,
            ..EngineOptions::default()
        },
    )
    .map_err(|e| JsError::new(&format!("cannot load the model: {e}")))?;
    Ok(Model::new(engine))
}
